"""Session-wide fixtures: real PostgreSQL and NATS JetStream, isolated per test session.

Each session gets a fresh database (all four schemas migrated) and its own subject root, so its
streams never meet those of `make run` or of another session on the same NATS server.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext
from runtime import migrations

from tests.support import infra

pytest_plugins = ["tests.support.fixtures"]


@pytest.fixture(scope="session")
def nats_url() -> Iterator[str]:
    with infra.nats_server() as url:
        yield url


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A fresh database with every service's schema migrated, dropped after the session."""
    from compiler.worker import MIGRATIONS as COMPILER
    from gateway.app import MIGRATIONS as GATEWAY
    from publisher.worker import MIGRATIONS as PUBLISHER
    from testrunner.worker import MIGRATIONS as TEST_RUNNER

    with infra.postgres_server() as server, infra.fresh_database(server) as url:
        for directory, schema in (
            (GATEWAY, "gateway"),
            (COMPILER, "compiler"),
            (TEST_RUNNER, "test_runner"),
            (PUBLISHER, "publisher"),
        ):
            migrations.upgrade(Path(directory), url, schema)
        yield url


@pytest.fixture(scope="session")
async def subject_root(nats_url: str) -> AsyncIterator[str]:
    """This session's subject root; its streams are deleted at the end."""
    root = f"t{uuid.uuid4().hex[:10]}"
    yield root
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    for name in await js.streams_info():
        if name.config.name and name.config.name.startswith(f"{root.upper()}_"):
            await js.delete_stream(name.config.name)
    await nc.close()


@pytest.fixture(scope="session")
async def nc(nats_url: str) -> AsyncIterator[Client]:
    client = await nats.connect(nats_url)
    yield client
    await client.close()


@pytest.fixture(scope="session")
def js(nc: Client) -> JetStreamContext:
    return nc.jetstream(timeout=5)
