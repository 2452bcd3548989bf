"""Errors the API answers with: each carries its HTTP status, a stable code and a message for a person."""

from typing import Any

from pydantic import BaseModel


class ApiError(Exception):
    def __init__(self, status_code: int, code: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.details = details  # extra fields of the error body, e.g. `current_revision`


def not_found(what: str, ident: object) -> ApiError:
    return ApiError(404, "not_found", f"{what} {ident} not found")


def agent_not_found(agent_id: object) -> ApiError:
    """The one answer for an agent that is not the caller's, whether it exists or not."""
    return not_found("agent", agent_id)


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorPublic(BaseModel):
    error: ErrorDetail
