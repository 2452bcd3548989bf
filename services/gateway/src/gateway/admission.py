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
from collections.abc import AsyncIterator, MutableMapping
from contextlib import asynccontextmanager
from typing import Any


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
        slot = await self.acquire()
        try:
            yield slot
        finally:
            slot.release()

    async def acquire(self) -> Slot:
        """A slot its holder gives back (`Slot.release`); for a request, see `admit`."""
        await self._semaphore.acquire()
        return Slot(self._semaphore)

    async def admit(self, scope: MutableMapping[str, Any]) -> Slot:
        """A slot for the rest of the request `scope`, taken by a plain dependency rather than a
        generator one (FastAPI's exit stack and cancel scope around a generator dependency cost
        the listed page about 8 % of its CPU). Its route gives it back as soon as it is done with
        the database; the request's middleware gives it back at the latest once the response is
        sent (`release_admitted`), e.g. when the request's parameters failed validation after the
        dependency had run."""
        slot = await self.acquire()
        scope.setdefault("state", {})[_ADMITTED] = slot
        return slot


_ADMITTED = "admitted_slot"


def release_admitted(scope: MutableMapping[str, Any]) -> None:
    """Gives back the slot `Admission.admit` took for the request, if its route has not."""
    slot = scope.get("state", {}).get(_ADMITTED)
    if slot is not None:
        slot.release()
