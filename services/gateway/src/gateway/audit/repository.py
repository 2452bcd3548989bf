"""The SQL of the audit log: append and read, nothing else (a trigger refuses UPDATE and DELETE)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.models import audit_log

USER_AGENT_MAX = 512  # a header is the client's to fill; keep what is worth reading


@dataclass(frozen=True)
class ClientInfo:
    """Where a request came from, as the audit log records it."""

    ip: str | None
    user_agent: str | None


class AuditEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    occurred_at: datetime
    user_id: UUID | None
    action: str
    ip: str | None
    user_agent: str | None
    details: dict[str, Any]


class AuditRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def append(
        self, user_id: UUID | None, action: str, client: ClientInfo, **details: Any
    ) -> None:
        agent = client.user_agent[:USER_AGENT_MAX] if client.user_agent else None
        await self._session.execute(
            sa.insert(audit_log).values(
                user_id=user_id,
                action=action,
                ip=client.ip,
                user_agent=agent,
                details=details,
            )
        )

    async def list_page(self, user_id: UUID, limit: int, before: int | None) -> list[AuditEntry]:
        """The user's entries, newest first, older than the entry `before` when given."""
        query = sa.select(audit_log).where(audit_log.c.user_id == user_id)
        if before is not None:
            query = query.where(audit_log.c.id < before)
        rows = await self._session.execute(query.order_by(audit_log.c.id.desc()).limit(limit))
        return [AuditEntry.model_validate(r._mapping) for r in rows]
