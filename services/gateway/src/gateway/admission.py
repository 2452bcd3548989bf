"""A fair bound on the requests using the database at once.

Past the bound a request waits here, in arrival order, before it has taken anything: no session,
no connection, no token check. Waiting in the connection pool instead is not fair (asyncio's queue
lets a newcomer take a connection a woken waiter was about to get), which under saturation leaves
some requests waiting seconds while most take milliseconds. `DATABASE_POOL_SIZE` requests are
admitted; the pool holds as many connections again for what a request may open besides its own
session, and for the consumers and the outbox relay (runtime/db.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class Slot:
    """A request's place among those admitted; `release()` gives it up early (before a wait that
    holds no connection) and is safe to call again."""

    def __init__(self, semaphore: asyncio.Semaphore) -> None:
        self._semaphore: asyncio.Semaphore | None = semaphore

    def release(self) -> None:
        if self._semaphore is not None:
            self._semaphore.release()
            self._semaphore = None


class Admission:
    def __init__(self, pool_size: int) -> None:
        self.limit = pool_size
        # asyncio.Semaphore is first come, first served: a newcomer never passes a waiter.
        self._semaphore = asyncio.Semaphore(self.limit)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[Slot]:
        await self._semaphore.acquire()
        slot = Slot(self._semaphore)
        try:
            yield slot
        finally:
            slot.release()
