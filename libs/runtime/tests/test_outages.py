"""Consumers ride out a PostgreSQL outage (real PostgreSQL behind a TCP proxy the test cuts, real
NATS): the message is held and applied once the database is back, never dead-lettered for it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
import sqlalchemy as sa
from nats.aio.client import Client
from nats.js import JetStreamContext
from prometheus_client import REGISTRY
from pydantic import BaseModel
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from contracts import subjects
from contracts.envelope import Envelope
from runtime import broker, db
from runtime.broker import ConsumerPolicy
from runtime.consumer import Consumer
from runtime.db import DirectUnit
from runtime.health import readiness
from runtime.outbox import Relay
from runtime.staged import Recorded, Staged, StagedBinding, StagedConsumer, group_commit
from tests.support import infra
from tests.support.messages import compile_envelope, compiled_event
from tests.support.tcp_proxy import TcpProxy
from tests.support.waiting import eventually_async

pytestmark = pytest.mark.integration

DURABLE = subjects.Durable(
    "test", subjects.COMPILER_STREAM, "compile_agent", subjects.COMPILE_AGENT.relative
)
# A poison budget of two: before, an outage longer than about 1.5 s dead-lettered the message.
POLICY = ConsumerPolicy(ack_wait=2, max_deliver=2, max_ack_pending=64, outage_allowance=2)


class Bed:
    def __init__(self, root: str, js: JetStreamContext, proxy: TcpProxy, url: str) -> None:
        self.root, self.js, self.proxy = root, js, proxy
        self.schema = f"rt_{uuid.uuid4().hex[:8]}"
        self.metadata = db.service_metadata(self.schema)
        self.engine = db.create_engine(url, pool_size=2)
        self.sessionmaker = db.create_sessionmaker(self.engine)
        self.relay = Relay(
            js,
            self.sessionmaker,
            self.metadata.tables[f"{self.schema}.outbox"],
            root=root,
            poll_interval=0.1,
        )

    def consumer(self, handler: Any, policy: ConsumerPolicy = POLICY) -> Consumer:
        if isinstance(handler, StagedBinding):
            return StagedConsumer(self.js, handler, **self._common(policy))
        return Consumer(self.js, DURABLE, handler, **self._common(policy))

    def _common(self, policy: ConsumerPolicy) -> dict[str, Any]:
        return {
            "service": "test",
            "root": self.root,
            "sessionmaker": self.sessionmaker,
            "tables": self.metadata,
            "relay": self.relay,
            "policy": policy,
            "concurrency": 2,
            "fetch_timeout": 0.2,
        }

    async def dead_letters(self) -> int:
        info = await self.js.stream_info(subjects.DEAD_LETTER.full_name(self.root))
        return int(info.state.messages)

    async def processed(self) -> int:
        table = self.metadata.tables[f"{self.schema}.processed_messages"]
        async with self.sessionmaker() as session:
            return int(await session.scalar(sa.select(sa.func.count()).select_from(table)) or 0)


@pytest.fixture
async def bed(database_url: str, nats_url: str, js: JetStreamContext) -> AsyncIterator[Bed]:
    """The service's database reached through a proxy the test can cut."""
    target = make_url(database_url)
    proxy = TcpProxy(target.host or "127.0.0.1", target.port or 5432)
    await proxy.start()
    proxied = target.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    root = infra.new_root()
    bed = Bed(root, js, proxy, proxied)
    async with bed.engine.begin() as conn:
        await conn.execute(sa.text(f'CREATE SCHEMA "{bed.schema}"'))
        await conn.run_sync(bed.metadata.create_all)
    await broker.ensure_topology(js, root, (DURABLE,), POLICY)
    try:
        yield bed
    finally:
        if not proxy.listening:
            await proxy.restore()  # the database must be reachable to drop the schema
        async with bed.engine.begin() as conn:
            await conn.execute(sa.text(f'DROP SCHEMA "{bed.schema}" CASCADE'))
        await bed.engine.dispose()
        await proxy.close()
        await asyncio.to_thread(infra.delete_streams, nats_url, root)


async def compiles(env: Envelope[Any], session: AsyncSession) -> Sequence[BaseModel]:
    return [compiled_event(env.data)]


def outage_retries() -> float:
    return (
        REGISTRY.get_sample_value("consumer_outage_retries_total", {"consumer": DURABLE.name})
        or 0.0
    )


async def test_a_message_is_held_through_a_database_outage_and_applied_once_after(
    bed: Bed, nc: Client
) -> None:
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(bed.consumer(compiles).run(stop)),
        asyncio.create_task(bed.relay.run(stop)),
    ]
    try:
        await bed.proxy.cut()
        retries_before = outage_retries()
        await bed.js.publish(
            subjects.COMPILE_AGENT.full(bed.root), compile_envelope().model_dump_json().encode()
        )
        # Held through more tries than the poison budget would ever allow, so the outage lasts
        # well past the point where the message used to be dead-lettered.
        await eventually_async(
            lambda: _true(outage_retries() >= retries_before + 4),
            timeout=60,
            what="the consumer retrying through the outage",
        )
        assert await bed.dead_letters() == 0
        assert (await readiness(bed.engine, nc))["database"].startswith("unreachable")
        info = await bed.js.consumer_info(DURABLE.stream.full_name(bed.root), DURABLE.name)
        assert info.num_redelivered == 0  # held, not redelivered: no delivery was spent
        await bed.proxy.restore()

        await eventually_async(
            lambda: _compiled(bed), timeout=60, what="the event after the outage"
        )
        await eventually_async(
            lambda: _ready(bed, nc), timeout=30, what="the readiness check recovering"
        )
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    assert await bed.processed() == 1
    assert await bed.dead_letters() == 0


