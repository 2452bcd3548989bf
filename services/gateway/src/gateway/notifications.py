"""What every gateway replica hears from PostgreSQL `NOTIFY`, sent inside the transaction that
causes it (so it goes out exactly when that transaction commits), whichever replica or tool sent it:

- `gateway_compilation_completed`, `gateway_publish_completed`: wake requests waiting for that
  compilation, or that publish or channel move, to finish (`wait_for`). Waiters re-read the database
  only when woken: by their row's notice, or when the listener connects or loses its connection
  (notices may have been missed meanwhile): they then re-read every second until it is back. A
  notice's payload is the row's id, or the row itself as completed, as JSON with its `id` first
  (`agents.repository.complete_pending`): a waiter that can take the row from it (`from_row`)
  then answers without reading again.
- `gateway_token_revoked`: empties the token cache, so a revocation takes effect at once.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import Any, TypeVar
from uuid import UUID

import psycopg
import structlog

from runtime.db import libpq_url

log = structlog.get_logger()
T = TypeVar("T")

COMPILATION_COMPLETED = "gateway_compilation_completed"
PUBLISH_COMPLETED = "gateway_publish_completed"
TOKEN_REVOKED = "gateway_token_revoked"


class TokenCache:
    """Recently authenticated tokens (by hash): spares a database read on most requests.

    Entries live `ttl` seconds at most; a revocation notice empties the cache, and so does a
    reconnect of the listener (notices may have been missed while it was away).
    """

    def __init__(self, ttl: float = 30.0, max_entries: int = 10_000) -> None:
        self._ttl = ttl
        self._max = max_entries
        self._entries: OrderedDict[bytes, tuple[UUID, float]] = OrderedDict()

    def get(self, token_hash: bytes) -> UUID | None:
        entry = self._entries.get(token_hash)
        if entry is None or entry[1] < time.monotonic():
            return None
        return entry[0]

    def put(self, token_hash: bytes, user_id: UUID, valid_for: float | None = None) -> None:
        """Remember a token for `ttl` seconds, or less when it expires sooner (`valid_for`)."""
        ttl = self._ttl if valid_for is None else min(self._ttl, valid_for)
        self._entries[token_hash] = (user_id, time.monotonic() + ttl)
        self._entries.move_to_end(token_hash)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()


class Waiter:
    """A request waiting for a row's notice: woken, and given the row when the notice carries it."""

    __slots__ = ("row", "woken")

    def __init__(self) -> None:
        self.woken = asyncio.Event()
        self.row: dict[str, Any] | None = None


class Notifications:
    """One `LISTEN` connection per replica, feeding the waiters and the token cache."""

    def __init__(self, database_url: str, tokens: TokenCache) -> None:
        self._dsn = libpq_url(database_url)
        self._tokens = tokens
        self._waiters: dict[UUID, set[Waiter]] = {}
        self._task: asyncio.Task[None] | None = None
        self._listening = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._listen())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task

    @property
    def listening(self) -> bool:
        """False while the connection is down: the token cache is then bypassed."""
        return self._listening

    def register(self, row_id: UUID) -> Waiter:
        """Register before reading the state, so a completion between the read and the wait is seen."""
        waiter = Waiter()
        self._waiters.setdefault(row_id, set()).add(waiter)
        return waiter

    def unregister(self, row_id: UUID, waiter: Waiter) -> None:
        waiters = self._waiters.get(row_id)
        if waiters is not None:
            waiters.discard(waiter)
            if not waiters:
                del self._waiters[row_id]

    async def wait_for(
        self,
        row_id: UUID,
        read: Callable[[], Awaitable[T]],
        done: Callable[[T], bool],
        timeout: float,
        from_row: Callable[[dict[str, Any]], T] | None = None,
    ) -> T:
        """`read()` until `done` says so, or as it stands after `timeout` seconds. It reads again
        when the row's completion notice arrives, unless the notice carries the row and
        `from_row` makes the answer of it (`read` has already found the row the caller's, so the
        row is theirs); it polls, once a second, only while the listener is down (it wakes
        every waiter when it loses its connection). `read` should let go of its connection:
        the wait holds none."""
        waiter = self.register(row_id)
        try:
            deadline = asyncio.get_running_loop().time() + timeout
            found = await read()
            while True:
                remaining = deadline - asyncio.get_running_loop().time()
                if done(found) or remaining <= 0:
                    return found
                step = remaining if self._listening else min(remaining, 1.0)
                with suppress(TimeoutError):
                    async with asyncio.timeout(step):  # no task per wait, as `wait_for` makes
                        await waiter.woken.wait()
                waiter.woken.clear()
                found = await self._found(waiter, read, from_row)
        finally:
            self.unregister(row_id, waiter)

    @staticmethod
    async def _found(
        waiter: Waiter,
        read: Callable[[], Awaitable[T]],
        from_row: Callable[[dict[str, Any]], T] | None,
    ) -> T:
        """What woke `waiter`: the row its notice carried, else as read again."""
        row, waiter.row = waiter.row, None
        if row is not None and from_row is not None:
            with suppress(ValueError):  # a row of a shape it does not know: read it
                return from_row(row)
        return await read()

    async def _listen(self) -> None:
        delay = 0.5
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._dsn, autocommit=True
                ) as conn:
                    await conn.execute(f"LISTEN {COMPILATION_COMPLETED}")
                    await conn.execute(f"LISTEN {PUBLISH_COMPLETED}")
                    await conn.execute(f"LISTEN {TOKEN_REVOKED}")
                    self._tokens.clear()
                    self._listening = True
                    delay = 0.5
                    async for notice in conn.notifies():
                        self._dispatch(notice.channel, notice.payload)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # keep listening through database restarts
                log.warning(
                    "gateway.listen_failed", error=str(exc) or type(exc).__name__, retry_in=delay
                )
            finally:
                if self._listening:
                    self._listening = False
                    self._wake_all()  # waiters fall back to polling until it is back
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10)

    def _wake_all(self) -> None:
        for waiters in self._waiters.values():
            for waiter in waiters:
                waiter.woken.set()

    def _dispatch(self, channel: str, payload: str) -> None:
        if channel == TOKEN_REVOKED:
            self._tokens.clear()
            return
        # The row's id alone, or the row as JSON starting with it: `{"id":"<uuid>",...`. Only a
        # row someone here waits for is parsed.
        carries_row = payload.startswith(ROW_PREFIX)
        key = payload[len(ROW_PREFIX) : len(ROW_PREFIX) + 36] if carries_row else payload
        try:
            waiters = self._waiters.get(UUID(key), ())
        except ValueError:
            return
        row = _parsed(payload) if carries_row and waiters else None
        for waiter in waiters:
            waiter.row = row
            waiter.woken.set()


ROW_PREFIX = '{"id":"'


def _parsed(payload: str) -> dict[str, Any] | None:
    with suppress(ValueError):
        row = json.loads(payload)
        if isinstance(row, dict):
            return row
    return None
