"""The SQL for the gateway's view of the publishes and channel moves it asked the publisher for."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.agents.repository import complete_pending, owned_row
from gateway.models import publishes, spec_revisions
from gateway.notifications import PUBLISH_COMPLETED


class PublishRequest(BaseModel):
    """A publish or channel move the gateway asked for, and its outcome once the publisher told."""

    model_config = ConfigDict(frozen=True)

    id: UUID
    agent_id: UUID
    kind: Literal["publish", "move", "import"]
    status: Literal["pending", "done", "refused", "failed"]
    channel: str | None
    version: int | None
    seq: int | None
    reason: str | None
    regressions: list[str] | None
    created_at: datetime
    completed_at: datetime | None


class PublishRepository:
    """The gateway's view of the publishes and channel moves it asked the publisher for."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, **values: Any) -> PublishRequest:
        row = (
            await self._session.execute(
                sa.insert(publishes).values(**values).returning(*publishes.c)
            )
        ).one()
        return PublishRequest.model_validate(row._mapping)

    async def get(self, owner_id: UUID, agent_id: UUID, request_id: UUID) -> PublishRequest | None:
        return await owned_row(
            self._session, publishes, PublishRequest, owner_id, agent_id, request_id
        )

    async def complete(
        self, request_id: UUID, from_statuses: tuple[str, ...], **values: Any
    ) -> None:
        """Record the outcome once, from `from_statuses` only, and wake the replicas' waiters
        (`complete_pending`). An outcome without a reason clears the one a dead letter gave."""
        await complete_pending(
            self._session,
            publishes,
            request_id,
            PUBLISH_COMPLETED,
            from_statuses,
            **{"reason": None, **values},
        )

    async def spec_blocks(self, agent_id: UUID, revision: int) -> dict[str, Any]:
        blocks = await self._session.scalar(
            sa.select(spec_revisions.c.blocks).where(
                spec_revisions.c.agent_id == agent_id, spec_revisions.c.revision == revision
            )
        )
        return dict(blocks or {})
