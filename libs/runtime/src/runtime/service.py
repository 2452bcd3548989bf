"""Start, run and stop a service process: one place for the lifecycle all four services share.

`Service.start()` connects to PostgreSQL and NATS (failing with one clear line), provisions the
JetStream topology and builds the outbox relay. `serve()` is the whole of every service's `main()`: it serves
HTTP (the gateway's API, or a worker's health and metrics) and runs the consumers and the relay until
SIGTERM, then stops taking work, finishes what is in flight, flushes the outbox and drains.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable, Coroutine, Generator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import sqlalchemy as sa
import structlog
import uvicorn
import uvloop
from nats.aio.client import Client
from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.types import ASGIApp

from contracts.subjects import Durable
from runtime import broker, db, heap, observability
from runtime.broker import BrokerUnavailableError, ConsumerPolicy
from runtime.consumer import Consumer, Handler
from runtime.db import DatabaseUnavailableError
from runtime.dead_letter_consumer import DeadLetterBinding, DeadLetterConsumer
from runtime.health import health_routes
from runtime.http import bounded_http
from runtime.monitor import Monitor
from runtime.outbox import Relay
from runtime.queries import QueryBinding, answer
from runtime.retention import DAY, Pruner, Retention
from runtime.settings import (
    CommonSettings,
    SettingsError,
    exit_on_settings_error,
    load_settings,
    without_credentials,
)
from runtime.staged import (
    DirectHandler,
    ReadAhead,
    StagedBinding,
    StagedConsumer,
    group_commit,
)

log = structlog.get_logger()
T = TypeVar("T")


@dataclass(frozen=True)
class Binding:
    """A durable consumer and the handler that applies its messages: one transaction each, or,
    with `grouped`, one for the messages ready at the same moment (`runtime.staged.group_commit`:
    for a hot path, where a commit and a relay pass per message are most of its cost). With
    `direct` too, the handler takes a `DirectUnit` (psycopg in pipeline mode), not a session,
    and `read_ahead` may send its reads with the group's inbox claim (`runtime.staged.ReadAhead`)."""

    durable: Durable
    handler: Handler | DirectHandler
    grouped: bool = False
    direct: bool = False
    read_ahead: ReadAhead | None = None

    def __post_init__(self) -> None:
        if self.direct and not self.grouped:
            raise ValueError(f"{self.durable.name}: a direct binding is a grouped one")
        if self.read_ahead is not None and not self.direct:
            raise ValueError(f"{self.durable.name}: only a direct binding reads ahead")


DurableBinding = Binding | StagedBinding | DeadLetterBinding


