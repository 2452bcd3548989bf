"""HTTP models of the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class AuditEntryPublic(BaseModel):
    id: int
    occurred_at: datetime
    action: str = Field(
        description="sign_in, sign_in_failed, sign_out, sign_out_everywhere, token_created, "
        "token_revoked, publish_forced, channel_move_forced, agent_imported or "
        "test_cases_imported."
    )
    ip: str | None
    user_agent: str | None
    details: dict[str, Any]


class AuditEntriesPublic(BaseModel):
    items: list[AuditEntryPublic]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last."
    )
