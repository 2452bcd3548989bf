"""The SQL of a user's export and erasure: the user's rows in the gateway's tables, and the
erasure record with its saga's progress."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.models import (
    agents,
    api_tokens,
    audit_log,
    compilations,
    erasure_parts,
    erasures,
    mail_outbox,
    publishes,
    sessions,
    sign_in_links,
    spec_revisions,
    specs,
    test_cases,
    test_runs,
    users,
)
from gateway.notifications import TOKEN_REVOKED
from runtime import db
from runtime.db import DirectUnit

# Every gateway table holding a user's rows, with the column that names the user, in the order
# they are deleted. The agents' own tables (specs, revisions, cases, compilation, run and publish
# views) go with their agent (ON DELETE CASCADE). A new table of user data is one more line here;
# tests/e2e/test_privacy.py fails until it is.
USER_ROWS: tuple[tuple[sa.Table, str], ...] = (
    (audit_log, "user_id"),
    (sessions, "user_id"),
    (api_tokens, "user_id"),
    (agents, "owner_id"),
    (users, "id"),
)
# The rows found by the user's address rather than their id: sign-in links asked for, and mail
# not sent yet.
ADDRESS_ROWS: tuple[tuple[sa.Table, str], ...] = (
    (sign_in_links, "email"),
    (mail_outbox, "recipient"),
)

# What the export shows of each agent, table by table; never a token's hash.
AGENT_TABLES: dict[str, sa.Table] = {
    "spec_revisions": spec_revisions,
    "test_cases": test_cases,
    "compilations": compilations,
    "test_runs": test_runs,
    "publish_requests": publishes,
}
TOKEN_COLUMNS = ("id", "name", "token_prefix", "created_at", "revoked_at")

Row = dict[str, object]


class ErasurePart(BaseModel):
    model_config = ConfigDict(frozen=True)

    service: str
    part: int
    parts: int
    erased_at: datetime | None
    failure_reason: str | None


class Erasure(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: UUID
    status_token_hash: bytes
    requested_at: datetime
    completed_at: datetime | None
    parts: list[ErasurePart]


class ErasureRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def lock_user(self, user_id: UUID) -> bool:
        """Hold the user's row until the transaction ends (a concurrent erasure waits here, then
        finds the user gone); False when it is gone already."""
        found = await self._session.scalar(
            sa.select(users.c.id).where(users.c.id == user_id).with_for_update()
        )
        return found is not None

    async def agent_ids(self, user_id: UUID) -> list[UUID]:
        found = await self._session.scalars(
            sa.select(agents.c.id).where(agents.c.owner_id == user_id).order_by(agents.c.id)
        )
        return list(found.all())

    async def queued_run_ids(self, agent_ids: list[UUID], limit: int) -> list[UUID]:
        found = await self._session.scalars(
            sa.select(test_runs.c.id)
            .where(test_runs.c.agent_id.in_(agent_ids), test_runs.c.status == "queued")
            .limit(limit)
        )
        return list(found.all())

    async def start(
        self, erasure_id: UUID, user_id: UUID, token_hash: bytes, parts: dict[str, int]
    ) -> None:
        await self._session.execute(
            sa.insert(erasures).values(id=erasure_id, user_id=user_id, status_token_hash=token_hash)
        )
        await self._session.execute(
            sa.insert(erasure_parts),
            [
                {"erasure_id": erasure_id, "service": service, "part": part, "parts": count}
                for service, count in parts.items()
                for part in range(count)
            ],
        )

    async def erase_gateway_rows(self, user_id: UUID) -> None:
        """Delete the user's rows from every gateway table, and drop every replica's token cache
        (PostgreSQL delivers the notice when this transaction commits)."""
        email = await self._session.scalar(sa.select(users.c.email).where(users.c.id == user_id))
        for table, column in ADDRESS_ROWS:
            await self._session.execute(sa.delete(table).where(table.c[column] == email))
        # The audit log refuses DELETE unless the transaction says it erases a user's data.
        await self._session.execute(sa.text("SET LOCAL gateway.audit_erasure = 'on'"))
        for table, column in USER_ROWS:
            await self._session.execute(sa.delete(table).where(table.c[column] == user_id))
        await self._session.execute(sa.select(sa.func.pg_notify(TOKEN_REVOKED, "")))

    async def of_user(self, user_id: UUID) -> Erasure | None:
        erasure_id = await self._session.scalar(
            sa.select(erasures.c.id).where(erasures.c.user_id == user_id)
        )
        return None if erasure_id is None else await self.get(erasure_id)

    async def get(self, erasure_id: UUID) -> Erasure | None:
        row = (
            await self._session.execute(sa.select(erasures).where(erasures.c.id == erasure_id))
        ).first()
        if row is None:
            return None
        parts = await self._session.execute(
            sa.select(erasure_parts)
            .where(erasure_parts.c.erasure_id == erasure_id)
            .order_by(erasure_parts.c.service, erasure_parts.c.part)
        )
        return Erasure(
            **{k: v for k, v in row._mapping.items() if k != "user_id"},
            parts=[ErasurePart.model_validate(p._mapping) for p in parts],
        )

    async def fail_part(self, erasure_id: UUID, service: str, part: int, reason: str) -> None:
        """Record why one service's part could not be erased, unless it was erased already."""
        part_of = {"of_erasure": erasure_id, "of_service": service, "of_part": part}
        await self._session.execute(_FAIL_PART, {**part_of, "reason": reason})


