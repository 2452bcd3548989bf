"""HTTP models of signing in and of the caller's identity."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

# HTML's rule for an e-mail address (with a dot in the domain): one address, nothing that a mail
# header would read as a second recipient or a new line.
EMAIL_PATTERN = (
    r"^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+"
    r"@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)+$"
)
Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_lower=True, max_length=254, pattern=EMAIL_PATTERN),
]


class MagicLinkRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email


class MagicLinkAccepted(BaseModel):
    message: str = Field(description="The same for every address, known or not.")


class SessionPublic(BaseModel):
    id: UUID
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime = Field(description="The absolute end of the session.")
    idle_timeout_minutes: int
    ip: str | None
    user_agent: str | None
    csrf_token: str = Field(
        description="Send it as `X-CSRF-Token` on every POST, PUT, PATCH and DELETE of this session."
    )


class MePublic(BaseModel):
    id: UUID
    email: str
    created_at: datetime
    authenticated_by: Literal["session", "token"]
    session: SessionPublic | None


class SignedOutEverywhere(BaseModel):
    sessions_revoked: int
