"""The inbox: a consumer records each message id it applies, in the transaction that applies it."""

from __future__ import annotations

from functools import cache
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession


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


async def seen(session: AsyncSession, inbox: sa.Table, message_id: UUID, consumer: str) -> bool:
    """Whether `consumer` has already applied `message_id`."""
    found = await session.scalar(
        sa.select(sa.literal(True)).where(
            inbox.c.message_id == message_id, inbox.c.consumer == consumer
        )
    )
    return bool(found)
