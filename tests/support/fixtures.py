"""Fixtures that run the product: the services as real processes, and signed-in API clients."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from gateway import auth
from gateway.users.repository import UserRepository
from runtime import db
from tests.support import infra
from tests.support.processes import ServiceProcess, service_env

PACKAGES = {
    "gateway": "gateway",
    "compiler": "compiler",
    "test-runner": "testrunner",
    "publisher": "publisher",
}
SCHEMAS = {
    "gateway": "gateway",
    "compiler": "compiler",
    "test-runner": "test_runner",
    "publisher": "publisher",
}


@dataclass
class Stack:
    """Some of the product's services, sharing one database and one subject root."""

    database_url: str
    nats_url: str
    root: str
    log_dir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    processes: dict[str, ServiceProcess] = field(default_factory=dict)

    def env(self, service: str, **overrides: str) -> dict[str, str]:
        prefix = service.upper().replace("-", "_")
        port = self.processes[service].port if service in self.processes else infra.free_port()
        return service_env(
            self.database_url,
            self.nats_url,
            self.root,
            **{f"{prefix}_HTTP_PORT": str(port), **self.extra_env, **overrides},
        )

    def start(self, service: str, *, wait: bool = True, **env_overrides: str) -> ServiceProcess:
        """Start (or restart, on the same port) `service`, optionally with extra environment."""
        env = self.env(service, **env_overrides)
        port = int(env[f"{service.upper().replace('-', '_')}_HTTP_PORT"])
        process = ServiceProcess(PACKAGES[service], env, port, self.log_dir)
        self.processes[service] = process
        return process.start(wait=wait)

    @property
    def gateway_url(self) -> str:
        return self.processes["gateway"].url

    def stop_all(self) -> None:
        for process in self.processes.values():
            if process.proc is not None and process.proc.poll() is None:
                process.stop()

    def new_token(self, email: str | None = None) -> str:
        """A new user (unless `email` names one) and a personal API token for them."""
        return asyncio.run(
            _create_token(self.database_url, email or f"u{uuid.uuid4().hex[:12]}@example.com")
        )

    def client(self, token: str) -> httpx.Client:
        """An API client signed in with `token`: the same user for as long as it is used."""
        headers = {"Authorization": f"Bearer {token}"}
        return httpx.Client(base_url=self.gateway_url, headers=headers, timeout=10)

    def new_user(self) -> httpx.Client:
        """An API client for a new user: a new identity, so never the way to read again."""
        return self.client(self.new_token())


async def _create_token(database_url: str, email: str) -> str:
    engine = db.create_engine(database_url, pool_size=1)
    token = auth.new_token()
    try:
        async with db.create_sessionmaker(engine).begin() as session:
            users = UserRepository(session)
            user_id = await users.get_or_add_by_email(email)
            await users.add_token(
                user_id, "test", auth.hash_token(token), auth.display_prefix(token)
            )
    finally:
        await engine.dispose()
    return token


@contextlib.contextmanager
def running_stack(
    postgres_url: str,
    nats_url: str,
    log_dir: Path,
    services: Sequence[str],
    env: Mapping[str, str] | None = None,
) -> Iterator[Stack]:
    """`services`, started in that order on a database and subject root of their own; stopped,
    and their streams deleted, afterwards."""
    with infra.fresh_database(postgres_url) as url:
        infra.migrate_all(url)
        root = infra.new_root()
        running = Stack(url, nats_url, root, log_dir, dict(env or {}))
        try:
            for service in services:
                running.start(service)
            yield running
        finally:
            running.stop_all()
            infra.delete_streams(nats_url, root)


@pytest.fixture(scope="session")
def stack(
    database_url: str, nats_url: str, subject_root: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """The gateway and the compiler, started once for the session's end-to-end tests."""
    running = Stack(database_url, nats_url, subject_root, tmp_path_factory.mktemp("logs"))
    try:
        running.start("compiler")
        running.start("gateway")
        yield running
    finally:
        running.stop_all()


@pytest.fixture(scope="module")
def gateway_with(
    stack: Stack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., ServiceProcess]]:
    """A factory of gateway replicas beside the session's stack (its database and subject root),
    each with settings of its own; stopped at the end of the module."""
    started: list[ServiceProcess] = []

    def start(**env: str) -> ServiceProcess:
        port = infra.free_port()
        process = ServiceProcess(
            "gateway",
            stack.env("gateway", GATEWAY_HTTP_PORT=str(port), **env),
            port,
            tmp_path_factory.mktemp("gateway"),
        )
        started.append(process)
        return process.start()

    try:
        yield start
    finally:
        for process in started:
            process.stop()


@pytest.fixture
def isolated_stack(
    postgres_url: str, nats_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., Stack]]:
    """A factory of stacks with their own database and subject root, for tests that crash services.

    Its own database matters: a gateway's outbox relay publishes every pending row in its schema, so
    two gateways on one database would publish each other's commands under their own roots.
    """
    with ExitStack() as cleanup:

        def make(**extra_env: str) -> Stack:
            url = cleanup.enter_context(infra.fresh_database(postgres_url))
            infra.migrate_all(url)
            root = infra.new_root()
            made = Stack(url, nats_url, root, tmp_path_factory.mktemp("logs"), dict(extra_env))
            cleanup.callback(made.stop_all)
            cleanup.callback(infra.delete_streams, nats_url, root)
            return made

        yield make
