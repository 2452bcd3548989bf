"""Telling a dependency outage from a poison message, and riding the outage out.

A handler that fails because PostgreSQL or NATS cannot be reached says nothing about its message:
the same message succeeds once the dependency is back. Counting such failures against the
poison-message budget (`MAX_DELIVER`) dead-lettered good messages after a few seconds of outage.
So the consumer loop holds such a message (its lease kept alive), waits with a backoff that grows
to a bound, and tries again, for up to `OUTAGE_PATIENCE_SECONDS`; only a handler's own failures
count against the budget (docs/decisions/0010-riding-out-outages.md).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from typing import TypeVar

import nats.errors
import nats.js.errors
import psycopg
import sqlalchemy.exc
import structlog

from runtime import observability as obs

log = structlog.get_logger()

T = TypeVar("T")

BACKOFF_FIRST = 0.5
BACKOFF_LIMIT = 15.0

_NATS_UNREACHABLE = (
    nats.errors.TimeoutError,
    nats.errors.ConnectionClosedError,
    nats.errors.ConnectionReconnectingError,
    nats.errors.NoServersError,
    nats.errors.StaleConnectionError,
    nats.errors.UnexpectedEOF,
    nats.errors.NoRespondersError,
    nats.js.errors.ServiceUnavailableError,
)


def is_unreachable(exc: BaseException) -> bool:
    """Whether `exc` (or what caused it) says PostgreSQL or NATS could not be reached.

    A timeout of the handler itself (`asyncio.timeout`) is not: a hung handler is its own failure.
    A database error about the statement (a constraint, bad SQL) is not either.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if _unreachable(current):
            return True
        current = current.__cause__ or current.__context__
    return False


def _unreachable(exc: BaseException) -> bool:
    if isinstance(exc, sqlalchemy.exc.DBAPIError):
        # OperationalError covers refused or dropped connections and a server shutting down;
        # `connection_invalidated` any error SQLAlchemy saw as a lost connection.
        return exc.connection_invalidated or isinstance(
            exc, sqlalchemy.exc.OperationalError | sqlalchemy.exc.InterfaceError
        )
    if isinstance(exc, sqlalchemy.exc.TimeoutError):  # no pooled connection came free
        return True
    if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
        return True  # the same, on a connection of psycopg's own (a direct group commit)
    if isinstance(exc, _NATS_UNREACHABLE):
        return True
    return isinstance(exc, ConnectionError | socket.gaierror)


def backoff(attempt: int) -> float:
    """Seconds to wait before try `attempt + 1` (0-based): doubling from 0.5 s, at most 15 s."""
    return min(BACKOFF_FIRST * 2.0 ** min(attempt, 16), BACKOFF_LIMIT)


async def ride_out(
    attempt: Callable[[], Awaitable[T]],
    *,
    patience: float,
    stop: asyncio.Event | None = None,
    what: str,
) -> T:
    """`attempt()`, tried again while it fails for an unreachable dependency, for up to `patience`
    seconds of waiting (or until `stop` is set); then its last error is raised. `what` names the
    consumer, for the log and the `consumer_outage_retries` metric."""
    waited, tries = 0.0, 0
    while True:
        try:
            return await attempt()
        except Exception as exc:
            if not is_unreachable(exc) or waited >= patience or (stop and stop.is_set()):
                raise
            delay = min(backoff(tries), max(patience - waited, 0.0))
            log.warning(
                "consumer.dependency_unreachable", what=what, error=repr(exc)[:300], retry_in=delay
            )
            obs.outage_retries.labels(what).inc()
            tries += 1
            waited += delay
            await asyncio.sleep(delay)
