"""Connections for the API's hot paths, straight from psycopg's own pool: the agent list, and a
compilation's request and its answer.

Through SQLAlchemy's async layer a statement's connection costs more than the statement: an ORM
session, a checkout and a return through its pool with autocommit set and reset on each, greenlet
hops around every call. Under the saturated list that was about 0.3 ms of the 1.04 ms of CPU the
gateway spent per request on the Intel VM (bench/README.md). These connections are in autocommit
from the start; a hot path's prepared statements run on them with nothing in between, and one
that writes opens its transaction in psycopg's pipeline mode, so that its `BEGIN`, its writes and
its `COMMIT` travel together. Every other route stays on SQLAlchemy (`Service.engine`).

At most `DATABASE_POOL_SIZE` requests use the database at once (admission.py), so as many
connections suffice. Each is opened when first needed and kept (closed after ten idle minutes),
so a load never connects and disconnects per request. Once a request finds its connection
dropped by the server, all of them are replaced (`deps.Direct.connection`).
"""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from gateway.settings import SERVICE, GatewaySettings
from runtime.db import libpq_url

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
