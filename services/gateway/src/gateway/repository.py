"""The only place with SQL for the gateway's tables."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.models import (
    agents,
    api_tokens,
    compilations,
    publishes,
    spec_revisions,
    specs,
    test_cases,
    test_runs,
    users,
)
from gateway.notifications import COMPILATION_COMPLETED, TOKEN_REVOKED


async def owned_row(
    session: AsyncSession, table: sa.Table, owner_id: UUID, agent_id: UUID, row_id: UUID
) -> sa.Row[Any] | None:
    """The row `row_id` of `table` if it belongs to agent `agent_id` of owner `owner_id`: another
    owner's row is simply not found."""
    return (
        await session.execute(
            sa.select(table)
            .join(agents, agents.c.id == table.c.agent_id)
            .where(
                table.c.id == row_id, table.c.agent_id == agent_id, agents.c.owner_id == owner_id
            )
        )
    ).one_or_none()


class UserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get_or_add_by_email(self, email: str) -> UUID:
        await self._session.execute(
            insert(users)
            .values(id=uuid4(), email=email)
            .on_conflict_do_nothing(index_elements=["email"])
        )
        user_id: UUID = (
            await self._session.execute(sa.select(users.c.id).where(users.c.email == email))
        ).scalar_one()
        return user_id

    async def add_token(self, user_id: UUID, name: str, token_hash: bytes, prefix: str) -> UUID:
        token_id = uuid4()
        await self._session.execute(
            sa.insert(api_tokens).values(
                id=token_id, user_id=user_id, name=name, token_hash=token_hash, token_prefix=prefix
            )
        )
        return token_id

    async def get_user_id_by_token_hash(self, token_hash: bytes) -> UUID | None:
        return await self._session.scalar(
            sa.select(api_tokens.c.user_id).where(
                api_tokens.c.token_hash == token_hash, api_tokens.c.revoked_at.is_(None)
            )
        )

    async def revoke_tokens_with_prefix(self, email: str, prefix: str) -> int:
        result = await self._session.execute(
            sa.update(api_tokens)
            .where(
                api_tokens.c.user_id
                == sa.select(users.c.id).where(users.c.email == email).scalar_subquery(),
                api_tokens.c.token_prefix == prefix,
                api_tokens.c.revoked_at.is_(None),
            )
            .values(revoked_at=sa.func.now())
        )
        # Every gateway replica drops its token cache when this commits.
        await self._session.execute(sa.select(sa.func.pg_notify(TOKEN_REVOKED, "")))
        return int(getattr(result, "rowcount", 0))


class AgentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(
        self, owner_id: UUID, name: str, description: str, min_pass_rate: float = 1.0
    ) -> sa.Row[Any]:
        agent_id = uuid4()
        row = (
            await self._session.execute(
                sa.insert(agents)
                .values(
                    id=agent_id,
                    owner_id=owner_id,
                    name=name,
                    description=description,
                    min_pass_rate=min_pass_rate,
                )
                .returning(*agents.c)
            )
        ).one()
        await self._session.execute(sa.insert(specs).values(agent_id=agent_id))
        return row

    async def get(self, owner_id: UUID, agent_id: UUID) -> sa.Row[Any] | None:
        return (
            await self._session.execute(
                sa.select(agents).where(agents.c.id == agent_id, agents.c.owner_id == owner_id)
            )
        ).one_or_none()

    async def list_page(
        self, owner_id: UUID, limit: int, after: tuple[datetime, UUID] | None
    ) -> list[sa.Row[Any]]:
        query = sa.select(agents).where(agents.c.owner_id == owner_id)
        if after is not None:
            query = query.where(sa.tuple_(agents.c.created_at, agents.c.id) < sa.tuple_(*after))
        query = query.order_by(agents.c.created_at.desc(), agents.c.id.desc()).limit(limit)
        return list((await self._session.execute(query)).all())

    async def update(
        self, owner_id: UUID, agent_id: UUID, values: dict[str, Any]
    ) -> sa.Row[Any] | None:
        return (
            await self._session.execute(
                sa.update(agents)
                .where(agents.c.id == agent_id, agents.c.owner_id == owner_id)
                .values(**values, updated_at=sa.func.now())
                .returning(*agents.c)
            )
        ).one_or_none()

    async def delete(self, owner_id: UUID, agent_id: UUID) -> bool:
        result = await self._session.execute(
            sa.delete(agents)
            .where(agents.c.id == agent_id, agents.c.owner_id == owner_id)
            .returning(agents.c.id)
        )
        return result.first() is not None


