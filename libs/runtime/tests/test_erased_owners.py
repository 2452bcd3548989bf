"""The erased-owner check on a real database: once per owner and transaction, since the lock it
takes keeps the owner's erasure from committing until that transaction ends."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from runtime import db
from runtime.erasure import erased_owners_table, is_erased, mark_erased

pytestmark = pytest.mark.integration


@pytest.fixture
async def erased(database_url: str) -> AsyncIterator[tuple[AsyncEngine, sa.Table, list[str]]]:
    """An engine, an erased-owners table in a schema of its own, and every statement the engine
    sends from then on."""
    schema = f"er_{uuid.uuid4().hex[:8]}"
    metadata = sa.MetaData(schema=schema)
    table = erased_owners_table(metadata)
    engine = db.create_engine(database_url, pool_size=2)
    async with engine.begin() as conn:
        await conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        await conn.run_sync(metadata.create_all)
    sent: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        sent.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield engine, table, sent
    finally:
        async with engine.begin() as conn:
            await conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        await engine.dispose()


async def test_an_owner_is_checked_once_per_transaction(
    erased: tuple[AsyncEngine, sa.Table, list[str]],
) -> None:
    engine, table, sent = erased
    owner, other = uuid.uuid4(), uuid.uuid4()
    sessions = db.create_sessionmaker(engine)
    async with sessions() as session:
        async with session.begin():
            assert [await is_erased(session, table, owner) for _ in range(3)] == [False] * 3
            assert len(sent) == 2  # the shared lock and the read, once
            assert not await is_erased(session, table, other)
            assert len(sent) == 4  # another owner is checked on its own
        sent.clear()

        # Erased in between, by another transaction: the same session's next one sees it.
        async with sessions.begin() as eraser:
            await mark_erased(eraser, table, owner)
        sent.clear()
        async with session.begin():
            assert await is_erased(session, table, owner)
            assert await is_erased(session, table, owner)
            assert len(sent) == 2
