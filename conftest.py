"""Session-wide fixtures: real PostgreSQL and NATS JetStream, isolated per test session.

Each session gets a fresh database (all four schemas migrated) and its own subject root, so its
streams never meet those of `make run` or of another session on the same NATS server.
"""

from __future__ import annotations

import uuid
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
    root = f"t{uuid.uuid4().hex[:10]}"
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
