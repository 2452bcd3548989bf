"""PostgreSQL access shared by the services: engines, per-service metadata, the outbox and inbox tables."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, cast

import psycopg
import sqlalchemy as sa
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.dialects.postgresql import psycopg as postgresql_psycopg
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.sql.compiler import SQLCompiler

from runtime.observability import statement_span

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class DatabaseUnavailableError(Exception):
    """The database cannot be reached or is not migrated; the message says which."""


def service_metadata(schema: str) -> sa.MetaData:
    """Metadata for one service's schema, with the delivery tables every service has."""
    metadata = sa.MetaData(schema=schema, naming_convention=NAMING_CONVENTION)
    outbox_table(metadata)
    inbox_table(metadata)
    return metadata


def outbox_table(metadata: sa.MetaData) -> sa.Table:
    """Messages to publish, written in the transaction of the state change they announce.

    A row lives until JetStream has acknowledged its message; the relay then deletes it.
    """
    return sa.Table(
        "outbox",
        metadata,
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("message_id", UUID(as_uuid=True), nullable=False, unique=True),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.Column("headers", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column(
            "created_at", sa.TIMESTAMP(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text),
    )


def inbox_table(metadata: sa.MetaData) -> sa.Table:
    """Ids of the messages a consumer has applied: a redelivered message changes nothing."""
    return sa.Table(
        "processed_messages",
        metadata,
        sa.Column("message_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("consumer", sa.Text, primary_key=True),
        sa.Column(
            "processed_at",
            sa.TIMESTAMP(timezone=True),
            nullable=False,
            server_default=sa.func.now(),
        ),
        # What the retention pruner looks rows up by (runtime/retention.py).
        sa.Index("ix_processed_messages_processed_at", "processed_at"),
    )


def create_engine(
    url: str, *, pool_size: int = 10, application_name: str = "agent-studio"
) -> AsyncEngine:
    """Up to twice `pool_size` connections (`pool_size` for a process's own work, as many again
    for what that work opens besides), each opened when first needed and then kept: past that,
    work waits in the pool's queue instead of connecting. An overflow pool would instead open and
    close a connection (forking and ending a PostgreSQL backend) for every checkout past its size
    under load, on the same cores that do the work."""
    return create_async_engine(
        url,
        pool_size=2 * pool_size,
        max_overflow=0,
        pool_recycle=1800,
        connect_args={"application_name": application_name, "connect_timeout": 5},
    )


def libpq_url(url: str) -> str:
    """A `postgresql+psycopg://` URL of the settings as psycopg itself takes it, for the
    connections opened without SQLAlchemy (LISTEN, the gateway's direct pool)."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


_PSYCOPG = cast(sa.Dialect, cast(Any, postgresql_psycopg.dialect)())


def psycopg_sql(statement: sa.ClauseElement) -> str:
    """`statement` as psycopg's own SQL (`%(name)s` parameters), for a hot path that runs it on a
    psycopg connection past SQLAlchemy: compiled once per statement, then prepared by psycopg.
    The statement must be built once (at import, or cached): the compiled form is kept for each
    statement object, and one built per call would be compiled, and kept, per call."""
    return _compiled(statement).sql


@dataclass(frozen=True)
class _Compiled:
    sql: str
    own: dict[str, Any]  # the values of the parameters the statement carries itself (`LIMIT 1`)
    json: tuple[str, ...]  # the parameters of a JSON type, which psycopg is told are JSON

    def params(self, given: dict[str, Any]) -> dict[str, Any]:
        params = {**self.own, **given} if self.own else dict(given)
        for name in self.json:
            if params.get(name) is not None:
                params[name] = Jsonb(params[name])
        return params


@functools.cache
def _compiled(statement: sa.ClauseElement) -> _Compiled:
    compiled = cast(SQLCompiler, statement.compile(dialect=_PSYCOPG))
    if "__[POSTCOMPILE_" in str(compiled):
        raise ValueError(f"an expanding IN is built per call, not once: {compiled}")
    binds = list(compiled.binds.values())
    return _Compiled(
        str(compiled),
        {compiled.bind_names[bind]: bind.value for bind in binds if not bind.required},
        tuple(compiled.bind_names[bind] for bind in binds if isinstance(bind.type, sa.JSON)),
    )


@dataclass
class DirectUnit:
    """A hot path's transaction on a psycopg connection in pipeline mode (the staged writer's:
    `runtime.staged.group_commit(direct=True)`), and what its steps remember until it ends, as
    a session's `info` does."""

    connection: psycopg.AsyncConnection[Any]
    info: dict[str, Any] = field(default_factory=dict)


class Pending:
    """A statement sent on a hot path's connection whose row is read later. In pipeline mode,
    reading the first of several sent one after another fetches the answers of all of them: one
    round trip to PostgreSQL for the lot, where reading each as it is sent costs one each."""

    def __init__(self, cursor: psycopg.AsyncCursor[dict[str, Any]]) -> None:
        self._cursor = cursor

    async def row(self) -> dict[str, Any] | None:
        """The one row the statement gave (or None). Read once."""
        try:
            return await self._cursor.fetchone()
        finally:
            await self._cursor.close()


async def send(
    connection: psycopg.AsyncConnection[Any], statement: sa.ClauseElement, params: dict[str, Any]
) -> Pending:
    """`statement` sent on a hot path's psycopg connection, prepared, in its statement's span;
    its row to be read later (`Pending`)."""
    compiled = _compiled(statement)
    cursor = connection.cursor(row_factory=dict_row)
    try:
        with statement_span(compiled.sql, connection.info.dbname):
            await cursor.execute(compiled.sql, compiled.params(params), prepare=True)
    except BaseException:
        await cursor.close()
        raise
    return Pending(cursor)


async def fetch_one(
    connection: psycopg.AsyncConnection[Any], statement: sa.ClauseElement, params: dict[str, Any]
) -> dict[str, Any] | None:
    """The one row `statement` gives (or None), as a dict, on a hot path's psycopg connection:
    prepared, in its statement's span. In pipeline mode this is where the pipeline is synced."""
    return await (await send(connection, statement, params)).row()


async def execute(
    connection: psycopg.AsyncConnection[Any], statement: sa.ClauseElement, params: dict[str, Any]
) -> None:
    """`statement` run for its effect on a hot path's psycopg connection: prepared, in its span.
    In pipeline mode nothing waits for it; it travels with what follows."""
    compiled = _compiled(statement)
    with statement_span(compiled.sql, connection.info.dbname):
        await connection.execute(compiled.sql, compiled.params(params), prepare=True)


async def row_in(
    unit: AsyncSession | DirectUnit, statement: sa.ClauseElement, params: dict[str, Any]
) -> dict[str, Any] | None:
    """`fetch_one` in a consumer's unit of work, whichever kind: a session, or a direct group
    commit's unit. For the few statements a handler runs on both (a request's outcome)."""
    if isinstance(unit, DirectUnit):
        return await fetch_one(unit.connection, statement, params)
    row = (await unit.execute(cast(sa.Executable, statement), params)).mappings().first()
    return None if row is None else dict(row)


async def execute_in(
    unit: AsyncSession | DirectUnit, statement: sa.ClauseElement, params: dict[str, Any]
) -> None:
    """`execute` in a consumer's unit of work, whichever kind (`row_in`)."""
    if isinstance(unit, DirectUnit):
        await execute(unit.connection, statement, params)
    else:
        await unit.execute(cast(sa.Executable, statement), params)


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def create_reader(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions for single-statement reads: autocommit spares the BEGIN and COMMIT round trips."""
    return async_sessionmaker(
        engine.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False
    )


async def check_database(engine: AsyncEngine, schema: str) -> None:
    """Fail with a clear reason when the database is unreachable or the schema is not migrated."""
    try:
        async with engine.connect() as conn:
            found = await conn.scalar(
                sa.text("SELECT to_regclass(:table) IS NOT NULL"),
                {"table": f"{schema}.outbox"},
            )
    except Exception as exc:
        raise DatabaseUnavailableError(
            f"database {engine.url.render_as_string(hide_password=True)} is unreachable: "
            f"{_first_line(exc)}"
        ) from None
    if not found:
        raise DatabaseUnavailableError(f"schema {schema!r} is not migrated (run `make migrate`)")


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
