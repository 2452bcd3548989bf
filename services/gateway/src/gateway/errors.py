"""Errors the API answers with: each carries its HTTP status, a stable code and a message for a
person; and the one declaration of them in the OpenAPI document (`error_responses`)."""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


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
    # Some errors say more (`problems`, `current_revision`, `retry_after`, `request_id`…).
    model_config = ConfigDict(extra="allow")

    code: str = Field(description="Stable, for programs: e.g. validation_error, not_found.")
    message: str = Field(description="For a person: what was wrong, naming the field or limit.")


class ErrorPublic(BaseModel):
    error: ErrorDetail


ERRORS: dict[int, str] = {
    400: "The request cannot be read: a body that is not JSON, or a malformed header.",
    401: "No valid API token or session.",
    403: "Signed in by a session cookie, but without the CSRF token (or posted from another site).",
    404: "Not found, or not the caller's: the same answer for both.",
    409: "The request conflicts with the state of what it names.",
    412: "Saved by someone else since the revision in If-Match.",
    413: "The body, or what it expands to, is over a limit; the message names the limit.",
    422: "The request is invalid; the message names the field and what is wrong with it.",
    429: "Too many requests; try again after the Retry-After header's seconds.",
    503: "A service this request needs is not answering; try again later.",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` declaring `statuses` with the error model."""
    return {status: {"model": ErrorPublic, "description": ERRORS[status]} for status in statuses}


API_ERRORS = error_responses(400, 401, 403, 404, 413, 422, 429)
"""What any route of the API can answer (bad input, credentials, CSRF, ownership, limits, rates):
declared once for every router (`app.py`); routes add what only they answer (409, 412, 503)."""
