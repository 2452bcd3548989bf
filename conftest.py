"""Session-wide fixtures: real PostgreSQL and NATS JetStream, isolated per test session.

Each session gets a fresh database (all four schemas migrated) and its own subject root, so its
streams never meet those of `make run` or of another session on the same NATS server.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import nats
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext

from tests.support import infra

pytest_plugins = ["tests.support.fixtures", "tests.support.fake_openai"]


@pytest.fixture(scope="session")
def nats_url() -> Iterator[str]:
    with infra.nats_server() as url:
        yield url
        # Set up first, so checked last: every test cleans up after itself on the shared server.
        left = infra.streams_left_behind(url)
        for root in {name.removeprefix("KV_").split("_")[0].lower() for name in left}:
            infra.delete_streams(url, root)
        assert not left, f"tests left these streams on the NATS server: {left}"


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A URL of the PostgreSQL server the tests create their databases on."""
    with infra.postgres_server() as url:
        yield url


@pytest.fixture(scope="session")
def database_url(postgres_url: str) -> Iterator[str]:
    """A fresh database with every service's schema migrated, dropped after the session."""
    with infra.fresh_database(postgres_url) as url:
        infra.migrate_all(url)
        yield url


@pytest.fixture(scope="session")
def subject_root(nats_url: str) -> Iterator[str]:
    """This session's subject root; its streams are deleted at the end."""
    root = infra.new_root()
    yield root
    infra.delete_streams(nats_url, root)


@pytest.fixture(scope="session")
async def nc(nats_url: str) -> AsyncIterator[Client]:
    client = await nats.connect(nats_url)
    yield client
    await client.close()


@pytest.fixture(scope="session")
def js(nc: Client) -> JetStreamContext:
    return nc.jetstream(timeout=5)
