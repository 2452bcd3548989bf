"""HTTP shapes of the erasure: the 202 that starts it and the status it is followed by."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field

ErasureStatus = Literal["erasing", "failed", "completed"]


class ErasureAccepted(BaseModel):
    id: UUID
    status: ErasureStatus
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
    failed_parts: int = Field(
        description="Parts it gave up on (their commands are in the dead letters) and has not "
        "erased since."
    )
    reason: str | None = Field(
        description="Why a part failed, for a person; null when none has. Cleared once the part "
        "is erased (an operator replays its command after the fix)."
    )


class ErasurePublic(BaseModel):
    id: UUID
    status: ErasureStatus = Field(
        description="`failed` while a service has a failed part not erased since; `completed` once "
        "every service has erased every part."
    )
    requested_at: datetime
    completed_at: datetime | None
    services: list[ServiceErasurePublic] = Field(
        description="The gateway's data is erased before the 202; each worker's as it reports."
    )
