"""HTTP shapes of the erasure: the 202 that starts it and the status it is followed by."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field


class ErasureAccepted(BaseModel):
    id: UUID
    status: Literal["erasing", "completed"]
    status_url: str
    status_token: str | None = Field(
        description="Reads the status (`Authorization: Bearer <status_token>`) once the user's "
        "own tokens stop working. Shown once: null when the erasure had already been asked for."
    )


class ServiceErasurePublic(BaseModel):
    service: str
    parts: int
    erased_parts: int
    completed_at: datetime | None = Field(description="When its last part was erased.")


class ErasurePublic(BaseModel):
    id: UUID
    status: Literal["erasing", "completed"]
    requested_at: datetime
    completed_at: datetime | None
    services: list[ServiceErasurePublic] = Field(
        description="The gateway's data is erased before the 202; each worker's as it reports."
    )
