"""Erased owners: the users whose data a service has erased, so that a message of theirs consumed
later (sent before the erasure, waiting on another durable) writes nothing back.

A service adds the table to its metadata (`erased_owners_table`), records an owner in the
transaction that erases their data (`mark_erased`), and wraps the handlers that write a user's
data (`unless_erased`). An advisory lock per owner orders the two: handlers hold it shared, the
erasure exclusively, so a handler either commits before the erasure deletes (and its rows are
deleted too) or runs after it and sees the owner erased.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from functools import cache
from typing import Any, TypeVar
from uuid import UUID

import sqlalchemy as sa
import structlog
from pydantic import BaseModel
from sqlalchemy.dialects.postgresql import UUID as PgUUID
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.envelope import Envelope
from runtime import db
from runtime.db import DirectUnit

log = structlog.get_logger()

_LOCK_SPACE = 7  # the per-owner advisory locks' key space, apart from the services' own


def erased_owners_table(metadata: sa.MetaData) -> sa.Table:
    """The ids of erased users (nothing else of them): kept so late messages change nothing."""
    return sa.Table(
        "erased_owners",
        metadata,
        sa.Column("owner_id", PgUUID(as_uuid=True), primary_key=True),
        sa.Column(
            "erased_at", sa.TIMESTAMP(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )


def _lock_key(owner_id: UUID) -> sa.ColumnElement[int]:
    return sa.func.hashtextextended(str(owner_id), _LOCK_SPACE)


async def mark_erased(session: AsyncSession, table: sa.Table, owner_id: UUID) -> None:
    """Wait for the owner's handlers in flight, then record the owner as erased (once). Call it
    before deleting the owner's rows, in the same transaction."""
    await session.execute(sa.select(sa.func.pg_advisory_xact_lock(_lock_key(owner_id))))
    await session.execute(insert(table).values(owner_id=owner_id).on_conflict_do_nothing())


# Two statements, not one: the read must see an erasure that committed while the lock was awaited,
# and a statement sees only what was committed when it began. Built once (they run per message).
_LOCK_SHARED = sa.select(
    sa.func.pg_advisory_xact_lock_shared(
        sa.func.hashtextextended(sa.bindparam("owner", type_=sa.Text), _LOCK_SPACE)
    )
)


@cache
def _erased(table: sa.Table) -> sa.Select[tuple[UUID]]:
    return sa.select(table.c.owner_id).where(table.c.owner_id == sa.bindparam("owner"))


async def is_erased(session: AsyncSession | DirectUnit, table: sa.Table, owner_id: UUID) -> bool:
    """Whether the owner is erased; holds the owner's lock shared until the transaction ends.

    Asked again in the same transaction (a group of messages committed together), the first
    answer stands without a statement: the lock held since then keeps any erasure of the owner
    from committing before this transaction ends."""
    key = (table.fullname, owner_id)
    checked = _checked_in(session)
    if checked is not None and key in checked:
        answer = checked[key]
        if isinstance(answer, db.Pending):  # asked ahead (`ask_erased`)
            answer = checked[key] = await answer.row() is not None
        return answer
    if isinstance(session, DirectUnit):
        # In pipeline mode the lock goes with the read; PostgreSQL still runs them in turn, and
        # the read's snapshot is taken once the lock is held.
        await db.execute(session.connection, _LOCK_SHARED, {"owner": str(owner_id)})
        found = await db.fetch_one(session.connection, _erased(table), {"owner": owner_id})
        erased = found is not None
    else:
        await session.execute(_LOCK_SHARED, {"owner": str(owner_id)})
        erased = await session.scalar(_erased(table), {"owner": owner_id}) is not None
    checked = _checked_in(session)  # the transaction the lock is now held in
    if checked is not None:
        checked[key] = erased
    return erased


async def ask_erased(unit: DirectUnit, table: sa.Table, owner_ids: Iterable[UUID | None]) -> None:
    """Send `is_erased`'s statements for each owner not yet asked in this direct unit, reading
    no answer: a group's read ahead (`runtime.staged.ReadAhead`), which `is_erased` then answers
    without another round trip. The locks are taken as they are sent, as `is_erased` takes them."""
    checked = _checked_in(unit)
    assert checked is not None  # a direct unit is one transaction
    for owner_id in dict.fromkeys(owner_ids):  # in the messages' order, each once
        if owner_id is None or (key := (table.fullname, owner_id)) in checked:
            continue
        await db.execute(unit.connection, _LOCK_SHARED, {"owner": str(owner_id)})
        checked[key] = await db.send(unit.connection, _erased(table), {"owner": owner_id})


_CHECKED = "runtime.erasure.checked"
Answers = dict[tuple[str, UUID], bool | db.Pending]  # `db.Pending`: asked ahead, not yet read


def _checked_in(session: AsyncSession | DirectUnit) -> Answers | None:
    """The owners checked in the session's current transaction and their answers (None: no
    transaction has begun). A direct unit is one transaction."""
    if isinstance(session, DirectUnit):
        direct: Answers = session.info.setdefault(_CHECKED, {})
        return direct
    transaction = session.sync_session.get_transaction()
    if transaction is None:
        return None
    held = session.info.get(_CHECKED)
    if held is None or held[0] is not transaction:  # holding it keeps its id from being reused
        held = session.info[_CHECKED] = (transaction, {})
    checked: Answers = held[1]
    return checked


Unit = TypeVar("Unit", AsyncSession, DirectUnit)


def unless_erased(
    table: sa.Table, handler: Callable[[Envelope[Any], Unit], Awaitable[Sequence[BaseModel]]]
) -> Callable[[Envelope[Any], Unit], Awaitable[Sequence[BaseModel]]]:
    """`handler`, except for a message whose owner is erased: acknowledged, with no effect. The
    handler runs on a session, or on a direct group commit's unit."""

    async def guarded(envelope: Envelope[Any], session: Unit) -> Sequence[BaseModel]:
        owner_id = envelope.owner_id
        if owner_id is not None and await is_erased(session, table, owner_id):
            log.info("consumer.owner_erased", type=envelope.type)
            return []
        return await handler(envelope, session)

    return guarded
