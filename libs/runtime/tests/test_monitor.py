"""The metrics monitor against real NATS JetStream and PostgreSQL: consumer lag, dead letters, readiness."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import nats
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext
from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts import subjects
from runtime import broker, db
from runtime.broker import ConsumerPolicy
from runtime.monitor import Monitor
from tests.support import infra

pytestmark = pytest.mark.integration

POLICY = ConsumerPolicy(ack_wait=30, max_deliver=3, max_ack_pending=64)


def gauge(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    made = db.create_engine(database_url, pool_size=1)
    yield made
    await made.dispose()


@pytest.fixture
async def topology(
    nats_url: str, js: JetStreamContext
) -> AsyncIterator[tuple[str, subjects.Durable]]:
    """A durable of its own (its name unique, since the gauges are process-wide) under a new root."""
    root = infra.new_root()
    durable = subjects.Durable(
        f"lag{uuid.uuid4().hex[:6]}",
        subjects.COMPILER_STREAM,
        "compile_agent",
        subjects.COMPILE_AGENT.relative,
    )
    await broker.ensure_topology(js, root, (durable,), POLICY)
    yield root, durable
    await asyncio.to_thread(infra.delete_streams, nats_url, root)


async def test_lag_shows_pending_then_ack_pending_per_durable(
    js: JetStreamContext,
    nc: Client,
    engine: AsyncEngine,
    topology: tuple[str, subjects.Durable],
) -> None:
    root, durable = topology
    monitor = Monitor(js, [durable], root=root, dependencies=lambda: (engine, nc))
    for _ in range(5):
        await js.publish(subjects.COMPILE_AGENT.full(root), b"{}")

    await monitor.sample()
    assert gauge("consumer_pending_messages", consumer=durable.name) == 5
    assert gauge("consumer_ack_pending_messages", consumer=durable.name) == 0

    sub = await js.pull_subscribe_bind(durable.name, stream=durable.stream.full_name(root))
    fetched = await sub.fetch(2, timeout=5)
    await monitor.sample()
    assert gauge("consumer_pending_messages", consumer=durable.name) == 3
    assert gauge("consumer_ack_pending_messages", consumer=durable.name) == 2

    for msg in fetched:
        await msg.ack_sync()
    await sub.unsubscribe()
    await monitor.sample()
    assert gauge("consumer_ack_pending_messages", consumer=durable.name) == 0


async def test_the_dead_letter_stream_size_and_readiness_are_gauges(
    js: JetStreamContext,
    nc: Client,
    engine: AsyncEngine,
    topology: tuple[str, subjects.Durable],
) -> None:
    root, durable = topology
    monitor = Monitor(js, [durable], root=root, dependencies=lambda: (engine, nc))
    await js.publish(
        subjects.DEAD_LETTER.subject_for(subjects.COMPILE_AGENT.full(root), root), b"{}"
    )
    await monitor.sample()
    assert gauge("dead_letter_stream_messages") == 1
    assert gauge("service_ready") == 1
    assert gauge("dependency_up", dependency="database") == 1
    assert gauge("dependency_up", dependency="nats") == 1


async def test_a_process_that_lost_nats_is_not_ready_and_keeps_its_last_lag(
    nats_url: str,
    js: JetStreamContext,
    engine: AsyncEngine,
    topology: tuple[str, subjects.Durable],
) -> None:
    root, durable = topology
    lost = await nats.connect(nats_url)
    monitor = Monitor(
        lost.jetstream(timeout=1), [durable], root=root, dependencies=lambda: (engine, lost)
    )
    await js.publish(subjects.COMPILE_AGENT.full(root), b"{}")
    await monitor.sample()
    assert gauge("consumer_pending_messages", consumer=durable.name) == 1
    errors_before = gauge("monitor_errors_total", what="consumer_info") or 0.0

    await lost.close()
    await monitor.sample()

    assert gauge("service_ready") == 0
    assert gauge("dependency_up", dependency="nats") == 0
    assert gauge("consumer_pending_messages", consumer=durable.name) == 1
    assert gauge("monitor_errors_total", what="consumer_info") == errors_before + 1
