"""State that lives outside the process, read into gauges on a schedule for `/metrics`.

Consumer lag (pending and ack-pending per durable, from JetStream's consumer info) is what KEDA
scales the test-runner on and what the lag alerts watch; readiness as a gauge lets an alert see a
replica that is up but cannot reach its database or NATS. Reads are cheap (one request per durable)
and happen every `interval` seconds, not per scrape, so a scrape never waits on NATS.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from contextlib import suppress

import structlog
from nats.aio.client import Client
from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.subjects import DEAD_LETTER, Durable
from runtime import observability as obs
from runtime.health import readiness

log = structlog.get_logger()

DEFAULT_INTERVAL_SECONDS = 5.0


class Monitor:
    """Reads the durables' lag, the dead-letter stream's size and readiness into gauges."""

    def __init__(
        self,
        js: JetStreamContext,
        durables: Sequence[Durable],
        *,
        root: str,
        dependencies: Callable[[], tuple[AsyncEngine, Client]],
        interval: float = DEFAULT_INTERVAL_SECONDS,
    ) -> None:
        self._js = js
        self._durables = tuple(durables)
        self._root = root
        self._dependencies = dependencies
        self._interval = interval

    async def run(self, stop: asyncio.Event) -> None:
        """Sample now, then every `interval` seconds until `stop` is set."""
        while not stop.is_set():
            await self.sample()
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self._interval)

    async def sample(self) -> None:
        await self._sample_readiness()
        for durable in self._durables:
            await self._sample_lag(durable)
        await self._sample_dead_letters()

    async def _sample_readiness(self) -> None:
        checks = await readiness(*self._dependencies())
        for dependency, state in checks.items():
            obs.dependency_up.labels(dependency).set(1 if state == "ok" else 0)
        obs.service_ready.set(1 if all(state == "ok" for state in checks.values()) else 0)

    async def _sample_lag(self, durable: Durable) -> None:
        try:
            async with asyncio.timeout(self._interval):
                info = await self._js.consumer_info(
                    durable.stream.full_name(self._root), durable.name
                )
        except Exception as exc:  # NATS away: the gauges keep their last value, the error counts
            obs.monitor_errors.labels("consumer_info").inc()
            log.debug("monitor.consumer_info_failed", consumer=durable.name, error=repr(exc))
            return
        obs.consumer_pending.labels(durable.name).set(info.num_pending or 0)
        obs.consumer_ack_pending.labels(durable.name).set(info.num_ack_pending or 0)
        obs.consumer_redelivered.labels(durable.name).set(info.num_redelivered or 0)

    async def _sample_dead_letters(self) -> None:
        try:
            async with asyncio.timeout(self._interval):
                info = await self._js.stream_info(DEAD_LETTER.full_name(self._root))
        except Exception as exc:
            obs.monitor_errors.labels("stream_info").inc()
            log.debug("monitor.stream_info_failed", error=repr(exc))
            return
        obs.dead_letter_stream_messages.set(info.state.messages)
