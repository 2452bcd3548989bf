"""The SQL for specs, their revisions and the gateway's view of compilations."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg
import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.agents.repository import complete_pending, owned, owned_row
from gateway.messages import OUTBOX
from gateway.models import agents, compilations, spec_revisions, specs
from gateway.notifications import COMPILATION_COMPLETED
from gateway.specs.schemas import CompilationStatus
from runtime import db, outbox
from runtime.db import DirectUnit


class Spec(BaseModel):
    """An agent's current spec: its blocks as stored (JSON) and its revision."""

    model_config = ConfigDict(frozen=True)

    agent_id: UUID
    blocks: dict[str, Any]
    revision: int
    updated_at: datetime


class SpecRevision(BaseModel):
    """One saved revision, without its blocks (the history's page)."""

    model_config = ConfigDict(frozen=True)

    revision: int
    completeness: int
    author_id: UUID
    created_at: datetime


class SpecRevisionWithBlocks(SpecRevision):
    """One saved revision whole."""

    agent_id: UUID
    blocks: dict[str, Any]


class Compilation(BaseModel):
    """The gateway's view of a compilation; the outcome's fields stay None while it is pending."""

    model_config = ConfigDict(frozen=True)

    id: UUID
    agent_id: UUID
    spec_revision: int
    status: CompilationStatus
    instructions: str | None
    sections: list[dict[str, Any]] | None
    spec_hash: str | None
    compiler_version: str | None
    variables: list[dict[str, Any]] | None
    token_count: int | None
    token_count_method: str | None
    reused_from: UUID | None
    error: str | None
    created_at: datetime
    completed_at: datetime | None


class SpecRepository:
    """The current spec of each agent and its history of revisions (never edited)."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, owner_id: UUID, agent_id: UUID) -> Spec | None:
        params = {"agent_id": agent_id, "owner_id": owner_id}
        row = (await self._session.execute(_CURRENT_SPEC, params)).one_or_none()
        return None if row is None else Spec.model_validate(row._mapping)

    async def save(
        self,
        owner_id: UUID,
        agent_id: UUID,
        blocks: dict[str, Any],
        completeness: int,
        expected_revision: int | None,
    ) -> Spec | None:
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
        if row is None:
            return None
        await self._session.execute(
            sa.insert(spec_revisions).values(
                agent_id=agent_id,
                revision=row.revision,
                blocks=blocks,
                completeness=completeness,
                author_id=owner_id,
            )
        )
        return Spec.model_validate(row._mapping)

    async def list_revisions(
        self, owner_id: UUID, agent_id: UUID, limit: int, before: int | None
    ) -> list[SpecRevision]:
        t = spec_revisions
        query = (
            sa.select(t.c.revision, t.c.completeness, t.c.author_id, t.c.created_at)
            .join(agents, agents.c.id == t.c.agent_id)
            .where(t.c.agent_id == agent_id, agents.c.owner_id == owner_id)
        )
        if before is not None:
            query = query.where(t.c.revision < before)
        rows = (await self._session.execute(query.order_by(t.c.revision.desc()).limit(limit))).all()
        return [SpecRevision.model_validate(row._mapping) for row in rows]

    async def get_revision(
        self, owner_id: UUID, agent_id: UUID, revision: int
    ) -> SpecRevisionWithBlocks | None:
        t = spec_revisions
        row = (
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
        return None if row is None else SpecRevisionWithBlocks.model_validate(row._mapping)


# A compilation's request and its answer are hot paths: they run on a psycopg connection of the
# direct pool (direct_pool.py), their statements built once and prepared; the compiler's events
# complete compilations through `CompilationOutcomes`, on the consumer's direct unit.


async def current_spec(
    connection: psycopg.AsyncConnection[Any], owner_id: UUID, agent_id: UUID
) -> Spec | None:
    row = await db.fetch_one(
        connection, _CURRENT_SPEC, {"agent_id": agent_id, "owner_id": owner_id}
    )
    return None if row is None else Spec.model_validate(row)


_CURRENT_SPEC = (
    sa.select(specs)
    .join(agents, agents.c.id == specs.c.agent_id)
    .where(agents.c.id == sa.bindparam("agent_id"), agents.c.owner_id == sa.bindparam("owner_id"))
)


async def add_compilation(
    connection: psycopg.AsyncConnection[Any],
    compilation_id: UUID,
    agent_id: UUID,
    spec_revision: int,
    command: dict[str, Any],
) -> None:
    """The pending compilation and its compile command (`messages.message_params`), in one
    statement: both or neither, in autocommit."""
    params = {"id": compilation_id, "agent_id": agent_id, "spec_revision": spec_revision}
    await db.execute(connection, _ADD_COMPILATION, {**params, **command})


_ADD_COMPILATION = outbox.insert_with_message(
    OUTBOX,
    sa.insert(compilations)
    .values(
        {
            name: sa.bindparam(name, type_=compilations.c[name].type)
            for name in ("id", "agent_id", "spec_revision")
        }
    )
    .returning(compilations.c.id),
)


async def find_compilation(
    connection: psycopg.AsyncConnection[Any], owner_id: UUID, agent_id: UUID, compilation_id: UUID
) -> Compilation | None:
    params = {"row_id": compilation_id, "agent_id": agent_id, "owner_id": owner_id}
    row = await db.fetch_one(connection, owned(compilations), params)
    return None if row is None else Compilation.model_validate(row)


class CompilationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, owner_id: UUID, agent_id: UUID, compilation_id: UUID) -> Compilation | None:
        return await owned_row(
            self._session, compilations, Compilation, owner_id, agent_id, compilation_id
        )


class CompilationOutcomes:
    """A compilation's outcome, recorded by the consumer of the compiler's events (a direct group
    commit's unit) or by the dead-letter consumer (a session)."""

    def __init__(self, unit: AsyncSession | DirectUnit) -> None:
        self._unit = unit

    async def complete(
        self, compilation_id: UUID, from_statuses: tuple[str, ...], **values: Any
    ) -> None:
        """Record the outcome once, from `from_statuses` only, and wake the replicas' waiters
        (`complete_pending`). An outcome without an error clears the one a dead letter gave."""
        await complete_pending(
            self._unit,
            compilations,
            compilation_id,
            COMPILATION_COMPLETED,
            from_statuses,
            **{"error": None, **values},
        )
