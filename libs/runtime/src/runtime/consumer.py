"""The consumer loop: fetch → decode → handler → one transaction (inbox + state + outbox) → ack.

What happens to a message that cannot be applied:
- undecodable (poison) or `PermanentError`: copied to the dead-letter stream with the reason, then `term()`;
- `TransientError` or an unexpected exception: `nak(delay)`, and on its last delivery the dead-letter stream;
- no answer at all on every delivery (crashes, ack timeouts): rescued from JetStream's advisory.
The loop itself never dies on one bad message.

`runtime.staged.StagedConsumer` is this loop with a staging step before, and batched recording after.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
import structlog
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contracts import registry
from contracts.envelope import Envelope
from contracts.subjects import Durable, relative_subject
from runtime import inbox, outbox
from runtime import observability as obs
from runtime.broker import ConsumerPolicy
from runtime.dead_letters import DeadLetters
from runtime.errors import PermanentError, TransientError
from runtime.faults import failpoint
from runtime.outbox import Relay

log = structlog.get_logger()

Handler = Callable[[Envelope[Any], AsyncSession], Awaitable[Sequence[BaseModel]]]
"""Applies one message inside the given transaction and returns the messages it emits."""


class FailedDeliveries:
    """How many deliveries of each message failed in this process, so far as it saw them.

    JetStream 2.9.10 was seen to report a redelivery after `nak(delay)` as a first delivery (about
    one run in ten; 2.15 never did), which would restart the backoff and skip the dead letter with
    its reason. The larger of the server's count and this one wins. Bounded: the oldest is forgotten.
    """

    def __init__(self, size: int = 4096) -> None:
        self._size = size
        self._seen: OrderedDict[int, int] = OrderedDict()

    def count(self, msg: Msg) -> int:
        """This failed delivery's number."""
        sequence = msg.metadata.sequence.stream
        delivered = max(msg.metadata.num_delivered, self._seen.get(sequence, 0) + 1)
        self._seen[sequence] = delivered
        self._seen.move_to_end(sequence)
        if len(self._seen) > self._size:
            self._seen.popitem(last=False)
        return delivered


