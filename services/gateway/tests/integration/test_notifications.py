"""Completion notices through PostgreSQL LISTEN/NOTIFY, on a real database."""

from __future__ import annotations

import asyncio
import uuid

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.agents.repository import PENDING, PENDING_OR_DEAD_LETTERED
from gateway.models import agents, compilations, users
from gateway.notifications import COMPILATION_COMPLETED, TOKEN_REVOKED, Notifications, TokenCache
from gateway.publishing.repository import PublishRepository, PublishRequest
from gateway.specs import service
from gateway.specs.repository import CompilationOutcomes
from gateway.specs.schemas import CompilationPublic
from runtime import db
from tests.support.waiting import eventually_async

pytestmark = pytest.mark.integration


async def add_owned_agent(session: AsyncSession, owner_id: uuid.UUID, agent_id: uuid.UUID) -> None:
    await session.execute(sa.insert(users).values(id=owner_id, email=f"{owner_id}@x.io"))
    await session.execute(sa.insert(agents).values(id=agent_id, owner_id=owner_id, name="a"))


async def test_a_waiter_wakes_when_the_completion_commits_and_not_before(database_url: str) -> None:
    tokens = TokenCache()
    waiters = Notifications(database_url, tokens)
    waiters.start()
    engine = db.create_engine(database_url, pool_size=1)
    compilation_id = uuid.uuid4()
    other = waiters.register(uuid.uuid4())
    completed = waiters.register(compilation_id)
    try:
        await eventually_async(lambda: waiters.listening, what="the listener connecting")
        async with engine.connect() as conn:
            await conn.execute(
                sa.select(sa.func.pg_notify(COMPILATION_COMPLETED, str(compilation_id)))
            )
            await asyncio.sleep(0.3)  # a window for a wrong early wake-up to show
            assert completed.woken.is_set() is False  # not committed yet
            await conn.commit()
        await asyncio.wait_for(completed.woken.wait(), timeout=5)
        assert other.woken.is_set() is False
    finally:
        waiters.unregister(compilation_id, completed)
        await waiters.stop()
        await engine.dispose()


async def test_a_revocation_notice_empties_the_token_cache(database_url: str) -> None:
    tokens = TokenCache()
    notifications = Notifications(database_url, tokens)
    notifications.start()
    engine = db.create_engine(database_url, pool_size=1)
    user_id = uuid.uuid4()
    try:
        await eventually_async(lambda: notifications.listening, what="the listener connecting")
        tokens.put(b"hash", user_id)
        assert tokens.get(b"hash") == user_id
        async with engine.begin() as conn:
            await conn.execute(sa.select(sa.func.pg_notify(TOKEN_REVOKED, "")))
        await eventually_async(lambda: tokens.get(b"hash") is None, what="the token cache emptying")
    finally:
        await notifications.stop()
        await engine.dispose()


async def test_a_publish_wait_wakes_on_the_outcome_committed_by_the_handler(
    database_url: str,
) -> None:
    """The handler completing a publish request notifies in its transaction, the notice carrying
    the request as completed: the wait answers with it at once, without reading it again, nor
    waiting for its once-a-second check."""
    waiters = Notifications(database_url, TokenCache())
    waiters.start()
    engine = db.create_engine(database_url, pool_size=2)
    sessions = db.create_sessionmaker(engine)
    owner_id, agent_id, request_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    try:
        await eventually_async(lambda: waiters.listening, what="the listener connecting")
        async with sessions.begin() as session:
            await add_owned_agent(session, owner_id, agent_id)
            await PublishRepository(session).add(
                id=request_id, agent_id=agent_id, kind="move", channel="production", version=1
            )
        reads = 0

        async def read() -> str:
            nonlocal reads
            reads += 1
            async with sessions() as session:
                view = await PublishRepository(session).get(owner_id, agent_id, request_id)
            assert view is not None
            return str(view.status)

        async def complete_soon() -> None:
            await asyncio.sleep(0.2)
            async with sessions.begin() as session:
                await PublishRepository(session).complete(
                    request_id, PENDING, status="refused", reason="r"
                )

        completing = asyncio.create_task(complete_soon())
        started = asyncio.get_running_loop().time()
        status = await waiters.wait_for(
            request_id,
            read,
            lambda s: s != "pending",
            timeout=10,
            from_row=lambda row: str(PublishRequest.model_validate(row).status),
        )
        waited = asyncio.get_running_loop().time() - started
        await completing
        assert (status, reads) == ("refused", 1)
        assert waited < 0.9  # woken by the notice, not by the once-a-second re-read
    finally:
        await waiters.stop()
        await engine.dispose()