async def test_a_direct_group_commit_rides_out_a_dropped_connection_and_applies_once(
    bed: Bed,
) -> None:
    """The compiler's path: the writer's own psycopg connection is dropped by the outage; the
    group waits it out on a new connection, and nothing is applied twice or dead-lettered."""

    async def compiles_direct(env: Envelope[Any], _unit: DirectUnit) -> Sequence[BaseModel]:
        return [compiled_event(env.data)]

    subject = subjects.COMPILE_AGENT.full(bed.root)
    stop = asyncio.Event()
    binding = group_commit(DURABLE, compiles_direct, direct=True)
    tasks = [
        asyncio.create_task(bed.consumer(binding).run(stop)),
        asyncio.create_task(bed.relay.run(stop)),
    ]
    try:
        # A first message opens the writer's connection; the cut then drops it.
        await bed.js.publish(subject, compile_envelope().model_dump_json().encode())
        await eventually_async(lambda: _processed(bed, 1), timeout=30, what="the first message")
        await bed.proxy.cut()
        retries_before = outage_retries()
        await bed.js.publish(subject, compile_envelope().model_dump_json().encode())
        await eventually_async(
            lambda: _true(outage_retries() >= retries_before + 2),
            timeout=60,
            what="the group retrying through the outage",
        )
        await bed.proxy.restore()
        await eventually_async(lambda: _processed(bed, 2), timeout=60, what="the second message")
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    assert await bed.processed() == 2
    assert await bed.dead_letters() == 0


async def _processed(bed: Bed, count: int) -> bool:
    return await bed.processed() == count


async def test_a_staged_message_keeps_what_it_staged_while_recording_waits_out_an_outage(
    bed: Bed,
) -> None:
    """The test-runner's path: the AI call (the stage) is made once; recording waits for the
    database and then succeeds, and nothing is dead-lettered."""
    staged: list[uuid.UUID] = []

    async def stage(envelope: Envelope[Any]) -> str:
        staged.append(envelope.id)
        return "answer"

    async def apply(session: AsyncSession, batch: list[Staged]) -> Recorded:
        return Recorded([(item.envelope, compiled_event(item.envelope.data)) for item in batch])

    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(bed.consumer(StagedBinding(DURABLE, stage, apply)).run(stop)),
        asyncio.create_task(bed.relay.run(stop)),
    ]
    try:
        await bed.proxy.cut()
        retries_before = outage_retries()
        await bed.js.publish(
            subjects.COMPILE_AGENT.full(bed.root), compile_envelope().model_dump_json().encode()
        )
        await eventually_async(
            lambda: _true(outage_retries() >= retries_before + 4),
            timeout=60,
            what="the recording retrying through the outage",
        )
        await bed.proxy.restore()
        await eventually_async(lambda: _compiled(bed), timeout=60, what="the event")
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    assert len(staged) == 1  # no second AI call for the outage
    assert await bed.processed() == 1
    assert await bed.dead_letters() == 0


async def test_an_outage_outlasting_the_patience_spends_the_allowance_not_the_poison_budget(
    bed: Bed,
) -> None:
    """No patience at all: every delivery ends at once for the outage, and only the larger
    JetStream limit (budget 2 + allowance 2) ends it, with a reason naming the outage."""
    policy = ConsumerPolicy(
        ack_wait=2, max_deliver=2, max_ack_pending=64, outage_patience=0, outage_allowance=2
    )
    stop = asyncio.Event()
    task = asyncio.create_task(bed.consumer(compiles, policy).run(stop))
    try:
        await bed.proxy.cut()
        await bed.js.publish(
            subjects.COMPILE_AGENT.full(bed.root), compile_envelope().model_dump_json().encode()
        )
        await eventually_async(
            lambda: _dead_lettered(bed), timeout=60, what="the message out of its allowance"
        )
    finally:
        stop.set()
        await task
    dead_letters = subjects.DEAD_LETTER.full_name(bed.root)
    subject = subjects.DEAD_LETTER.subject_for(subjects.COMPILE_AGENT.full(bed.root), bed.root)
    headers = (await bed.js.get_last_msg(dead_letters, subject)).headers or {}
    assert headers["Studio-Deliveries"] == "4"
    assert headers["Studio-Dead-Letter-Reason"].startswith(
        "a dependency stayed unreachable for 4 deliveries, last: OperationalError"
    )


async def _compiled(bed: Bed) -> bool:
    info = await bed.js.stream_info(
        subjects.COMPILER_STREAM.full_name(bed.root),
        subjects_filter=subjects.AGENT_COMPILED.full(bed.root),
    )
    return sum((info.state.subjects or {}).values()) == 1


async def _true(value: bool) -> bool:
    return value


async def _dead_lettered(bed: Bed) -> bool:
    return await bed.dead_letters() == 1


async def _ready(bed: Bed, nc: Client) -> bool:
    return (await readiness(bed.engine, nc))["database"] == "ok"
