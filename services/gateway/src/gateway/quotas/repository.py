"""The counts quotas compare, and the row locks that keep two concurrent requests from both
taking the last place."""

from __future__ import annotations

from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.models import agents, test_cases, test_runs, users

IN_FLIGHT = ("queued", "running", "paused")


class QuotaRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def lock_user(self, user_id: UUID) -> None:
        """Until the transaction ends. NO KEY UPDATE: inserts that reference the row still go on."""
        await self._session.execute(
            sa.select(users.c.id).where(users.c.id == user_id).with_for_update(key_share=True)
        )

    async def lock_agent(self, agent_id: UUID) -> None:
        await self._session.execute(
            sa.select(agents.c.id).where(agents.c.id == agent_id).with_for_update(key_share=True)
        )

    async def agents_of(self, user_id: UUID) -> int:
        query = sa.select(sa.func.count()).select_from(agents).where(agents.c.owner_id == user_id)
        return int(await self._session.scalar(query) or 0)

    async def cases_of(self, agent_id: UUID) -> int:
        query = (
            sa.select(sa.func.count())
            .select_from(test_cases)
            .where(test_cases.c.agent_id == agent_id)
        )
        return int(await self._session.scalar(query) or 0)

    async def runs_in_flight(self, user_id: UUID) -> int:
        query = (
            sa.select(sa.func.count())
            .select_from(test_runs.join(agents, agents.c.id == test_runs.c.agent_id))
            .where(agents.c.owner_id == user_id, test_runs.c.status.in_(IN_FLIGHT))
        )
        return int(await self._session.scalar(query) or 0)