async def test_a_long_wait_reads_the_database_only_when_woken(database_url: str) -> None:
    """`?wait=` on a publish that completes late sends PostgreSQL one read at the start and one
    after the notice, not a read per tick: every statement the wait's engine sends is counted."""
    waiters = Notifications(database_url, TokenCache())
    waiters.start()
    engine = db.create_engine(database_url, pool_size=2)
    sessions = db.create_sessionmaker(engine)
    owner_id, agent_id, request_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    try:
        await eventually_async(lambda: waiters.listening, what="the listener connecting")
        async with sessions.begin() as session:
            await add_owned_agent(session, owner_id, agent_id)
            await PublishRepository(session).add(id=request_id, agent_id=agent_id, kind="publish")
        reading = db.create_engine(database_url, pool_size=1)
        statements: list[str] = []
        sa.event.listen(
            reading.sync_engine,
            "before_cursor_execute",
            lambda _conn, _cursor, sql, *_rest: statements.append(sql),
        )
        reader = db.create_sessionmaker(reading)

        async def read() -> str:
            async with reader() as session:
                view = await PublishRepository(session).get(owner_id, agent_id, request_id)
            assert view is not None
            return str(view.status)

        waiting = asyncio.create_task(
            waiters.wait_for(request_id, read, lambda s: s != "pending", timeout=30)
        )
        await eventually_async(lambda: len(statements) > 0, what="the first read")
        await asyncio.sleep(3.5)  # a late completion: the window in which polling would show
        first_read = list(statements)
        async with sessions.begin() as session:
            await PublishRepository(session).complete(request_id, PENDING, status="done", version=1)
        status = await asyncio.wait_for(waiting, timeout=10)

        assert status == "done"
        assert first_read == statements[: len(first_read)]
        assert len(statements) == 2 * len(first_read), statements
        await reading.dispose()
    finally:
        await waiters.stop()
        await engine.dispose()


@pytest.mark.parametrize(
    ("instructions", "reads"),
    [("You answer billing questions.", 1), ("x" * 9_000, 2)],
    ids=["carried-by-its-notice", "too-large-for-a-notice"],
)
async def test_a_compilation_wait_answers_from_the_notice_that_carries_the_row(
    database_url: str, instructions: str, reads: int
) -> None:
    """The completion's notice carries the compilation as completed, and the waiting request
    answers with it, reading the database once (before it waits) rather than twice: the same
    answer a read gives afterwards. A row too large for a notice (8,000 bytes) is sent as its
    id alone, and read again."""
    waiters = Notifications(database_url, TokenCache())
    waiters.start()
    engine = db.create_engine(database_url, pool_size=2)
    sessions = db.create_sessionmaker(engine)
    owner_id, agent_id, compilation_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    connection = await psycopg.AsyncConnection.connect(db.libpq_url(database_url), autocommit=True)
    try:
        await eventually_async(lambda: waiters.listening, what="the listener connecting")
        async with sessions.begin() as session:
            await add_owned_agent(session, owner_id, agent_id)
            await session.execute(
                sa.insert(compilations).values(
                    id=compilation_id, agent_id=agent_id, spec_revision=1
                )
            )
        read_count = 0

        async def read() -> CompilationPublic:
            nonlocal read_count
            read_count += 1
            return await service.get_compilation(connection, owner_id, agent_id, compilation_id)

        async def complete_soon() -> None:
            await asyncio.sleep(0.2)
            async with sessions.begin() as session:
                await CompilationOutcomes(session).complete(
                    compilation_id,
                    PENDING_OR_DEAD_LETTERED,
                    status="succeeded",
                    instructions=instructions,
                    sections=[{"title": "System Backbone", "body": "You answer."}],
                    spec_hash="abc",
                    compiler_version="1",
                    variables=[{"name": "company", "description": "Who", "required": True}],
                    token_count=7,
                    token_count_method="o200k_base",
                    reused_from=None,
                )

        completing = asyncio.create_task(complete_soon())
        answered = await waiters.wait_for(
            compilation_id,
            read,
            lambda found: found.status != "pending",
            timeout=10,
            from_row=service.completed_compilation,
        )
        await completing
        assert read_count == reads
        assert answered.status == "succeeded"
        assert answered.model_dump_json() == (await read()).model_dump_json()
    finally:
        await connection.close()
        await waiters.stop()
        await engine.dispose()
