"""The inbox: a consumer records each message id it applies, in the transaction that applies it."""

from __future__ import annotations

from functools import cache
from typing import Any
from uuid import UUID

import psycopg
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.dialects.postgresql import UUID as PgUUID
from sqlalchemy.ext.asyncio import AsyncSession

from runtime import db


@cache
def _claim_statement(inbox: sa.Table) -> sa.Insert:
    # Built once per table: SQLAlchemy then skips rebuilding and re-keying it on every message.
    return (
        insert(inbox)
        .values(message_id=sa.bindparam("message_id"), consumer=sa.bindparam("consumer"))
        .on_conflict_do_nothing()
        .returning(inbox.c.message_id)
    )


async def claim(session: AsyncSession, inbox: sa.Table, message_id: UUID, consumer: str) -> bool:
    """True the first time `consumer` sees `message_id`; False for a redelivery or a duplicate."""
    result = await session.execute(
        _claim_statement(inbox), {"message_id": message_id, "consumer": consumer}
    )
    return result.first() is not None


async def claim_many(
    session: AsyncSession, inbox: sa.Table, message_ids: list[UUID], consumer: str
) -> set[UUID]:
    """The ids among `message_ids` that `consumer` sees for the first time (one statement)."""
    if not message_ids:
        return set()
    result = await session.execute(
        insert(inbox).on_conflict_do_nothing().returning(inbox.c.message_id),
        [{"message_id": m, "consumer": consumer} for m in message_ids],
    )
    return set(result.scalars())


async def send_claim(
    connection: psycopg.AsyncConnection[Any],
    inbox: sa.Table,
    message_ids: list[UUID],
    consumer: str,
) -> db.Pending:
    """`claim_many` on a direct group commit's psycopg connection (one statement), sent: what
    else the group reads ahead travels with it (`runtime.staged`); `claimed` reads its answer."""
    return await db.send(
        connection, _claim_all_statement(inbox), {"ids": message_ids, "consumer": consumer}
    )


async def claimed(claim: db.Pending) -> set[UUID]:
    """The ids a sent claim (`send_claim`) claimed for the first time."""
    row = await claim.row()
    return set(row["claimed"] or ()) if row is not None else set()


@cache
def _claim_all_statement(inbox: sa.Table) -> sa.Select[Any]:
    # One row back (the ids claimed, as an array): a fetch of one row syncs a pipeline once.
    ids = sa.func.unnest(sa.bindparam("ids", type_=ARRAY(PgUUID(as_uuid=True))))
    claimed = (
        insert(inbox)
        .from_select(
            ["message_id", "consumer"], sa.select(ids, sa.bindparam("consumer", type_=sa.Text))
        )
        .on_conflict_do_nothing()
        .returning(inbox.c.message_id)
        .cte("claimed")
    )
    return sa.select(sa.func.array_agg(claimed.c.message_id).label("claimed"))


async def seen(session: AsyncSession, inbox: sa.Table, message_id: UUID, consumer: str) -> bool:
    """Whether `consumer` has already applied `message_id`."""
    found = await session.scalar(
        sa.select(sa.literal(True)).where(
            inbox.c.message_id == message_id, inbox.c.consumer == consumer
        )
    )
    return bool(found)
