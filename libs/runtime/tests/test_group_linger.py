"""A group commit's linger against real PostgreSQL and NATS JetStream: a batch waits for more
messages only while its writer is busy, never for a message that comes alone
(`StagedBinding.busy_window`)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.envelope import Envelope
from runtime.staged import Recorded, Staged, StagedBinding
from tests.support.delivery import DURABLE, Bed
from tests.support.messages import compile_envelope
from tests.support.waiting import eventually_async

pytestmark = pytest.mark.integration

# Long beside the 0.2 s between two messages below, so that a linger shows in the batches.
LINGER = 1.0
GAP = 0.2


class Batches:
    """A staged binding that lingers only while busy, and what it did: the messages staged, and
    the batches it recorded (by envelope id). `hold` keeps the next batch open until released."""

    def __init__(self) -> None:
        self.staged: list[uuid.UUID] = []
        self.recorded: list[list[uuid.UUID]] = []
        self.hold: asyncio.Event | None = None

    def binding(self) -> StagedBinding:
        async def stage(env: Envelope[Any]) -> None:
            self.staged.append(env.id)

        async def apply(session: AsyncSession, staged: list[Staged]) -> Recorded:
            self.recorded.append([s.envelope.id for s in staged])
            if self.hold is not None:
                await self.hold.wait()
                self.hold = None
            return Recorded()

        return StagedBinding(DURABLE, stage, apply, linger=LINGER, busy_window=10 * LINGER)

    async def staged_all(self, *envelopes: Envelope[Any]) -> None:
        ids = {e.id for e in envelopes}
        await eventually_async(lambda: ids <= set(self.staged), what="the messages staged")

    async def recorded_count(self, count: int) -> None:
        await eventually_async(lambda: sum(map(len, self.recorded)) == count, what="the batches")


@asynccontextmanager
async def staged_running(bed: Bed, binding: StagedBinding) -> AsyncIterator[None]:
    """`binding`'s staged consumer at work for the block."""
    stop = asyncio.Event()
    consumer = asyncio.create_task(bed.staged_consumer(binding).run(stop))
    try:
        yield
    finally:
        stop.set()
        await consumer


async def test_a_lone_message_waits_for_no_other_while_the_writer_is_idle(bed: Bed) -> None:
    batches = Batches()
    first, second = compile_envelope(), compile_envelope()
    async with staged_running(bed, batches.binding()):
        await bed.publish(first)
        await batches.staged_all(first)
        await asyncio.sleep(GAP)  # the next message comes well within a linger
        await bed.publish(second)
        await batches.recorded_count(2)
    assert batches.recorded == [[first.id], [second.id]]


async def test_a_busy_writer_lingers_for_the_next_message(bed: Bed) -> None:
    """Messages that queue while a batch commits make a batch of two: the writer is busy, and
    its next batch waits a linger for more, taking in a message that comes after it."""
    batches = Batches()
    lone, queued, also_queued, busy, late = (compile_envelope() for _ in range(5))
    async with staged_running(bed, batches.binding()):
        batches.hold = asyncio.Event()
        await bed.publish(lone)
        await batches.recorded_count(1)  # the lone message's batch, held open
        await bed.publish(queued)
        await bed.publish(also_queued)
        await batches.staged_all(queued, also_queued)
        batches.hold.set()
        await batches.recorded_count(3)
        await bed.publish(busy)
        await batches.staged_all(busy)
        await asyncio.sleep(GAP)
        await bed.publish(late)
        await batches.recorded_count(5)
    assert batches.recorded == [
        [lone.id],
        [queued.id, also_queued.id],
        [busy.id, late.id],
    ]
