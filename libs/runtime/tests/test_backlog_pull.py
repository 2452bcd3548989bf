"""The consumer loop's pulls against real NATS JetStream and PostgreSQL: a backlog comes in one
request per batch of free slots, not one request per message (`Consumer._fetch_backlog`)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from typing import Any, cast

import pytest
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.envelope import Envelope
from tests.support.delivery import Bed
from tests.support.messages import compile_envelope
from tests.support.waiting import eventually_async

pytestmark = pytest.mark.integration


class CountedPulls:
    """The bed's JetStream context, counting the messages each pull of a subscription asks for."""

    def __init__(self, js: JetStreamContext) -> None:
        self._js = js
        self.pulls: list[int] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._js, name)

    async def pull_subscribe_bind(self, *args: Any, **kwargs: Any) -> Any:
        return CountedSubscription(await self._js.pull_subscribe_bind(*args, **kwargs), self.pulls)


class CountedSubscription:
    def __init__(self, sub: JetStreamContext.PullSubscription, pulls: list[int]) -> None:
        self._sub = sub
        self._pulls = pulls

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sub, name)

    async def fetch(self, batch: int = 1, timeout: float | None = 5) -> list[Msg]:
        self._pulls.append(batch)
        return await self._sub.fetch(batch, timeout)


async def test_a_backlog_is_pulled_several_messages_a_request_each_applied_once(
    bed: Bed,
) -> None:
    """Messages already waiting come in pulls of as many as there are free slots, not one pull
    each: a slot's pull of one shows the backlog (the server's count of what waits behind it),
    and the three other slots (of 4) are filled by one pull. Each message is applied once, and
    one that comes alone afterwards is pulled at once."""
    waiting = [compile_envelope() for _ in range(20)]
    for envelope in waiting:
        await bed.publish(envelope)
    applied: list[uuid.UUID] = []
    gate = asyncio.Event()

    async def record(env: Envelope[Any], session: AsyncSession) -> Sequence[BaseModel]:
        await gate.wait()
        applied.append(env.id)
        return []

    js = CountedPulls(bed.js)
    stop = asyncio.Event()
    task = asyncio.create_task(bed.consumer(record, js=cast(JetStreamContext, js)).run(stop))
    try:
        await eventually_async(lambda: sum(js.pulls) >= 4, what="the slots filled")
        assert js.pulls[-1] == 3, js.pulls
        assert len(js.pulls) <= 3, js.pulls
        gate.set()
        await eventually_async(lambda: len(applied) == len(waiting), what="the backlog applied")
        pulls_for_backlog = len(js.pulls)
        alone = compile_envelope()
        await bed.publish(alone)
        await eventually_async(lambda: alone.id in applied, what="the lone message applied")
    finally:
        gate.set()
        stop.set()
        await task
    assert sorted(map(str, applied)) == sorted(str(e.id) for e in [*waiting, alone])
    assert pulls_for_backlog < len(waiting), js.pulls
    assert await bed.count(f"{bed.metadata.schema}.processed_messages") == len(waiting) + 1