class Consumer:
    def __init__(
        self,
        js: JetStreamContext,
        durable: Durable,
        handler: Handler,
        *,
        service: str,
        root: str,
        sessionmaker: async_sessionmaker[AsyncSession],
        tables: sa.MetaData,
        relay: Relay,
        policy: ConsumerPolicy,
        concurrency: int = 8,
        fetch_timeout: float = 1.0,
    ) -> None:
        self._js = js
        self._durable = durable
        self._handler = handler
        self._service = service
        self._root = root
        self._sessionmaker = sessionmaker
        self._outbox = tables.tables[f"{tables.schema}.outbox"]
        self._inbox = tables.tables[f"{tables.schema}.processed_messages"]
        self._relay = relay
        self._policy = policy
        self._failed_deliveries = FailedDeliveries()
        self._concurrency = concurrency
        self._fetch_timeout = fetch_timeout
        self._dead_letters = DeadLetters(js, durable, root=root)

    async def run(self, stop: asyncio.Event) -> None:
        """Fetch until `stop` is set, then finish the messages in flight and unsubscribe."""
        sub = await self._js.pull_subscribe_bind(
            self._durable.name, stream=self._durable.stream.full_name(self._root)
        )
        rescuer = asyncio.create_task(
            self._dead_letters.rescue_exhausted(stop, self._fetch_timeout)
        )
        slots = asyncio.Semaphore(self._concurrency)
        in_flight: set[asyncio.Task[None]] = set()
        log.info("consumer.started", consumer=self._durable.name, concurrency=self._concurrency)
        while not stop.is_set():
            await slots.acquire()
            try:
                msgs = [] if stop.is_set() else await sub.fetch(1, timeout=self._fetch_timeout)
            except TimeoutError:  # nothing to do; covers nats' three timeout classes
                msgs = []
            except Exception as exc:  # e.g. reconnecting: wait, and keep the loop alive
                log.warning("consumer.fetch_failed", consumer=self._durable.name, error=repr(exc))
                msgs = []
                await asyncio.sleep(0.5)
            if not msgs:
                slots.release()
                continue
            task = asyncio.create_task(self._process(msgs[0]))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
            task.add_done_callback(lambda _t: slots.release())
        if in_flight:
            await asyncio.gather(*in_flight, return_exceptions=True)
        await rescuer
        await sub.unsubscribe()  # before nc.drain(): a pull sub left subscribed makes drain hang
        log.info("consumer.stopped", consumer=self._durable.name)

    async def _process(self, msg: Msg) -> None:
        name = self._durable.name
        started = time.perf_counter()
        md = msg.metadata
        obs.messages_in_flight.labels(name).inc()
        obs.message_queue_age.labels(name).observe(
            max(0.0, (datetime.now(UTC) - md.timestamp).total_seconds())
        )
        outcome = "error"
        try:
            outcome = await self._decode_and_apply(msg)
        except Exception as exc:  # the loop outlives every failure of a single message
            log.exception("consumer.unhandled", consumer=name, error=repr(exc))
        finally:
            obs.messages_in_flight.labels(name).dec()
            obs.messages_processed.labels(name, outcome).inc()
            obs.handler_duration.labels(name).observe(time.perf_counter() - started)

    async def _decode_and_apply(self, msg: Msg) -> str:
        relative = relative_subject(msg.subject, self._root)
        if not self._durable.accepts(relative):
            return await self._dead_letter(
                msg, f"subject {relative!r} is not one {self._durable.name} consumes"
            )
        if not registry.is_registered(relative) and self._durable.filter.endswith(".>"):
            # An event newer than this build (a tolerant reader skips it; its producer deployed first).
            await msg.ack_sync(timeout=2.0)
            log.info("consumer.unknown_event_skipped", subject=relative)
            return "skipped"
        try:
            envelope = registry.decode(relative, msg.data)
        except registry.UndecodableMessageError as exc:
            return await self._dead_letter(msg, f"undecodable: {exc}")
        parent = propagate.extract(msg.headers or {})
        span_attributes = {
            "messaging.system": "nats",
            "messaging.operation.type": "process",
            "messaging.operation.name": "process",
            "messaging.destination.name": relative,
            "messaging.consumer.group.name": self._durable.name,
            "messaging.message.id": str(envelope.id),
            "messaging.message.conversation_id": str(envelope.correlation_id),
        }
        with (
            obs.tracer().start_as_current_span(
                f"process {relative}",
                context=parent,
                kind=SpanKind.CONSUMER,
                attributes=span_attributes,
            ) as span,
            structlog.contextvars.bound_contextvars(
                correlation_id=str(envelope.correlation_id),
                message_id=str(envelope.id),
                consumer=self._durable.name,
            ),
        ):
            keepalive = asyncio.create_task(self._keep_alive(msg))
            try:
                return await self._apply(msg, envelope)
            except PermanentError as exc:
                span.set_status(Status(StatusCode.ERROR, str(exc)))
                return await self._dead_letter(msg, f"permanent: {exc}")
            except Exception as exc:
                span.set_status(Status(StatusCode.ERROR, str(exc)))
                span.record_exception(exc)
                return await self._retry_or_dead_letter(msg, exc)
            finally:
                keepalive.cancel()

    async def _apply(self, msg: Msg, envelope: Envelope[Any]) -> str:
        emitted: Sequence[BaseModel] = ()
        async with self._sessionmaker.begin() as session:
            first_time = await inbox.claim(session, self._inbox, envelope.id, self._durable.name)
            if first_time:
                # A hung handler must not hold its message (and its lease, kept alive) for ever.
                async with asyncio.timeout(self._policy.handler_timeout):
                    emitted = await self._handle(msg, envelope, session)
                await outbox.add_caused(
                    session,
                    self._outbox,
                    source=self._service,
                    caused=[(envelope, data) for data in emitted],
                )
            failpoint(f"{self._service}.before_commit")
        failpoint(f"{self._service}.before_ack")
        if emitted:
            self._relay.nudge()  # committed: what the handler emitted goes out now
        try:
            # Acked only once committed; if this ack is lost the redelivery finds the inbox row.
            await msg.ack_sync(timeout=2.0)
        except Exception as exc:  # applied all the same: never treat it as a failed handler
            log.warning("consumer.ack_failed", error=repr(exc))
        if not first_time:
            log.info("consumer.duplicate_skipped")
            return "duplicate"
        return "ack"

    async def _handle(
        self, _msg: Msg, envelope: Envelope[Any], session: AsyncSession
    ) -> Sequence[BaseModel]:
        return await self._handler(envelope, session)

    async def _retry_or_dead_letter(self, msg: Msg, exc: Exception) -> str:
        delivered = self._failed_deliveries.count(msg)
        if delivered >= self._policy.max_deliver:
            return await self._dead_letter(
                msg, f"failed {delivered} deliveries, last: {exc!r}", delivered
            )
        delay = (
            exc.retry_after
            if isinstance(exc, TransientError) and exc.retry_after is not None
            else min(0.5 * 2 ** (delivered - 1), 30.0)
        )
        if isinstance(exc, TransientError):
            log.warning("consumer.transient_failure", error=str(exc), retry_in=delay)
        else:
            log.error(
                "consumer.handler_failed", error=repr(exc), delivery=delivered, retry_in=delay
            )
        await msg.nak(delay=delay)
        return "nak"

    async def _dead_letter(self, msg: Msg, reason: str, deliveries: int | None = None) -> str:
        """Copy the message to the dead-letter stream with its reason, then stop its redelivery."""
        md = msg.metadata
        await self._dead_letters.copy(
            msg.subject,
            msg.data,
            msg.headers,
            stream=md.stream,
            sequence=md.sequence.stream,
            deliveries=deliveries or md.num_delivered,
            reason=reason,
        )
        await msg.term()
        trace.get_current_span().add_event("dead_lettered", {"reason": reason[:300]})
        return "dead_letter"

    async def _keep_alive(self, msg: Msg) -> None:
        """Hold the message's lease while a long handler (an AI call) is still working on it."""
        while True:
            await asyncio.sleep(self._policy.ack_wait / 3)
            await msg.in_progress()
