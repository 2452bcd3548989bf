"""Pruning expired rows against a real PostgreSQL: only the old ones go, in batches."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from runtime import db
from runtime.retention import DAY, Pruner, Retention

pytestmark = pytest.mark.integration


@pytest.fixture
async def inbox(
    database_url: str,
) -> AsyncIterator[tuple[sa.Table, async_sessionmaker[AsyncSession]]]:
    schema = f"ret_{uuid.uuid4().hex[:8]}"
    metadata = db.service_metadata(schema)
    engine = db.create_engine(database_url, pool_size=2)
    async with engine.begin() as conn:
        await conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        await conn.run_sync(metadata.create_all)
    try:
        yield metadata.tables[f"{schema}.processed_messages"], db.create_sessionmaker(engine)
    finally:
        async with engine.begin() as conn:
            await conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        await engine.dispose()


async def add(
    sessionmaker: async_sessionmaker[AsyncSession], table: sa.Table, days_ago: float, n: int
) -> None:
    async with sessionmaker.begin() as session:
        await session.execute(
            sa.insert(table),
            [
                {
                    "message_id": uuid.uuid4(),
                    "consumer": "c",
                    "processed_at": datetime.now(UTC) - timedelta(days=days_ago),
                }
                for _ in range(n)
            ],
        )


async def remaining(sessionmaker: async_sessionmaker[AsyncSession], table: sa.Table) -> int:
    async with sessionmaker() as session:
        return int(await session.scalar(sa.select(sa.func.count()).select_from(table)) or 0)


async def test_rows_older_than_their_retention_are_deleted_in_batches_and_counted(
    inbox: tuple[sa.Table, async_sessionmaker[AsyncSession]],
) -> None:
    table, sessionmaker = inbox
    await add(sessionmaker, table, days_ago=40, n=7)
    await add(sessionmaker, table, days_ago=29, n=3)
    before = REGISTRY.get_sample_value("retention_pruned_rows_total", {"table": table.fullname})

    pruner = Pruner(sessionmaker, [Retention(table, "processed_at", 30 * DAY)], batch=2)
    deleted = await pruner.prune()

    assert deleted == {table.fullname: 7}
    assert await remaining(sessionmaker, table) == 3
    after = REGISTRY.get_sample_value("retention_pruned_rows_total", {"table": table.fullname})
    assert after == (before or 0) + 7
    assert await pruner.prune() == {table.fullname: 0}