class SpecRepository:
    """The current spec of each agent and its history of revisions (never edited)."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, owner_id: UUID, agent_id: UUID) -> sa.Row[Any] | None:
        return (
            await self._session.execute(
                sa.select(specs)
                .join(agents, agents.c.id == specs.c.agent_id)
                .where(agents.c.id == agent_id, agents.c.owner_id == owner_id)
            )
        ).one_or_none()

    async def save(
        self,
        owner_id: UUID,
        agent_id: UUID,
        blocks: dict[str, Any],
        completeness: int,
        expected_revision: int | None,
    ) -> sa.Row[Any] | None:
        """Store a new revision; None when the agent is not the owner's or `expected_revision` is
        stale. Two saves from the same revision: the row lock makes the second see the first's
        revision, so exactly one of them wins."""
        conditions = [
            specs.c.agent_id == agent_id,
            sa.exists().where(agents.c.id == agent_id, agents.c.owner_id == owner_id),
        ]
        if expected_revision is not None:
            conditions.append(specs.c.revision == expected_revision)
        row = (
            await self._session.execute(
                sa.update(specs)
                .where(*conditions)
                .values(blocks=blocks, revision=specs.c.revision + 1, updated_at=sa.func.now())
                .returning(*specs.c)
            )
        ).one_or_none()
        if row is not None:
            await self._session.execute(
                sa.insert(spec_revisions).values(
                    agent_id=agent_id,
                    revision=row.revision,
                    blocks=blocks,
                    completeness=completeness,
                    author_id=owner_id,
                )
            )
        return row

    async def list_revisions(
        self, owner_id: UUID, agent_id: UUID, limit: int, before: int | None
    ) -> list[Any]:
        t = spec_revisions
        query = (
            sa.select(t.c.revision, t.c.completeness, t.c.author_id, t.c.created_at)
            .join(agents, agents.c.id == t.c.agent_id)
            .where(t.c.agent_id == agent_id, agents.c.owner_id == owner_id)
        )
        if before is not None:
            query = query.where(t.c.revision < before)
        return list(
            (await self._session.execute(query.order_by(t.c.revision.desc()).limit(limit))).all()
        )

    async def get_revision(
        self, owner_id: UUID, agent_id: UUID, revision: int
    ) -> sa.Row[Any] | None:
        t = spec_revisions
        return (
            await self._session.execute(
                sa.select(t)
                .join(agents, agents.c.id == t.c.agent_id)
                .where(
                    t.c.agent_id == agent_id,
                    t.c.revision == revision,
                    agents.c.owner_id == owner_id,
                )
            )
        ).one_or_none()


class CompilationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, compilation_id: UUID, agent_id: UUID, spec_revision: int) -> None:
        await self._session.execute(
            sa.insert(compilations).values(
                id=compilation_id, agent_id=agent_id, spec_revision=spec_revision
            )
        )

    async def get(self, owner_id: UUID, agent_id: UUID, compilation_id: UUID) -> sa.Row[Any] | None:
        return await owned_row(self._session, compilations, owner_id, agent_id, compilation_id)

    async def complete(self, compilation_id: UUID, **values: Any) -> bool:
        """Record the outcome once: a pending compilation only, so a replayed event changes nothing.

        The same statement notifies the replicas' waiters; PostgreSQL delivers it on commit.
        """
        done = (
            sa.update(compilations)
            .where(compilations.c.id == compilation_id, compilations.c.status == "pending")
            .values(**values, completed_at=sa.func.now())
            .returning(compilations.c.id)
            .cte("done")
        )
        notified = await self._session.execute(
            sa.select(sa.func.pg_notify(COMPILATION_COMPLETED, sa.cast(done.c.id, sa.Text)))
        )
        return notified.first() is not None


class TestCaseRepository:
    __test__ = False  # not a pytest class

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add_many(self, agent_id: UUID, cases: list[dict[str, Any]]) -> list[sa.Row[Any]]:
        rows = [{"id": uuid4(), "agent_id": agent_id, **case} for case in cases]
        if not rows:
            return []
        result = await self._session.execute(
            sa.insert(test_cases).values(rows).returning(*test_cases.c)
        )
        return sorted(result.all(), key=lambda r: r.seq)

    async def list_page(self, agent_id: UUID, limit: int, after_seq: int | None) -> list[Any]:
        t = test_cases
        query = sa.select(t).where(t.c.agent_id == agent_id)
        if after_seq is not None:
            query = query.where(t.c.seq > after_seq)
        return list((await self._session.execute(query.order_by(t.c.seq).limit(limit))).all())

    async def get(self, agent_id: UUID, case_id: UUID) -> sa.Row[Any] | None:
        t = test_cases
        return (
            await self._session.execute(
                sa.select(t).where(t.c.agent_id == agent_id, t.c.id == case_id)
            )
        ).one_or_none()

    async def replace(
        self, agent_id: UUID, case_id: UUID, case: dict[str, Any]
    ) -> sa.Row[Any] | None:
        t = test_cases
        return (
            await self._session.execute(
                sa.update(t)
                .where(t.c.agent_id == agent_id, t.c.id == case_id)
                .values(**case, updated_at=sa.func.now())
                .returning(*t.c)
            )
        ).one_or_none()

    async def delete(self, agent_id: UUID, case_id: UUID) -> bool:
        t = test_cases
        result = await self._session.execute(
            sa.delete(t).where(t.c.agent_id == agent_id, t.c.id == case_id).returning(t.c.id)
        )
        return result.first() is not None

    async def all_for_run(self, agent_id: UUID, limit: int | None) -> list[Any]:
        """The agent's cases in creation order (at most `limit`), for a run's snapshot."""
        t = test_cases
        query = sa.select(t).where(t.c.agent_id == agent_id).order_by(t.c.seq)
        if limit is not None:
            query = query.limit(limit)
        return list((await self._session.execute(query)).all())


class TestRunRepository:
    __test__ = False  # not a pytest class

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, **values: Any) -> None:
        await self._session.execute(sa.insert(test_runs).values(**values))

    async def get(self, owner_id: UUID, agent_id: UUID, run_id: UUID) -> sa.Row[Any] | None:
        return await owned_row(self._session, test_runs, owner_id, agent_id, run_id)

    async def list_page(
        self, agent_id: UUID, limit: int, before: tuple[datetime, UUID] | None
    ) -> list[Any]:
        t = test_runs
        query = sa.select(t).where(t.c.agent_id == agent_id)
        if before is not None:
            query = query.where(sa.tuple_(t.c.created_at, t.c.id) < sa.tuple_(*before))
        query = query.order_by(t.c.created_at.desc(), t.c.id.desc()).limit(limit)
        return list((await self._session.execute(query)).all())

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


class PublishRepository:
    """The gateway's view of the publishes and channel moves it asked the publisher for."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, **values: Any) -> sa.Row[Any]:
        return (
            await self._session.execute(
                sa.insert(publishes).values(**values).returning(*publishes.c)
            )
        ).one()

    async def get(self, owner_id: UUID, agent_id: UUID, request_id: UUID) -> sa.Row[Any] | None:
        return await owned_row(self._session, publishes, owner_id, agent_id, request_id)

    async def complete(self, request_id: UUID, **values: Any) -> None:
        """Record the outcome once (a pending request only: a replayed event changes nothing)."""
        await self._session.execute(
            sa.update(publishes)
            .where(publishes.c.id == request_id, publishes.c.status == "pending")
            .values(**values, completed_at=sa.func.now())
        )

    async def spec_blocks(self, agent_id: UUID, revision: int) -> dict[str, Any]:
        blocks = await self._session.scalar(
            sa.select(spec_revisions.c.blocks).where(
                spec_revisions.c.agent_id == agent_id, spec_revisions.c.revision == revision
            )
        )
        return dict(blocks or {})
