"""Reads for the staging step, outside any transaction: each in an autocommit session of its own."""

from __future__ import annotations

import time
from collections import OrderedDict
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from testrunner.domain import CachedResponse, Run
from testrunner.repository import ResponseCacheRepository, RunRepository


class StoredLookups:
    """Per replica: each run read once, then re-read (for its status) at most every `ttl` s."""

    def __init__(
        self, reader: async_sessionmaker[AsyncSession], ttl: float = 1.0, size: int = 256
    ) -> None:
        self._reader = reader
        self._ttl = ttl
        self._size = size
        self._runs: OrderedDict[UUID, tuple[float, Run]] = OrderedDict()

    async def run(self, run_id: UUID) -> Run | None:
        cached = self._runs.get(run_id)
        if cached is not None and time.monotonic() - cached[0] < self._ttl:
            return cached[1]
        async with self._reader() as session:
            run = await RunRepository(session).get(run_id)
        if run is None:
            return None
        self._runs[run_id] = (time.monotonic(), run)
        self._runs.move_to_end(run_id)
        while len(self._runs) > self._size:
            self._runs.popitem(last=False)
        return run

    async def cached_response(self, key: str) -> CachedResponse | None:
        async with self._reader() as session:
            return await ResponseCacheRepository(session).get(key)
