"""Completion notices through PostgreSQL LISTEN/NOTIFY, on a real database."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import sqlalchemy as sa

from gateway.notifications import COMPILATION_COMPLETED, TOKEN_REVOKED, Notifications, TokenCache
from runtime import db

pytestmark = pytest.mark.integration


async def test_a_waiter_wakes_when_the_completion_commits_and_not_before(database_url: str) -> None:
    tokens = TokenCache()
    waiters = Notifications(database_url, tokens)
    waiters.start()
    engine = db.create_engine(database_url, pool_size=1)
    compilation_id = uuid.uuid4()
    other = waiters.register(uuid.uuid4())
    completed = waiters.register(compilation_id)
    try:
        await asyncio.sleep(0.3)  # let the listener connect
        async with engine.connect() as conn:
            await conn.execute(
                sa.select(sa.func.pg_notify(COMPILATION_COMPLETED, str(compilation_id)))
            )
            await asyncio.sleep(0.3)
            assert completed.is_set() is False  # not committed yet
            await conn.commit()
        await asyncio.wait_for(completed.wait(), timeout=5)
        assert other.is_set() is False
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
        for _ in range(100):
            if notifications.listening:
                break
            await asyncio.sleep(0.05)
        assert notifications.listening is True
        tokens.put(b"hash", user_id)
        assert tokens.get(b"hash") == user_id
        async with engine.begin() as conn:
            await conn.execute(sa.select(sa.func.pg_notify(TOKEN_REVOKED, "")))
        for _ in range(100):
            if tokens.get(b"hash") is None:
                break
            await asyncio.sleep(0.05)
        assert tokens.get(b"hash") is None
    finally:
        await notifications.stop()
        await engine.dispose()
