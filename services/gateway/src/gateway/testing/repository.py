"""The SQL for test cases and the gateway's view of test runs."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.agents.repository import owned_row
from gateway.models import test_cases, test_runs
from gateway.testing.schemas import TestRunStatus


class TestCase(BaseModel):
    """A stored test case, in promptfoo's field names (`assertions` is promptfoo's `assert`)."""

    __test__ = False  # not a pytest class, despite its name
    model_config = ConfigDict(frozen=True)

    id: UUID
    seq: int
    agent_id: UUID
    description: str | None
    input: str
    vars: dict[str, Any]
    assertions: list[dict[str, Any]]
    threshold: float | None
    created_at: datetime
    updated_at: datetime


class TestRunView(BaseModel):
    """The gateway's view of a test run: its settings, and its outcome once announced."""

    __test__ = False
    model_config = ConfigDict(frozen=True)

    id: UUID
    agent_id: UUID
    compilation_id: UUID
    status: TestRunStatus
    reason: str | None
    total: int
    repeat: int
    model: str | None
    temperature: float | None
    cache: bool
    passed: int | None
    failed: int | None
    errored: int | None
    flaky: int | None
    pass_rate: float | None
    created_at: datetime
    finished_at: datetime | None
    paused_changed_at: datetime | None


class TestCaseRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add_many(self, agent_id: UUID, cases: list[dict[str, Any]]) -> list[TestCase]:
        rows = [{"id": uuid4(), "agent_id": agent_id, **case} for case in cases]
        if not rows:
            return []
        result = await self._session.execute(
            sa.insert(test_cases).values(rows).returning(*test_cases.c)
        )
        return sorted(
            (TestCase.model_validate(r._mapping) for r in result.all()), key=lambda c: c.seq
        )

    async def list_page(self, agent_id: UUID, limit: int, after_seq: int | None) -> list[TestCase]:
        t = test_cases
        query = sa.select(t).where(t.c.agent_id == agent_id)
        if after_seq is not None:
            query = query.where(t.c.seq > after_seq)
        rows = (await self._session.execute(query.order_by(t.c.seq).limit(limit))).all()
        return [TestCase.model_validate(row._mapping) for row in rows]

    async def get(self, agent_id: UUID, case_id: UUID) -> TestCase | None:
        t = test_cases
        row = (
            await self._session.execute(
                sa.select(t).where(t.c.agent_id == agent_id, t.c.id == case_id)
            )
        ).one_or_none()
        return None if row is None else TestCase.model_validate(row._mapping)

    async def replace(self, agent_id: UUID, case_id: UUID, case: dict[str, Any]) -> TestCase | None:
        t = test_cases
        row = (
            await self._session.execute(
                sa.update(t)
                .where(t.c.agent_id == agent_id, t.c.id == case_id)
                .values(**case, updated_at=sa.func.now())
                .returning(*t.c)
            )
        ).one_or_none()
        return None if row is None else TestCase.model_validate(row._mapping)

    async def delete(self, agent_id: UUID, case_id: UUID) -> bool:
        t = test_cases
        result = await self._session.execute(
            sa.delete(t).where(t.c.agent_id == agent_id, t.c.id == case_id).returning(t.c.id)
        )
        return result.first() is not None

    async def all_for_run(self, agent_id: UUID, limit: int | None) -> list[TestCase]:
        """The agent's cases in creation order (at most `limit`), for a run's snapshot."""
        t = test_cases
        query = sa.select(t).where(t.c.agent_id == agent_id).order_by(t.c.seq)
        if limit is not None:
            query = query.limit(limit)
        rows = (await self._session.execute(query)).all()
        return [TestCase.model_validate(row._mapping) for row in rows]


class TestRunRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, **values: Any) -> None:
        await self._session.execute(sa.insert(test_runs).values(**values))

    async def get(self, owner_id: UUID, agent_id: UUID, run_id: UUID) -> TestRunView | None:
        return await owned_row(self._session, test_runs, TestRunView, owner_id, agent_id, run_id)

    async def list_page(
        self, agent_id: UUID, limit: int, before: tuple[datetime, UUID] | None
    ) -> list[TestRunView]:
        t = test_runs
        query = sa.select(t).where(t.c.agent_id == agent_id)
        if before is not None:
            query = query.where(sa.tuple_(t.c.created_at, t.c.id) < sa.tuple_(*before))
        query = query.order_by(t.c.created_at.desc(), t.c.id.desc()).limit(limit)
        rows = (await self._session.execute(query)).all()
        return [TestRunView.model_validate(row._mapping) for row in rows]

    async def update_from_event(
        self, run_id: UUID, from_statuses: tuple[str, ...], **values: Any
    ) -> None:
        """Apply an event's news once: only from the statuses it can follow (replays change nothing)."""
        await self._session.execute(
            sa.update(test_runs)
            .where(test_runs.c.id == run_id, test_runs.c.status.in_(from_statuses))
            .values(**values)
        )

    async def update_pause(
        self, run_id: UUID, at: datetime, *, status: str, reason: str | None
    ) -> None:
        """Pause or resume an active run, unless a later pause or resumption was applied already."""
        await self._session.execute(
            sa.update(test_runs)
            .where(
                test_runs.c.id == run_id,
                test_runs.c.status.in_(("running", "paused")),
                sa.or_(test_runs.c.paused_changed_at.is_(None), test_runs.c.paused_changed_at < at),
            )
            .values(status=status, reason=reason, paused_changed_at=at)
        )
