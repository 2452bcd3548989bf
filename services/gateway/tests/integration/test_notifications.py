"""Completion notices through PostgreSQL LISTEN/NOTIFY, on a real database."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import sqlalchemy as sa

from gateway.notifications import CHANNEL, CompletionWaiters
from runtime import db

pytestmark = pytest.mark.integration


async def test_a_waiter_wakes_when_the_completion_commits_and_not_before(database_url: str) -> None:
    waiters = CompletionWaiters(database_url)
    waiters.start()
    engine = db.create_engine(database_url, pool_size=1)
    compilation_id = uuid.uuid4()
    other = waiters.register(uuid.uuid4())
    completed = waiters.register(compilation_id)
    try:
        await asyncio.sleep(0.3)  # let the listener connect
        async with engine.connect() as conn:
            await conn.execute(sa.select(sa.func.pg_notify(CHANNEL, str(compilation_id))))
            await asyncio.sleep(0.3)
            assert completed.is_set() is False  # not committed yet
            await conn.commit()
        await asyncio.wait_for(completed.wait(), timeout=5)
        assert other.is_set() is False
    finally:
        waiters.unregister(compilation_id, completed)
        await waiters.stop()
        await engine.dispose()
