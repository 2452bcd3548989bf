"""The SQL for agents, the ownership join every agent-owned row is read through, and the one-time
completion of an agent-owned request (a compilation, a publish) that replicas wait on."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any, TypedDict, TypeVar, cast
from uuid import UUID, uuid4

import psycopg
import sqlalchemy as sa
from psycopg.rows import dict_row
from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.models import agents, specs
from runtime import db
from runtime.db import DirectUnit, psycopg_sql
from runtime.observability import statement_span


class Agent(BaseModel):
    """An agent as stored."""

    model_config = ConfigDict(frozen=True)

    id: UUID
    owner_id: UUID
    name: str
    description: str
    min_pass_rate: float
    created_at: datetime
    updated_at: datetime


Record = TypeVar("Record", bound=BaseModel)

# The statuses an outcome may settle a request from. A dead letter fails only a request still
# pending. The worker's own outcome also settles one its command's dead letter failed: a second
# outcome for one request can only come from that command replayed (the inbox applies each
# event once), and what the worker did then is what happened. ADR 0008.
PENDING = ("pending",)
PENDING_OR_DEAD_LETTERED = ("pending", "failed")
NOTICE_PAYLOAD_BYTES = 7_999  # PostgreSQL's limit is "shorter than 8000 bytes"


async def complete_pending(
    unit: AsyncSession | DirectUnit,
    table: sa.Table,
    row_id: UUID,
    notice: str,
    from_statuses: tuple[str, ...],
    **values: Any,
) -> None:
    """Record a row's outcome once, only from `from_statuses` (a replayed event changes nothing).
    The same statement notifies the replicas' waiters; PostgreSQL delivers it on commit. The
    notice carries the row as completed (as JSON, when it fits a notice), so a waiter that has
    already read it once answers without reading it again (`notifications.py`). On a consumer's
    session or direct unit; on a direct unit nothing waits for it, it travels with the group's
    commit."""
    statement = _completion(table, notice, from_statuses, tuple(sorted(values)))
    params = {"row_id": row_id, **{f"v_{name}": value for name, value in values.items()}}
    await db.execute_in(unit, statement, params)


@functools.cache
def _completion(
    table: sa.Table, notice: str, from_statuses: tuple[str, ...], columns: tuple[str, ...]
) -> sa.Select[Any]:
    # Built once per kind of outcome: every completion (one per compile, per publish) reuses it.
    done = (
        sa.update(table)
        .where(
            table.c.id == sa.bindparam("row_id"),
            # Not `in_`: an expanding IN is expanded per call, which psycopg's SQL built once
            # (a direct group commit's, runtime.db) cannot be.
            sa.or_(*(table.c.status == status for status in from_statuses)),
        )
        .values(
            {
                **{name: sa.bindparam(f"v_{name}", type_=table.c[name].type) for name in columns},
                "completed_at": sa.func.now(),
            }
        )
        .returning(*table.c)
        .cte("done")
    )
    # The row as JSON (its columns in the table's order: `id` first), or its id alone when the
    # JSON would not fit in a notice, whose payload PostgreSQL limits to 8,000 bytes.
    row = sa.cast(sa.func.row_to_json(sa.literal_column(done.name)), sa.Text)
    payload = sa.case(
        (sa.func.octet_length(row) <= NOTICE_PAYLOAD_BYTES, row),
        else_=sa.cast(done.c.id, sa.Text),
    )
    return sa.select(sa.func.pg_notify(notice, payload)).select_from(done)


async def owned_row(
    session: AsyncSession,
    table: sa.Table,
    record: type[Record],
    owner_id: UUID,
    agent_id: UUID,
    row_id: UUID,
) -> Record | None:
    """The row `row_id` of `table`, as a `record`, if it belongs to agent `agent_id` of owner
    `owner_id`: another owner's row is simply not found."""
    params = {"row_id": row_id, "agent_id": agent_id, "owner_id": owner_id}
    row = (await session.execute(owned(table), params)).one_or_none()
    return None if row is None else record.model_validate(row._mapping)