@dataclass
class Service:
    """The connections of one service process, built once in `main()` or `lifespan()`."""

    name: str
    settings: CommonSettings
    metadata: sa.MetaData
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    reader: async_sessionmaker[AsyncSession]
    nc: Client
    js: JetStreamContext
    relay: Relay
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    """Run at shutdown before the connections close (e.g. the AI provider's HTTP client)."""
    retention: list[Retention] = field(default_factory=list)
    """Rows pruned on a schedule besides the inbox (e.g. the test-runner's response cache)."""

    @classmethod
    async def start(
        cls,
        name: str,
        settings: CommonSettings,
        metadata: sa.MetaData,
        bindings: Sequence[DurableBinding] = (),
    ) -> Service:
        """Connect, and provision the topology `bindings` consume (more with `provision`)."""
        engine = db.create_engine(
            settings.database_url, pool_size=settings.database_pool_size, application_name=name
        )
        observability.trace_database(engine)
        nc: Client | None = None
        try:
            await db.check_database(engine, str(metadata.schema))
            nc = await broker.connect(settings.nats_url, name=name)
            js = nc.jetstream(timeout=5)
            await _provision(js, settings, bindings)
        except BaseException:
            if nc is not None:
                await nc.close()
            await engine.dispose()
            raise
        sessionmaker = db.create_sessionmaker(engine)
        outbox = metadata.tables[f"{metadata.schema}.outbox"]
        relay = Relay(js, sessionmaker, outbox, root=settings.nats_subject_root)
        log.info(
            "service.started",
            nats=without_credentials(settings.nats_url),
            root=settings.nats_subject_root,
        )
        return cls(
            name, settings, metadata, engine, sessionmaker, db.create_reader(engine), nc, js, relay
        )

    async def write(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """`work` in a short transaction of its own, committed when it returns; what it wrote to
        the outbox goes out at once. For the rare write no consumed message carries: a staging
        step showing its run paused while it waits."""
        async with self.sessionmaker.begin() as session:
            result = await work(session)
        self.relay.nudge()
        return result

    @property
    def outbox(self) -> sa.Table:
        return self.metadata.tables[f"{self.metadata.schema}.outbox"]

    async def provision(self, bindings: Sequence[DurableBinding]) -> None:
        await _provision(self.js, self.settings, bindings)

    def consumer(self, binding: DurableBinding) -> Consumer:
        common: dict[str, Any] = {
            "service": self.name,
            "root": self.settings.nats_subject_root,
            "sessionmaker": self.sessionmaker,
            "tables": self.metadata,
            "relay": self.relay,
            "policy": consumer_policy(self.settings),
            "concurrency": self.settings.concurrency,
        }
        if isinstance(binding, Binding) and binding.grouped:
            grouped = group_commit(
                binding.durable,
                binding.handler,
                direct=binding.direct,
                read_ahead=binding.read_ahead,
            )
            return StagedConsumer(self.js, grouped, **common)
        if isinstance(binding, StagedBinding):
            return StagedConsumer(self.js, binding, **common)
        if isinstance(binding, DeadLetterBinding):
            return DeadLetterConsumer(self.js, binding, **common)
        return Consumer(self.js, binding.durable, cast(Handler, binding.handler), **common)

    async def close(self) -> None:
        for closer in self.closers:
            with suppress(Exception):
                await closer()
        with suppress(Exception):
            await self.nc.drain()
        await self.engine.dispose()


async def _provision(
    js: JetStreamContext, settings: CommonSettings, bindings: Sequence[DurableBinding]
) -> None:
    await broker.ensure_topology(
        js,
        settings.nats_subject_root,
        tuple(b.durable for b in bindings),
        consumer_policy(settings),
        replicas=settings.nats_stream_replicas,
    )


def consumer_policy(settings: CommonSettings) -> ConsumerPolicy:
    return ConsumerPolicy(
        ack_wait=settings.ack_wait_seconds,
        max_deliver=settings.max_deliver,
        # Enough leases for every replica's concurrent handlers, bounded so one pod cannot hoard.
        max_ack_pending=max(64, settings.concurrency * 16),
        handler_timeout=settings.handler_timeout_seconds,
        outage_patience=settings.outage_patience_seconds,
        outage_allowance=settings.max_deliver,
    )


class _EmbeddedServer(uvicorn.Server):
    """uvicorn inside a process that owns its own signal handling (see `run_service`)."""

    @contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


AppFactory = Callable[[Service], ASGIApp]
AnyBinding = Binding | StagedBinding | DeadLetterBinding | QueryBinding
BindingsFactory = Callable[[Service], Sequence[AnyBinding]]
"""Builds a service's bindings once it is connected, for handlers that need its connections."""


def health_app(service: Service) -> ASGIApp:
    """A worker's HTTP surface: health and metrics only."""
    return Starlette(routes=health_routes(lambda: (service.engine, service.nc)))


async def run_service(
    name: str,
    settings: CommonSettings,
    metadata: sa.MetaData,
    bindings: Sequence[AnyBinding] | BindingsFactory,
    app_factory: AppFactory = health_app,
) -> None:
    """Serve `app_factory(service)` over HTTP and run the consumers and the relay until SIGTERM/SIGINT.

    Shutdown: stop taking requests and fetching messages, finish what is in flight (within
    `shutdown_grace_seconds`), then flush the outbox so what was just committed goes out, then drain.
    """
    service = await Service.start(name, settings, metadata)
    resolved = bindings(service) if callable(bindings) else bindings
    durable = [b for b in resolved if not isinstance(b, QueryBinding)]
    try:
        await service.provision(durable)
    except BaseException:
        await service.close()
        raise
    for query in (b for b in resolved if isinstance(b, QueryBinding)):
        await answer(
            service.nc,
            query,
            root=settings.nats_subject_root,
            service=name,
            concurrency=settings.concurrency,
        )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    server = _EmbeddedServer(
        uvicorn.Config(
            app_factory(service),
            host=settings.http_host,
            port=settings.http_port,
            log_config=None,
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=int(settings.shutdown_grace_seconds),
            http=bounded_http(settings.http_max_header_bytes),
            server_header=False,
            # The client address is the socket's peer unless it is a trusted proxy's.
            proxy_headers=bool(settings.forwarded_allow_ips),
            forwarded_allow_ips=settings.forwarded_allow_ips or [],
        )
    )
    server_task = asyncio.create_task(server.serve())
    consumers = [asyncio.create_task(service.consumer(b).run(stop)) for b in durable]
    relay_stop = asyncio.Event()
    relay_task = asyncio.create_task(service.relay.run(relay_stop))
    monitor = Monitor(
        service.js,
        [b.durable for b in durable],
        root=settings.nats_subject_root,
        dependencies=lambda: (service.engine, service.nc),
    )
    monitor_task = asyncio.create_task(monitor.run(stop))
    inbox = Retention(
        metadata.tables[f"{metadata.schema}.processed_messages"],
        "processed_at",
        settings.inbox_retention_days * DAY,
    )
    pruner_task = asyncio.create_task(
        Pruner(service.sessionmaker, [inbox, *service.retention]).run(stop)
    )
    settle_task = asyncio.create_task(heap.settle(lambda: server.started))
    log.info(f"{name}.ready", http=f"{settings.http_host}:{settings.http_port}")

    stopped_by = await _first(stop.wait(), server_task)
    log.info(f"{name}.stopping", reason=stopped_by)
    stop.set()
    settle_task.cancel()
    server.should_exit = True
    try:
        async with asyncio.timeout(settings.shutdown_grace_seconds):
            await asyncio.gather(server_task, *consumers, return_exceptions=True)
    except TimeoutError:
        # Unacked messages are redelivered to another replica; nothing is lost by giving up here.
        log.warning(f"{name}.grace_period_exceeded")
    relay_stop.set()
    await relay_task
    await monitor_task
    await pruner_task
    await service.close()
    log.info(f"{name}.stopped")


async def _first(signal_wait: Coroutine[Any, Any, Any], server_task: asyncio.Task[None]) -> str:
    """Wait for a stop signal, or for the HTTP server to end on its own (e.g. its port is taken)."""
    waiter = asyncio.ensure_future(signal_wait)
    await asyncio.wait({waiter, server_task}, return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    return "signal" if not server_task.done() else "http server exited"


def serve(
    name: str,
    settings_cls: type[CommonSettings],
    metadata: sa.MetaData,
    bindings: Sequence[AnyBinding] | BindingsFactory,
    app_factory: AppFactory = health_app,
) -> None:
    """A service's `main()`: settings, observability, run; configuration errors end in one line."""
    try:
        settings = load_settings(settings_cls, name)
    except SettingsError as exc:
        exit_on_settings_error(exc)
    provider = observability.setup(name, log_level=settings.log_level)
    heap.freeze()  # what is loaded by now lives as long as the process
    try:
        uvloop.run(run_service(name, settings, metadata, bindings, app_factory))
    except (DatabaseUnavailableError, BrokerUnavailableError) as exc:
        log.error(f"{name}.unavailable", reason=str(exc))
        raise SystemExit(f"{name}: {exc}") from None
    finally:
        provider.shutdown()
