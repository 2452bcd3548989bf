"""The erased-owner check on a real database: once per owner and transaction, since the lock it
takes keeps the owner's erasure from committing until that transaction ends."""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from runtime import db
from runtime.db import DirectUnit
from runtime.erasure import ask_erased, erased_owners_table, is_erased, mark_erased

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


async def test_a_direct_check_waits_for_an_erasure_in_flight_and_then_sees_it(
    erased: tuple[AsyncEngine, sa.Table, list[str]], database_url: str
) -> None:
    """On a direct group commit's connection the lock and the read go out together (pipeline
    mode): the read must still see an erasure that committed while the lock was awaited."""
    engine, table, _ = erased
    owner = uuid.uuid4()
    async with await psycopg.AsyncConnection.connect(
        db.libpq_url(database_url), autocommit=True
    ) as connection:

        async def check() -> bool:
            async with connection.pipeline(), connection.transaction():
                unit = DirectUnit(connection)
                return [await is_erased(unit, table, owner) for _ in range(2)] == [True, True]

        async with db.create_sessionmaker(engine).begin() as eraser:
            await mark_erased(eraser, table, owner)  # holds the owner's lock until it commits
            checking = asyncio.create_task(check())
            await asyncio.sleep(0.3)
            assert not checking.done()  # waiting for the lock
        assert await asyncio.wait_for(checking, 10)


async def test_owners_asked_ahead_wait_for_an_erasure_in_flight_and_answer_without_a_statement(
    erased: tuple[AsyncEngine, sa.Table, list[str]], database_url: str
) -> None:
    """`ask_erased` sends each owner's lock and read once, as a group's read ahead; `is_erased`
    then answers from them, the erasure that committed while the lock was awaited included."""
    engine, table, _ = erased
    owner, other = uuid.uuid4(), uuid.uuid4()
    async with await psycopg.AsyncConnection.connect(
        db.libpq_url(database_url), autocommit=True
    ) as connection:

        async def check() -> tuple[list[bool], str]:
            async with connection.pipeline(), connection.transaction():
                unit = DirectUnit(connection)
                await ask_erased(unit, table, [owner, None, other, owner])
                first = await is_erased(unit, table, owner)  # fetches every answer sent ahead
                with tempfile.TemporaryFile() as trace:
                    connection.pgconn.trace(trace.fileno())  # what goes out from here on
                    rest = [await is_erased(unit, table, o) for o in (other, owner)]
                    connection.pgconn.untrace()
                    trace.seek(0)
                    return [first, *rest], trace.read().decode()

        async with db.create_sessionmaker(engine).begin() as eraser:
            await mark_erased(eraser, table, owner)  # holds the owner's lock until it commits
            checking = asyncio.create_task(check())
            await asyncio.sleep(0.3)
            assert not checking.done()  # waiting for the lock
        answers, sent = await asyncio.wait_for(checking, 10)
    assert answers == [True, False, True]
    assert sent == ""  # the other owner too was asked ahead