class ErasureParts:
    """An erasure's parts marked erased, by the consumers of the workers' `…Erased` events: on a
    session, or on a direct group commit's unit (the compiler's events share that durable with
    the compile outcomes)."""

    def __init__(self, unit: AsyncSession | DirectUnit) -> None:
        self._unit = unit

    async def record_part(self, erasure_id: UUID, service: str, part: int) -> bool:
        """Mark one service's part erased (once), clearing any failure recorded for it, and the
        erasure complete when it was the last part; True when this completed the erasure."""
        part_of = {"of_erasure": erasure_id, "of_service": service, "of_part": part}
        await db.execute_in(self._unit, _MARK_PART, part_of)
        # The erasure's row lock orders the events of one erasure that land at the same time.
        await db.row_in(self._unit, _LOCK_ERASURE, {"of_erasure": erasure_id})
        return await db.row_in(self._unit, _COMPLETE, {"of_erasure": erasure_id}) is not None


# The parts' statements, built once: `record_part`'s run on a direct unit too (runtime.db). Their
# parameters are not named as columns: an UPDATE keeps those names for its SET clause.
_ep, _e = erasure_parts.c, erasures.c
_UNERASED_PART = (
    _ep.erasure_id == sa.bindparam("of_erasure"),
    _ep.service == sa.bindparam("of_service"),
    _ep.part == sa.bindparam("of_part"),
    _ep.erased_at.is_(None),
)
_MARK_PART = (
    sa.update(erasure_parts)
    .where(*_UNERASED_PART)
    .values(erased_at=sa.func.now(), failure_reason=None)
)
_FAIL_PART = (
    sa.update(erasure_parts)
    .where(*_UNERASED_PART)
    .values(failure_reason=sa.bindparam("reason", type_=_ep.failure_reason.type))
)
_LOCK_ERASURE = sa.select(_e.id).where(_e.id == sa.bindparam("of_erasure")).with_for_update()
_COMPLETE = (
    sa.update(erasures)
    .where(
        _e.id == sa.bindparam("of_erasure"),
        _e.completed_at.is_(None),
        ~sa.exists().where(_ep.erasure_id == sa.bindparam("of_erasure"), _ep.erased_at.is_(None)),
    )
    .values(completed_at=sa.func.now())
    .returning(_e.id)
)


class ExportRepository:
    """The user's rows, read for the export: whole rows, in pages (keyset on the primary key)."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def user(self, user_id: UUID) -> Row | None:
        row = (await self._session.execute(sa.select(users).where(users.c.id == user_id))).first()
        return None if row is None else dict(row._mapping)

    async def tokens(self, user_id: UUID) -> list[Row]:
        rows = await self._session.execute(
            sa.select(*(api_tokens.c[c] for c in TOKEN_COLUMNS))
            .where(api_tokens.c.user_id == user_id)
            .order_by(api_tokens.c.created_at, api_tokens.c.id)
        )
        return [dict(r._mapping) for r in rows]

    async def agents(self, user_id: UUID, after: UUID | None, limit: int) -> list[Row]:
        query = sa.select(agents).where(agents.c.owner_id == user_id)
        if after is not None:
            query = query.where(agents.c.id > after)
        rows = await self._session.execute(query.order_by(agents.c.id).limit(limit))
        return [dict(r._mapping) for r in rows]

    async def spec(self, agent_id: UUID) -> Row | None:
        row = (
            await self._session.execute(sa.select(specs).where(specs.c.agent_id == agent_id))
        ).first()
        return None if row is None else dict(row._mapping)

    async def agent_rows(
        self, name: str, agent_id: UUID, after: Sequence[object] | None, limit: int
    ) -> list[Row]:
        """A page of one agent's rows of `AGENT_TABLES[name]`, after the primary key given."""
        table = AGENT_TABLES[name]
        key = list(table.primary_key.columns)
        query = sa.select(table).where(table.c.agent_id == agent_id)
        if after is not None:
            query = query.where(sa.tuple_(*key) > sa.tuple_(*after))
        rows = await self._session.execute(query.order_by(*key).limit(limit))
        return [dict(r._mapping) for r in rows]

    @staticmethod
    def key_of(name: str, row: Row) -> list[object]:
        return [row[c.name] for c in AGENT_TABLES[name].primary_key.columns]