@functools.cache
def owned(table: sa.Table) -> sa.Select[Any]:
    """`owned_row`'s statement (parameters `row_id`, `agent_id`, `owner_id`); also run on a psycopg
    connection by a hot path (specs/repository.py)."""
    # Built once per table: it is read on every `wait=` answer and every status poll.
    return (
        sa.select(table)
        .join(agents, agents.c.id == table.c.agent_id)
        .where(
            table.c.id == sa.bindparam("row_id"),
            table.c.agent_id == sa.bindparam("agent_id"),
            agents.c.owner_id == sa.bindparam("owner_id"),
        )
    )


class AgentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(
        self, owner_id: UUID, name: str, description: str, min_pass_rate: float = 1.0
    ) -> Agent:
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
        return Agent.model_validate(row._mapping)

    async def get(self, owner_id: UUID, agent_id: UUID) -> Agent | None:
        row = (
            await self._session.execute(
                sa.select(agents).where(agents.c.id == agent_id, agents.c.owner_id == owner_id)
            )
        ).one_or_none()
        return None if row is None else Agent.model_validate(row._mapping)

    async def update(self, owner_id: UUID, agent_id: UUID, values: dict[str, Any]) -> Agent | None:
        row = (
            await self._session.execute(
                sa.update(agents)
                .where(agents.c.id == agent_id, agents.c.owner_id == owner_id)
                .values(**values, updated_at=sa.func.now())
                .returning(*agents.c)
            )
        ).one_or_none()
        return None if row is None else Agent.model_validate(row._mapping)

    async def delete(self, owner_id: UUID, agent_id: UUID) -> bool:
        result = await self._session.execute(
            sa.delete(agents)
            .where(agents.c.id == agent_id, agents.c.owner_id == owner_id)
            .returning(agents.c.id)
        )
        return result.first() is not None


class AgentItem(TypedDict):
    """An agent as listed: `AgentPublic`'s fields, in its order."""

    id: UUID
    name: str
    description: str
    min_pass_rate: float
    created_at: datetime
    updated_at: datetime


async def list_page(
    connection: psycopg.AsyncConnection[Any],
    owner_id: UUID,
    limit: int,
    after: tuple[datetime, UUID] | None,
    containing: str | None = None,
) -> list[AgentItem]:
    """A page of the owner's agents, newest first; with `containing`, only those whose name or
    description holds that text (case-insensitive, taken literally: `%` and `_` match only
    themselves). The hot read of the API, so it skips what costs per row and per call: it runs on
    a connection of the direct pool (direct_pool.py), its statement is compiled once per shape and
    prepared by psycopg, and its rows come back as the dicts the response is made of (PostgreSQL
    typed them; nothing validates them again)."""
    params: dict[str, Any] = {"owner_id": owner_id, "limit": limit}
    if containing:
        literal = containing.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        params["pattern"] = f"%{literal}%"
    if after is not None:
        params["after_at"], params["after_id"] = after
    statement = _page_sql(after is not None, bool(containing))
    async with connection.cursor(row_factory=dict_row) as cursor:
        with statement_span(statement, connection.info.dbname):
            await cursor.execute(statement, params, prepare=True)
        return cast(list[AgentItem], await cursor.fetchall())


@functools.cache
def _page_sql(after: bool, containing: bool) -> str:
    """`list_page`'s statement for one shape of request, as psycopg's SQL: built once, not per call."""
    query = sa.select(*(agents.c[name] for name in AgentItem.__annotations__)).where(
        agents.c.owner_id == sa.bindparam("owner_id")
    )
    if containing:
        pattern = sa.bindparam("pattern", type_=sa.Text)
        query = query.where(
            agents.c.name.ilike(pattern, escape="\\")
            | agents.c.description.ilike(pattern, escape="\\")
        )
    if after:
        query = query.where(
            sa.tuple_(agents.c.created_at, agents.c.id)
            < sa.tuple_(
                sa.bindparam("after_at", type_=agents.c.created_at.type),
                sa.bindparam("after_id", type_=agents.c.id.type),
            )
        )
    order = (agents.c.created_at.desc(), agents.c.id.desc())
    query = query.order_by(*order).limit(sa.bindparam("limit", type_=sa.Integer))
    return psycopg_sql(query)
