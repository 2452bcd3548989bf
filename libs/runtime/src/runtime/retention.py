"""Rows kept only for a while, pruned on a schedule: the inbox, and what a service adds (the
test-runner's response cache). Without it both grow for ever.

The inbox must outlive every way a message can come back: a redelivery while it is in its stream
(7 days) and a dead-letter replay (the dead letters are kept 30 days), hence its 30-day default
and 8-day floor. Every replica prunes; `SKIP LOCKED` keeps them out of each other's way, and
batches keep each transaction short.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass

import sqlalchemy as sa
import structlog
from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

log = structlog.get_logger()

DAY = 86400.0
DEFAULT_INTERVAL_SECONDS = 3600.0
BATCH_ROWS = 5000

pruned_rows = Counter(
    "retention_pruned_rows", "Rows deleted for being older than their retention.", ["table"]
)


@dataclass(frozen=True)
class Retention:
    """Rows of `table` whose `column` (a timestamp) is older than `keep_seconds` are deleted."""

    table: sa.Table
    column: str
    keep_seconds: float


def _prune_statement(rule: Retention, batch: int) -> sa.Delete:
    table = rule.table
    seconds = sa.cast(sa.literal(rule.keep_seconds), sa.Float)
    cutoff = sa.func.now() - sa.func.make_interval(0, 0, 0, 0, 0, 0, seconds)
    oldest: sa.Select[tuple[object]] = (
        sa.select(sa.literal_column("ctid"))
        .select_from(table)
        .where(table.c[rule.column] < cutoff)
        .limit(batch)
        .with_for_update(skip_locked=True)
    )
    return sa.delete(table).where(
        sa.literal_column("ctid") == sa.func.any(sa.func.array(oldest.scalar_subquery()))
    )


class Pruner:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        rules: Sequence[Retention],
        *,
        interval: float = DEFAULT_INTERVAL_SECONDS,
        batch: int = BATCH_ROWS,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._rules = tuple(rules)
        self._interval = interval
        self._batch = batch

    async def run(self, stop: asyncio.Event) -> None:
        """Prune every `interval` (the first time at a random point within it, so that replicas
        started together do not prune together) until `stop` is set."""
        wait = random.uniform(0, self._interval)  # spreads replicas out; not a secret
        while not stop.is_set():
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=wait)
            if stop.is_set():
                return
            try:
                await self.prune()
            except Exception as exc:  # the database may be away; try again next time
                log.warning("retention.prune_failed", error=repr(exc))
            wait = self._interval

    async def prune(self) -> dict[str, int]:
        """Delete every expired row now, batch by batch; how many per table."""
        deleted: dict[str, int] = {}
        for rule in self._rules:
            name = rule.table.fullname
            deleted[name] = 0
            while True:
                async with self._sessionmaker.begin() as session:
                    result = await session.execute(_prune_statement(rule, self._batch))
                count = int(getattr(result, "rowcount", 0) or 0)
                deleted[name] += count
                pruned_rows.labels(name).inc(count)
                if count < self._batch:
                    break
        if any(deleted.values()):
            log.info("retention.pruned", rows=deleted)
        return deleted
