"""Errors the API answers with: each carries its HTTP status, a stable code and a message for a person."""

from typing import Any


class ApiError(Exception):
    def __init__(self, status_code: int, code: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.details = details  # extra fields of the error body, e.g. `current_revision`


def not_found(what: str, ident: object) -> ApiError:
    return ApiError(404, "not_found", f"{what} {ident} not found")
