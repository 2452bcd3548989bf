"""Sessions and tokens on a real database: idle and absolute ends, and last use refreshed without a
write per request."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway import auth
from gateway.audit.repository import ClientInfo
from gateway.identity.repository import SessionRepository
from gateway.models import api_tokens, sessions
from gateway.users.repository import UserRepository
from runtime import db

pytestmark = pytest.mark.integration

IDLE = timedelta(minutes=30)
CLIENT = ClientInfo("127.0.0.1", "pytest")


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    made = db.create_engine(database_url, pool_size=3)
    yield made
    await made.dispose()


async def new_user(engine: AsyncEngine) -> Any:
    async with db.create_sessionmaker(engine).begin() as session:
        return await UserRepository(session).get_or_add_by_email(f"{auth.new_secret()}@x.io")


async def new_session(engine: AsyncEngine, lifetime: timedelta = timedelta(hours=12)) -> str:
    secret = auth.new_secret()
    user_id = await new_user(engine)
    async with db.create_sessionmaker(engine).begin() as session:
        await SessionRepository(session).add(user_id, auth.hash_token(secret), lifetime, CLIENT)
    return secret


async def live(engine: AsyncEngine, secret: str) -> Any:
    async with db.create_sessionmaker(engine).begin() as session:
        return await SessionRepository(session).get_live(auth.hash_token(secret), IDLE)


async def backdate(
    engine: AsyncEngine, table: sa.Table, column: str, secret_hash: bytes, ago: str
) -> None:
    key = table.c.secret_hash if table is sessions else table.c.token_hash
    async with engine.begin() as conn:
        await conn.execute(
            sa.update(table)
            .where(key == secret_hash)
            .values({column: sa.func.now() - sa.text(f"interval '{ago}'")})
        )


async def test_a_session_ends_after_its_idle_timeout(engine: AsyncEngine) -> None:
    secret = await new_session(engine)
    assert await live(engine, secret) is not None

    await backdate(engine, sessions, "last_seen_at", auth.hash_token(secret), "31 minutes")

    assert await live(engine, secret) is None


async def test_a_session_in_use_ends_at_its_absolute_lifetime(engine: AsyncEngine) -> None:
    secret = await new_session(engine, lifetime=timedelta(seconds=-1))

    assert await live(engine, secret) is None


async def test_using_a_session_keeps_it_alive_refreshing_last_seen_once_a_minute(
    engine: AsyncEngine,
) -> None:
    secret = await new_session(engine)
    await backdate(engine, sessions, "last_seen_at", auth.hash_token(secret), "29 minutes")

    seen = await live(engine, secret)
    again = await live(engine, secret)

    assert seen is not None
    assert again is not None
    assert again.last_seen_at > seen.last_seen_at  # refreshed: 29 minutes idle is stale
    assert await live(engine, secret) == again  # within the minute: no new write


async def row_version(engine: AsyncEngine, token_hash: bytes) -> str:
    async with engine.connect() as conn:
        xmin = await conn.scalar(
            sa.select(sa.literal_column("xmin::text"))
            .select_from(api_tokens)
            .where(api_tokens.c.token_hash == token_hash)
        )
    return str(xmin)


async def test_authenticating_with_a_token_writes_its_last_use_at_most_once_a_minute(
    engine: AsyncEngine,
) -> None:
    token = auth.new_token()
    token_hash = auth.hash_token(token)
    user_id = await new_user(engine)
    async with db.create_sessionmaker(engine).begin() as session:
        await UserRepository(session).add_token(
            user_id, "t", token_hash, auth.display_prefix(token)
        )
    maker = db.create_sessionmaker(engine)

    async with maker.begin() as session:
        await UserRepository(session).get_live_token(token_hash)
    written = await row_version(engine, token_hash)
    for _ in range(3):
        async with maker.begin() as session:
            found = await UserRepository(session).get_live_token(token_hash)
            assert found is not None
            assert found.last_used_at is not None

    assert await row_version(engine, token_hash) == written  # no write since the first


async def test_a_request_does_not_wait_for_another_refreshing_the_same_token(
    engine: AsyncEngine,
) -> None:
    token = auth.new_token()
    token_hash = auth.hash_token(token)
    user_id = await new_user(engine)
    maker = db.create_sessionmaker(engine)
    async with maker.begin() as session:
        await UserRepository(session).add_token(
            user_id, "t", token_hash, auth.display_prefix(token)
        )

    async with maker.begin() as holding:  # a long request that refreshed it and is still open
        assert await UserRepository(holding).get_live_token(token_hash) is not None
        async with maker.begin() as other:
            # Would block until `holding` ends without SKIP LOCKED; the guard only ends a hang.
            found = await asyncio.wait_for(UserRepository(other).get_live_token(token_hash), 10)
        assert found is not None
