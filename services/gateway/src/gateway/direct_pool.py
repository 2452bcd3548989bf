"""Connections for the API's hot paths, straight from psycopg's own pool: the agent list, and a
compilation's request and its answer.

Through SQLAlchemy's async layer a statement's connection costs more than the statement: an ORM
session, a checkout and a return through its pool with autocommit set and reset on each, greenlet
hops around every call. Under the saturated list that was about 0.3 ms of the 1.04 ms of CPU the
gateway spent per request on the Intel VM (bench/README.md). These connections are in autocommit
from the start; a hot path's prepared statements run on them with nothing in between, and one
that writes does it in a single statement, atomic on its own (the compile request writes its
pending compilation and its command at once: `runtime.outbox.insert_with_message`). Every other
route stays on SQLAlchemy (`Service.engine`).

At most `DATABASE_POOL_SIZE` requests use the database at once (admission.py), so as many
connections suffice. Each is opened when first needed and kept (closed after ten idle minutes),
so a load never connects and disconnects per request. Once a request finds its connection
dropped by the server, all of them are replaced (`Direct.connection`).

A route takes them through its dependency, as it takes a session through deps.py: `DirectTx`,
a connection per block (`Direct.connection`), none held while the route waits.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any
from uuid import UUID

from fastapi import Depends, Request
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from gateway.admission import Slot
from gateway.deps import Caller, Credentials, OfCaller, admission, authenticate
from gateway.settings import SERVICE, GatewaySettings
from runtime.db import libpq_url

if TYPE_CHECKING:
    from gateway.notifications import Notifications
    from runtime.outbox import Relay

DirectPool = AsyncConnectionPool[AsyncConnection[Any]]


def create_direct_pool(settings: GatewaySettings) -> DirectPool:
    """Not open yet: `await pool.open()` in the app's lifespan, `await pool.close()` after."""
    return AsyncConnectionPool(
        libpq_url(settings.database_url),
        min_size=0,
        max_size=settings.database_pool_size,
        kwargs={"autocommit": True, "application_name": f"{SERVICE}-direct", "connect_timeout": 5},
        name="gateway-direct",
        open=False,
    )


@asynccontextmanager
async def _connection(pool: DirectPool) -> AsyncIterator[AsyncConnection[Any]]:
    async with pool.connection() as connection:
        try:
            yield connection
        finally:
            if connection.broken:
                # The server dropped it (a restart, a failover): the pool's other connections are
                # as old and most likely dropped too. Replace them all at once, as SQLAlchemy's
                # pool does, rather than fail a request on each in turn.
                await pool.drain()


@dataclass(frozen=True)
class Direct(OfCaller):
    """A hot path's caller, connections of the direct pool in autocommit, and what else a hot
    route takes of its request (the relay, the completion notices, the correlation id): one
    dependency for FastAPI to solve where each of those was one more (about 10 µs a request
    each, measured, on the two compile requests every compile round trip makes)."""

    pool: DirectPool
    caller: Caller
    slot: Slot
    request: Request = field(compare=False)  # a Mapping: compared by value, not hashable

    @property
    def relay(self) -> Relay:
        relay: Relay = self.request.app.state.service.relay
        return relay

    @property
    def notifications(self) -> Notifications:
        notifications: Notifications = self.request.app.state.notifications
        return notifications

    @property
    def correlation_id(self) -> UUID:
        """The request's, set by the request-context middleware."""
        correlation_id: UUID = self.request.state.correlation_id
        return correlation_id

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection[Any]]:
        """A connection for the block. The request's admission slot is given back after it, so
        a route that then waits (for a pending compilation) holds neither while it does."""
        try:
            async with _connection(self.pool) as connection:
                yield connection
        finally:
            self.slot.release()


async def direct(request: Request, credentials: Credentials) -> Direct:
    # Admitted first, then the caller: a token in the cache costs no query, and one that is not
    # (or a session cookie) is looked up on a connection of the SQLAlchemy pool, before a direct
    # one is taken. A plain dependency, not a generator one: the slot is given back by
    # `Direct.connection`, or by the request's middleware (`Admission.admit`).
    pool: DirectPool = request.app.state.direct_pool
    slot = await admission(request).admit(request.scope)
    return Direct(pool, await authenticate(request, None, credentials), slot, request)


DirectTx = Annotated[Direct, Depends(direct)]
