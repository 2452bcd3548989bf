"""Wake requests waiting for a compilation to finish, on every gateway replica.

The event handler that completes a compilation also sends a PostgreSQL `NOTIFY` in its transaction,
so the notification goes out exactly when the outcome is committed and reaches every replica's
`LISTEN` connection, whichever replica consumed the event. Waiters re-read the database after a
wake-up; a lost notification only costs the wait's `recheck` interval.
"""

from __future__ import annotations

import asyncio
from contextlib import suppress
from uuid import UUID

import psycopg
import structlog

log = structlog.get_logger()

CHANNEL = "gateway_compilation_completed"


class CompletionWaiters:
    def __init__(self, database_url: str) -> None:
        self._dsn = database_url.replace("postgresql+psycopg://", "postgresql://", 1)
        self._waiters: dict[UUID, set[asyncio.Event]] = {}
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._listen())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task

    def register(self, compilation_id: UUID) -> asyncio.Event:
        """Register before reading the state, so a completion between the read and the wait is seen."""
        event = asyncio.Event()
        self._waiters.setdefault(compilation_id, set()).add(event)
        return event

    def unregister(self, compilation_id: UUID, event: asyncio.Event) -> None:
        events = self._waiters.get(compilation_id)
        if events is not None:
            events.discard(event)
            if not events:
                del self._waiters[compilation_id]

    async def _listen(self) -> None:
        delay = 0.5
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._dsn, autocommit=True
                ) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    delay = 0.5
                    async for notify in conn.notifies():
                        self._wake(notify.payload)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # keep listening through database restarts
                log.warning(
                    "gateway.listen_failed", error=str(exc) or type(exc).__name__, retry_in=delay
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10)

    def _wake(self, payload: str) -> None:
        with suppress(ValueError):
            for event in self._waiters.get(UUID(payload), ()):
                event.set()
