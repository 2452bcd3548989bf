"""The erasure's start and progress in the gateway, on a real database: one saga however often
it is asked for, complete only once every service has erased every part."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.agents.repository import AgentRepository
from gateway.errors import ApiError
from gateway.messages import OUTBOX
from gateway.models import agents, api_tokens, erasure_parts, users
from gateway.privacy import service
from gateway.privacy.repository import ErasureParts, ErasureRepository
from gateway.privacy.schemas import ErasureAccepted, ErasurePublic
from gateway.users.repository import UserRepository
from runtime import db

pytestmark = pytest.mark.integration


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    made = db.create_engine(database_url, pool_size=3)
    yield made
    await made.dispose()


async def new_user(engine: AsyncEngine, agents_count: int) -> uuid.UUID:
    async with db.create_sessionmaker(engine).begin() as session:
        users_ = UserRepository(session)
        user_id = await users_.get_or_add_by_email(f"u{uuid.uuid4().hex[:10]}@example.com")
        await users_.add_token(user_id, "test", uuid.uuid4().bytes, "sas_abcdef")
        for i in range(agents_count):
            await AgentRepository(session).add(user_id, f"agent {i}", "")
    return user_id


async def count(engine: AsyncEngine, table: sa.Table, *where: sa.ColumnElement[bool]) -> int:
    async with engine.connect() as conn:
        found = await conn.scalar(sa.select(sa.func.count()).select_from(table).where(*where))
    return int(found or 0)


async def test_a_second_erasure_racing_the_first_answers_the_same_one(engine: AsyncEngine) -> None:
    user_id = await new_user(engine, agents_count=2)
    sessions = db.create_sessionmaker(engine)
    outbox_before = await count(engine, OUTBOX)

    async with sessions() as first:
        started = await service.erase_user(first, user_id, uuid.uuid4())

        async def second() -> ErasureAccepted:
            async with sessions.begin() as session:  # waits on the user's row until the commit
                return await service.erase_user(session, user_id, uuid.uuid4())

        racing = asyncio.create_task(second())
        await first.commit()
    again = await racing

    assert started.status_token is not None
    assert (again.id, again.status_url, again.status_token) == (
        started.id,
        started.status_url,
        None,
    )
    assert await count(engine, OUTBOX) - outbox_before == 3  # one command per service, once
    assert await count(engine, erasure_parts, erasure_parts.c.erasure_id == started.id) == 3
    assert await count(engine, users, users.c.id == user_id) == 0
    assert await count(engine, api_tokens, api_tokens.c.user_id == user_id) == 0
    assert await count(engine, agents, agents.c.owner_id == user_id) == 0


async def test_the_erasure_completes_with_its_last_part_and_needs_its_token(
    engine: AsyncEngine,
) -> None:
    user_id = await new_user(engine, agents_count=0)
    sessions = db.create_sessionmaker(engine)
    async with sessions.begin() as session:
        started = await service.erase_user(session, user_id, uuid.uuid4())
    assert started.status_token is not None

    completed = []
    for name in ("compiler", "publisher", "publisher", "test-runner"):  # a repeat among them
        async with sessions.begin() as session:
            completed.append(await ErasureParts(session).record_part(started.id, name, 0))
    async with sessions() as session:
        shown = await service.erasure_status(session, started.id, started.status_token)
        with pytest.raises(ApiError) as wrong:
            await service.erasure_status(session, started.id, "ers_wrong")

    assert completed == [False, False, False, True]
    assert shown.status == "completed"
    assert shown.completed_at is not None
    assert [(s.service, s.parts, s.erased_parts) for s in shown.services] == [
        ("compiler", 1, 1),
        ("test-runner", 1, 1),
        ("publisher", 1, 1),
    ]
    assert wrong.value.status_code == 404


async def test_a_failed_part_fails_the_erasure_until_it_is_erased(engine: AsyncEngine) -> None:
    user_id = await new_user(engine, agents_count=0)
    sessions = db.create_sessionmaker(engine)
    async with sessions.begin() as session:
        started = await service.erase_user(session, user_id, uuid.uuid4())
    assert started.status_token is not None
    token = started.status_token

    async def record(step: str, name: str) -> None:
        async with sessions.begin() as session:
            if step == "erased":
                await ErasureParts(session).record_part(started.id, name, 0)
            else:
                await ErasureRepository(session).fail_part(started.id, name, 0, f"{name} gave up")

    async def status() -> ErasurePublic:
        async with sessions() as session:
            return await service.erasure_status(session, started.id, token)

    await record("erased", "publisher")
    await record("failed", "publisher")  # a dead letter after the part was erased: ignored
    await record("failed", "compiler")
    failed = await status()
    await record("erased", "test-runner")
    await record("erased", "compiler")  # the command replayed after the fix
    done = await status()

    assert (failed.status, failed.completed_at) == ("failed", None)
    assert [(s.service, s.erased_parts, s.failed_parts, s.reason) for s in failed.services] == [
        ("compiler", 0, 1, "compiler gave up"),
        ("test-runner", 0, 0, None),
        ("publisher", 1, 0, None),
    ]
    assert done.status == "completed"
    assert done.completed_at is not None
    assert [(s.erased_parts, s.failed_parts, s.reason) for s in done.services] == [(1, 0, None)] * 3
