"""The consumer loop: fetch → decode → handler → one transaction (inbox + state + outbox) → ack.

What happens to a message that cannot be applied:
- undecodable (poison) or `PermanentError`: copied to the dead-letter stream with the reason, then `term()`;
- PostgreSQL or NATS unreachable: held and tried again, with a growing backoff, for up to the outage
  patience; then redelivered later, never counted against `MAX_DELIVER` (runtime.outages);
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
from typing import Any, TypeVar

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
from runtime.dead_letters import DeadLetterKind, DeadLetters
from runtime.errors import PermanentError, TransientError
from runtime.faults import failpoint
from runtime.outages import backoff, is_unreachable, ride_out
from runtime.outbox import Relay

log = structlog.get_logger()

T = TypeVar("T")

# The most a pull of a backlog waits for its batch (`Consumer._fetch_backlog`).
BACKLOG_WAIT = 0.01

Handler = Callable[[Envelope[Any], AsyncSession], Awaitable[Sequence[BaseModel]]]
"""Applies one message inside the given transaction and returns the messages it emits."""


class FailedDeliveries:
    """How many deliveries of each message failed in this process, so far as it saw them.

    JetStream 2.9.10 was seen to report a redelivery after `nak(delay)` as a first delivery (about
    one run in ten; 2.15 never did), which would restart the backoff and skip the dead letter with
    its reason. The larger of the server's count and this one wins. Deliveries that ended for an
    unreachable dependency (`excuse`) are taken off the server's count: they are not the handler's
    failures (docs/decisions/0010). Bounded: the oldest is forgotten.
    """

    def __init__(self, size: int = 4096) -> None:
        self._size = size
        self._seen: OrderedDict[int, tuple[int, int]] = OrderedDict()

    def count(self, msg: Msg) -> int:
        """This failed delivery's number."""
        sequence = msg.metadata.sequence.stream
        failed, excused = self._seen.get(sequence, (0, 0))
        delivered = max(msg.metadata.num_delivered - excused, failed + 1)
        self._remember(sequence, (delivered, excused))
        return delivered

    def excuse(self, msg: Msg) -> None:
        """This delivery ended (or may have) because PostgreSQL or NATS was unreachable."""
        sequence = msg.metadata.sequence.stream
        failed, excused = self._seen.get(sequence, (0, 0))
        self._remember(sequence, (failed, excused + 1))

    def _remember(self, sequence: int, counts: tuple[int, int]) -> None:
        self._seen[sequence] = counts
        self._seen.move_to_end(sequence)
        if len(self._seen) > self._size:
            self._seen.popitem(last=False)


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
        self._stop = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        """Fetch until `stop` is set, then finish the messages in flight and unsubscribe."""
        self._stop = stop
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
            msgs += await self._fetch_backlog(sub, msgs[0], slots)
            for msg in msgs:
                task = asyncio.create_task(self._process(msg))
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
                task.add_done_callback(lambda _t: slots.release())
        if in_flight:
            await asyncio.gather(*in_flight, return_exceptions=True)
        await rescuer
        await sub.unsubscribe()  # before nc.drain(): a pull sub left subscribed makes drain hang
        log.info("consumer.stopped", consumer=self._durable.name)

    async def _fetch_backlog(
        self, sub: JetStreamContext.PullSubscription, first: Msg, slots: asyncio.Semaphore
    ) -> list[Msg]:
        """When `first` shows messages waiting behind it, as many of them as there are free slots,
        in one pull request. A pull per message costs about 110 µs of CPU, a pull of 32 about 30
        µs a message (bench/README, *Pulling a backlog in one request*). Only for a backlog, and
        no more than the server said is waiting: nats-py's batched fetch waits for its whole
        batch (platform notes §1.5), so a batch that another replica emptied in the meantime
        costs at most `BACKLOG_WAIT`; what it then brings in late waits in the subscription for
        the next fetch, which takes it first."""
        wanted = 0
        try:
            while wanted < first.metadata.num_pending and not slots.locked():
                await slots.acquire()  # free: returns at once
                wanted += 1
            more = await sub.fetch(wanted, timeout=BACKLOG_WAIT) if wanted else []
        except Exception:  # none left (another replica took them), or reconnecting: go on
            more = []
        for _ in range(wanted - len(more)):
            slots.release()
        return more

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
                msg,
                f"subject {relative!r} is not one {self._durable.name} consumes",
                kind="wrong_subject",
            )
        if not registry.is_registered(relative) and self._durable.filter.endswith(".>"):
            # An event newer than this build (a tolerant reader skips it; its producer deployed first).
            await msg.ack()
            log.info("consumer.unknown_event_skipped", subject=relative)
            return "skipped"
        try:
            envelope = registry.decode(relative, msg.data)
        except registry.UndecodableMessageError as exc:
            return await self._dead_letter(msg, f"undecodable: {exc}", kind="undecodable")
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
            lease = Lease(msg, self._policy.ack_wait / 3, self._failed_deliveries)
            try:
                return await self._apply(msg, envelope)
            except PermanentError as exc:
                span.set_status(Status(StatusCode.ERROR, str(exc)))
                return await self._dead_letter(msg, f"permanent: {exc}", kind="permanent")
            except Exception as exc:
                span.set_status(Status(StatusCode.ERROR, str(exc)))
                span.record_exception(exc)
                return await self._retry_or_dead_letter(msg, exc)
            finally:
                lease.release()

    async def _apply(self, msg: Msg, envelope: Envelope[Any]) -> str:
        # While PostgreSQL is unreachable the message is held and tried again (runtime.outages).
        first_time, emitted = await self._ride_out(lambda: self._commit(msg, envelope))
        failpoint(f"{self._service}.before_ack")
        if emitted:
            self._relay.nudge()  # committed: what the handler emitted goes out now
        try:
            # Acked only once committed. A plain ack, not a double one (`ack_sync`): waiting for
            # the server's reply would only tell us what the inbox already makes safe. If this ack
            # is lost, the redelivery finds the inbox row and is acked as a duplicate, unapplied.
            await msg.ack()
        except Exception as exc:  # applied all the same: never treat it as a failed handler
            log.warning("consumer.ack_failed", error=repr(exc))
        if not first_time:
            log.info("consumer.duplicate_skipped")
            return "duplicate"
        return "ack"

    async def _commit(self, msg: Msg, envelope: Envelope[Any]) -> tuple[bool, Sequence[BaseModel]]:
        """One transaction: the inbox claim, the handler, the outbox rows; (first time, emitted)."""
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
        return first_time, emitted

    async def _ride_out(self, attempt: Callable[[], Awaitable[T]]) -> T:
        return await ride_out(
            attempt, patience=self._policy.outage_patience, stop=self._stop, what=self._durable.name
        )

    async def _handle(
        self, _msg: Msg, envelope: Envelope[Any], session: AsyncSession
    ) -> Sequence[BaseModel]:
        return await self._handler(envelope, session)

    async def _retry_or_dead_letter(self, msg: Msg, exc: Exception) -> str:
        if is_unreachable(exc):
            return await self._wait_for_dependency(msg, exc)
        delivered = self._failed_deliveries.count(msg)
        if delivered >= self._policy.max_deliver:
            return await self._dead_letter(
                msg,
                f"failed {delivered} deliveries, last: {exc!r}",
                kind="retries_exhausted",
                deliveries=delivered,
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

    async def _dead_letter(
        self, msg: Msg, reason: str, *, kind: DeadLetterKind, deliveries: int | None = None
    ) -> str:
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
            kind=kind,
        )
        await msg.term()
        trace.get_current_span().add_event("dead_lettered", {"reason": reason[:300]})
        return "dead_letter"

    async def _wait_for_dependency(self, msg: Msg, exc: Exception) -> str:
        """Still unreachable after the patience (or stopping): redelivered later, not counted
        against the poison budget; JetStream's larger limit (`delivery_limit`) still ends it."""
        self._failed_deliveries.excuse(msg)
        delivered = msg.metadata.num_delivered
        if delivered >= self._policy.delivery_limit:
            return await self._dead_letter(
                msg,
                f"a dependency stayed unreachable for {delivered} deliveries, last: {exc!r}",
                kind="retries_exhausted",
                deliveries=delivered,
            )
        delay = backoff(delivered - 1)
        log.warning("consumer.dependency_unreachable", error=repr(exc)[:300], retry_in=delay)
        try:
            await msg.nak(delay=delay)
        except Exception as nak_exc:  # NATS down as well: the lease runs out, same effect
            log.warning("consumer.nak_failed", error=repr(nak_exc))
        return "nak"


class Lease:
    """Holds a message's lease while a long handler (an AI call) is still working on it: the
    lease is renewed every `interval` seconds until released. A timer, not a task per message:
    most handlers are done long before the first renewal, and a task's creation, first step and
    cancellation cost the hot paths a few percent of their CPU."""

    def __init__(self, msg: Msg, interval: float, failed: FailedDeliveries) -> None:
        self._msg = msg
        self._interval = interval
        self._failed = failed
        self._renewal: asyncio.Task[None] | None = None
        self._timer = asyncio.get_running_loop().call_later(interval, self._renew)

    def release(self) -> None:
        self._timer.cancel()
        if self._renewal is not None:
            self._renewal.cancel()

    def _renew(self) -> None:
        if self._renewal is None or self._renewal.done():  # one renewal in flight at a time
            self._renewal = asyncio.ensure_future(self._send())
        self._timer = asyncio.get_running_loop().call_later(self._interval, self._renew)

    async def _send(self) -> None:
        try:
            await self._msg.in_progress()
        except Exception as exc:  # NATS unreachable: the lease may run out meanwhile,
            # and the redelivery that follows is not the handler's failure.
            log.warning("consumer.lease_renewal_failed", error=repr(exc))
            self._failed.excuse(self._msg)
