"""A bed for the delivery machinery's tests: an outbox and inbox in a schema of their own, the
JetStream topology under a root of its own, and what the tests read back from both."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from nats.js import JetStreamContext
from nats.js.api import ConsumerInfo

from contracts import subjects
from contracts.envelope import Envelope
from runtime import broker, db
from runtime.broker import ConsumerPolicy
from runtime.consumer import Consumer
from runtime.outbox import Relay
from runtime.staged import StagedBinding, StagedConsumer
from tests.support import infra
from tests.support.waiting import eventually_async

DURABLE = subjects.Durable(
    "test", subjects.COMPILER_STREAM, "compile_agent", subjects.COMPILE_AGENT.relative
)
POLICY = ConsumerPolicy(ack_wait=2, max_deliver=3, max_ack_pending=64)


@dataclass
class Bed:
    root: str
    js: JetStreamContext
    metadata: sa.MetaData
    sessionmaker: Any
    relay: Relay

    @property
    def outbox(self) -> sa.Table:
        return self.metadata.tables[f"{self.metadata.schema}.outbox"]

    async def count(self, table: str) -> int:
        async with self.sessionmaker() as session:
            return int(
                await session.scalar(
                    sa.select(sa.func.count()).select_from(self.metadata.tables[table])
                )
            )

    async def stream_count(self, subject: str) -> int:
        info = await self.js.stream_info(
            subjects.COMPILER_STREAM.full_name(self.root), subjects_filter=subject
        )
        return sum((info.state.subjects or {}).values())

    async def holds(self, subject: str, n: int) -> bool:
        return await self.stream_count(subject) == n

    async def acks_applied(self) -> ConsumerInfo:
        """The durable's state once no ack is pending. A consumer's acks are sent before its `run`
        returns, but the server applies them a moment later: read until it has, well within the
        ack wait (2 s), after which an ack never sent would still count as pending."""
        stream = subjects.COMPILER_STREAM.full_name(self.root)
        return await eventually_async(
            lambda: self.js.consumer_info(stream, DURABLE.name),
            lambda info: info.num_ack_pending == 0,
            timeout=1.5,
            interval=0.02,
            what="every ack applied by the server",
        )

    def consumer(
        self,
        handler: Any,
        *,
        durable: subjects.Durable = DURABLE,
        policy: ConsumerPolicy = POLICY,
        js: JetStreamContext | None = None,
    ) -> Consumer:
        return Consumer(js or self.js, durable, handler, **self._common(policy, 4, self.relay))

    def staged_consumer(self, binding: StagedBinding, relay: Relay | None = None) -> StagedConsumer:
        return StagedConsumer(self.js, binding, **self._common(POLICY, 8, relay or self.relay))

    def _common(self, policy: ConsumerPolicy, concurrency: int, relay: Relay) -> dict[str, Any]:
        return {
            "service": "test",
            "root": self.root,
            "sessionmaker": self.sessionmaker,
            "tables": self.metadata,
            "relay": relay,
            "policy": policy,
            "concurrency": concurrency,
            "fetch_timeout": 0.2,
        }

    async def publish(self, envelope: Envelope[Any]) -> None:
        """`envelope` on the compile command subject, which `DURABLE` consumes."""
        subject = subjects.COMPILE_AGENT.full(self.root)
        await self.js.publish(subject, envelope.model_dump_json().encode())


@asynccontextmanager
async def delivery_bed(
    database_url: str, nats_url: str, js: JetStreamContext
) -> AsyncIterator[Bed]:
    """An outbox and inbox in a schema of their own, and the topology under a root of its own."""
    schema = f"rt_{uuid.uuid4().hex[:8]}"
    root = infra.new_root()
    metadata = db.service_metadata(schema)
    engine = db.create_engine(database_url, pool_size=4)
    async with engine.begin() as conn:
        await conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        await conn.run_sync(metadata.create_all)
    await broker.ensure_topology(js, root, (DURABLE,), POLICY)
    sessionmaker = db.create_sessionmaker(engine)
    relay = Relay(
        js, sessionmaker, metadata.tables[f"{schema}.outbox"], root=root, poll_interval=0.1
    )
    try:
        yield Bed(root, js, metadata, sessionmaker, relay)
    finally:
        async with engine.begin() as conn:
            await conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        await engine.dispose()
        await asyncio.to_thread(infra.delete_streams, nats_url, root)
