"""The staged consumer: a message's work in two steps, for handlers whose slow part is I/O (an AI call).

`stage` runs first, outside any transaction and holding no connection; then a single writer records
the staged values of every message ready at that moment in one transaction (inbox + state + outbox),
so a burst of results costs one commit, not one each. Delivery, retries and dead letters are those
of `runtime.consumer.Consumer`.

`group_commit` puts a plain handler on the same writer, with nothing to stage: the group commit of
a hot path's messages. With `direct=True` the group's transaction runs on the writer's own
psycopg connection in pipeline mode, not on a SQLAlchemy session: the statements up to the
pipeline's sync are one transaction, which the sync commits (or rolls back, after an error), so
the group sends no `BEGIN` or `COMMIT`. Its inbox claim starts it, and what it writes after its
last read (its rows, its outbox rows) travels with the sync, so a group costs a round trip to
PostgreSQL per read it makes, and one more. Reads that do not depend on one another can go with
the claim (`ReadAhead`): a group whose handlers read only what was read ahead and write without
reading back costs two. The deletion of the outbox rows the relay has published from memory
since the previous group goes with the sync too (`outbox.Relay.take_sent`).

A group lingers (`GROUP_LINGER`) only while the process is busy: when a group of more than one
message has formed within `BUSY_WINDOW`. Messages arriving while one commits show the load, and
at load a short wait for more costs less than the commit it spares each of them; a message that
comes alone waits for no other.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import AsyncExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import psycopg
import structlog
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from opentelemetry import context as otel_context
from opentelemetry.context import Context
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.envelope import Envelope
from contracts.subjects import Durable
from runtime import inbox, outbox
from runtime import observability as obs
from runtime.consumer import Consumer, Handler
from runtime.db import DirectUnit, libpq_url
from runtime.faults import failpoint

log = structlog.get_logger()

# At 32 clients compiling, 3 ms took the groups from 1.1-1.4 messages to 2.2-2.8, and about 8 %
# off the CPU of a round trip (bench/README, *A busy group waits 3 ms for more*).
GROUP_LINGER = 0.003  # seconds a busy group waits for more messages
BUSY_WINDOW = 0.05  # seconds a group of more than one shows the process busy


@dataclass(frozen=True)
class Staged:
    """A message and what its `stage` step produced, waiting to be recorded; `trace` is the
    message's span (its context), which its recording and what it emits continue."""

    envelope: Envelope[Any]
    value: Any
    trace: Context = field(default_factory=otel_context.get_current)


@dataclass(frozen=True)
class Recorded:
    """What `apply` did: messages to emit, each with the message that caused it (its correlation
    and causation), and what to do once the transaction has committed (best effort)."""

    emitted: Sequence[tuple[Envelope[Any], BaseModel]] = ()
    after_commit: Callable[[], Awaitable[None]] | None = None


ReadAhead = Callable[[DirectUnit, list[Envelope[Any]]], Awaitable[None]]
"""Sends, without reading their answers, reads a direct group's handlers will make (`db.send`),
keeping them in the unit for the handlers to read: they travel with the group's inbox claim, in
its round trip. It is given every message of the group, those the claim then finds already
applied too (what was read for them is left unread)."""


@dataclass(frozen=True)
class StagedBinding:
    """A durable whose messages are handled in two steps (see `StagedConsumer`).

    `stage(envelope)` does the slow, side-effect-free work and may be repeated on a redelivery;
    `apply(session, staged)` records a batch inside one transaction and says what it emits.
    """

    durable: Durable
    stage: Callable[[Envelope[Any]], Awaitable[Any]]
    apply: Callable[[Any, list[Staged]], Awaitable[Recorded]]  # an AsyncSession, or a DirectUnit
    max_batch: int = 200
    linger: float = 0.02  # seconds a batch waits for more results once it has one
    # With a busy window, a batch lingers only within that many seconds of one of more than one
    # message (module doc); a batch of one alone waits for no other.
    busy_window: float | None = None
    direct: bool = False  # `apply` gets a `DirectUnit` (module doc)
    read_ahead: ReadAhead | None = None  # a direct group's reads sent with its inbox claim


DirectHandler = Callable[[Envelope[Any], DirectUnit], Awaitable[Sequence[BaseModel]]]


@contextmanager
def traced(item: Staged) -> Iterator[None]:
    """Within the block, `item`'s message's span is the current one."""
    token = otel_context.attach(item.trace)
    try:
        yield
    finally:
        otel_context.detach(token)


def group_commit(
    durable: Durable,
    handler: Handler | DirectHandler,
    *,
    max_batch: int = 64,
    direct: bool = False,
    read_ahead: ReadAhead | None = None,
) -> StagedBinding:
    """`handler`'s messages applied one after another in one transaction with every other message
    of `durable` ready at that moment: one inbox claim, one commit and one relay pass for the group,
    where a message alone pays them all. The groups form by themselves while the previous one
    commits, and while the process is busy a group lingers for more (module doc). A group that
    fails is recorded again message by message (`StagedConsumer`), so one bad message fails alone.
    `direct`: `handler` takes a `DirectUnit`, not a session (module doc), and `read_ahead` may
    send the reads its handlers will make with the group's inbox claim (`ReadAhead`)."""

    async def stage(_envelope: Envelope[Any]) -> None:
        return None

    async def apply(unit: Any, staged: list[Staged]) -> Recorded:
        emitted: list[tuple[Envelope[Any], BaseModel]] = []
        for item in staged:
            with traced(item):  # its statements are in its message's span, as alone
                emitted += [(item.envelope, data) for data in await handler(item.envelope, unit)]
        return Recorded(emitted)

    return StagedBinding(
        durable,
        stage,
        apply,
        max_batch=max_batch,
        linger=GROUP_LINGER,
        busy_window=BUSY_WINDOW,
        direct=direct,
        read_ahead=read_ahead,
    )


class StagedConsumer(Consumer):
    """The consumer loop with a staging step before, and batched recording after (module doc)."""

    def __init__(
        self, js: JetStreamContext, binding: StagedBinding, *, concurrency: int = 8, **kwargs: Any
    ) -> None:
        # `concurrency` bounds the stages (the AI calls) in flight; twice as many messages may be
        # held, so that messages waiting for their batch to commit never idle a stage slot.
        super().__init__(js, binding.durable, _no_handler, concurrency=2 * concurrency, **kwargs)
        self._binding = binding
        self._stages = asyncio.Semaphore(concurrency)
        self._queue: asyncio.Queue[tuple[Staged, asyncio.Future[bool]]] = asyncio.Queue()
        self._connection: psycopg.AsyncConnection[Any] | None = None  # a direct writer's own
        self._pipeline: psycopg.AsyncPipeline | None = None  # its pipeline, held open
        self._held = AsyncExitStack()  # what leaves the pipeline when the connection closes

    async def run(self, stop: asyncio.Event) -> None:
        writer = asyncio.create_task(self._write_batches())
        try:
            await super().run(stop)  # returns once every in-flight message is settled
        finally:
            writer.cancel()
            await self._close_connection()

    async def _apply(self, msg: Msg, envelope: Envelope[Any]) -> str:
        # While PostgreSQL is unreachable each step is held and tried again (runtime.outages);
        # what was staged is kept, so an outage while recording costs no second AI call.
        if msg.metadata.num_delivered > 1 and await self._ride_out(
            lambda: self._already_recorded(envelope)
        ):
            # Redelivered after a crash or a lost ack: never stage (pay for an AI call) twice.
            await msg.ack()
            return "duplicate"
        value = await self._ride_out(lambda: self._stage(envelope))
        first_time = await self._ride_out(lambda: self._recorded(Staged(envelope, value)))
        failpoint(f"{self._service}.before_ack")
        # A plain ack, unconfirmed: if it is lost, the redelivery is answered from the inbox above.
        await msg.ack()
        return "ack" if first_time else "duplicate"

    async def _stage(self, envelope: Envelope[Any]) -> Any:
        async with self._stages, asyncio.timeout(self._policy.handler_timeout):
            return await self._binding.stage(envelope)

    async def _recorded(self, staged: Staged) -> bool:
        """Whether the batch writer recorded `staged` for the first time (False: a duplicate)."""
        recorded: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((staged, recorded))
        return await recorded

    async def _already_recorded(self, envelope: Envelope[Any]) -> bool:
        async with self._sessionmaker() as session:
            return await inbox.seen(session, self._inbox, envelope.id, self._durable.name)

    async def _write_batches(self) -> None:
        loop = asyncio.get_running_loop()
        busy_until = 0.0  # until when the last batch of more than one shows the process busy
        while True:
            batch = [await self._queue.get()]
            # Linger a moment for results still arriving: under load a commit per handful of
            # messages costs several times the CPU of one per batch.
            idle = self._binding.busy_window is not None and loop.time() >= busy_until
            deadline = loop.time() + (0.0 if idle else self._binding.linger)
            while len(batch) < self._binding.max_batch:
                if not self._queue.empty():
                    batch.append(self._queue.get_nowait())
                    continue
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    batch.append(await asyncio.wait_for(self._queue.get(), remaining))
                except TimeoutError:
                    break
            obs.batch_size.labels(self._durable.name).observe(len(batch))
            if len(batch) > 1 and self._binding.busy_window is not None:
                busy_until = loop.time() + self._binding.busy_window
            try:
                results = await self._record([staged for staged, _ in batch])
            except Exception as exc:
                if len(batch) == 1:
                    batch[0][1].set_exception(exc)
                    continue
                # One bad item must not hold back the others: record them one by one.
                log.warning("consumer.batch_failed", size=len(batch), error=repr(exc))
                for staged, recorded in batch:
                    try:
                        recorded.set_result((await self._record([staged]))[0])
                    except Exception as item_exc:
                        recorded.set_exception(item_exc)
                continue
            for (_, recorded), first_time in zip(batch, results, strict=True):
                recorded.set_result(first_time)

    async def _record(self, batch: list[Staged]) -> list[bool]:
        """One transaction: claim the ids, apply the new ones, write what they emit; then hand
        what they emit to the relay (from memory on a direct group, else by a nudge)."""
        # The group's own statements (its claim, its commit) join the first message's trace.
        with traced(batch[0]):
            fresh_ids, recorded, written = await self._commit_group(batch)
        if written:
            self._relay.publish_committed(written)  # from memory: no claim (outbox.Relay)
        elif recorded.emitted:
            self._relay.nudge()
        if recorded.after_commit is not None:
            try:
                await recorded.after_commit()
            except Exception as exc:  # e.g. only a live notice is lost; the state is committed
                log.warning("consumer.after_commit_failed", error=repr(exc))
        # A message seen twice in one batch counts once: the first occurrence.
        seen: set[Any] = set()
        results = []
        for s in batch:
            results.append(s.envelope.id in fresh_ids and s.envelope.id not in seen)
            seen.add(s.envelope.id)
        return results

    async def _commit_group(
        self, batch: list[Staged]
    ) -> tuple[set[UUID], Recorded, list[dict[str, Any]]]:
        """The transaction: the ids claimed for the first time, what applying them did, and the
        outbox rows it wrote when they can be published from memory (a direct group)."""
        if self._binding.direct:
            return await self._commit_direct_group(batch)
        recorded = Recorded()
        async with self._sessionmaker.begin() as session:
            fresh_ids = await inbox.claim_many(
                session, self._inbox, [s.envelope.id for s in batch], self._durable.name
            )
            fresh = [s for s in batch if s.envelope.id in fresh_ids]
            if fresh:
                async with asyncio.timeout(self._policy.handler_timeout):
                    recorded = await self._binding.apply(session, fresh)
                await outbox.add_caused(
                    session,
                    self._outbox,
                    source=self._service,
                    caused=recorded.emitted,
                    contexts={s.envelope.id: s.trace for s in fresh},  # each continues its cause's
                )
            failpoint(f"{self._service}.before_commit")
        return fresh_ids, recorded, []

    async def _commit_direct_group(
        self, batch: list[Staged]
    ) -> tuple[set[UUID], Recorded, list[dict[str, Any]]]:
        """`_commit_group` on the writer's own connection, in pipeline mode (module doc).

        The transaction is the extended query protocol's own: every statement from the claim to
        the pipeline's sync, committed by the sync, or rolled back by it after an error (a
        flush, which fetches a read's answer, does not end it). Not psycopg's `transaction()`:
        in a pipeline that syncs on entering (a `BEGIN` alone) and twice on leaving, three round
        trips more per group; nor an explicit `BEGIN` and `COMMIT`, two statements more."""
        recorded = Recorded()
        written: list[dict[str, Any]] = []
        sent: list[UUID] = []
        connection, pipeline = await self._direct_connection()
        try:
            unit = DirectUnit(connection)
            claim = await inbox.send_claim(
                connection, self._inbox, [s.envelope.id for s in batch], self._durable.name
            )
            if self._binding.read_ahead is not None:
                await self._binding.read_ahead(unit, [s.envelope for s in batch])
            fresh_ids = await inbox.claimed(claim)
            fresh = [s for s in batch if s.envelope.id in fresh_ids]
            if fresh:
                async with asyncio.timeout(self._policy.handler_timeout):
                    recorded = await self._binding.apply(unit, fresh)
                written = await outbox.write_caused(
                    connection,
                    self._outbox,
                    source=self._service,
                    caused=recorded.emitted,
                    contexts={s.envelope.id: s.trace for s in fresh},
                )
            failpoint(f"{self._service}.before_commit")
            # What the relay has published from memory since the last group goes with this
            # commit, rather than in a statement and a commit of the relay's own (outbox.Relay).
            sent = self._relay.take_sent()
            if sent:
                await outbox.delete_sent(connection, self._outbox, sent)
            # The sync commits, or raises the first error of any statement since the claim.
            await pipeline.sync()
        except BaseException:
            self._relay.give_back(sent)
            # Whatever was cut short (an error, a timeout mid-pipeline, a lost server), the open
            # transaction goes with its connection: the next group starts on a fresh one rather
            # than on one in an unknown state.
            await self._close_connection()
            raise
        return fresh_ids, recorded, written

    async def _direct_connection(
        self,
    ) -> tuple[psycopg.AsyncConnection[Any], psycopg.AsyncPipeline]:
        """The writer's own connection, in pipeline mode for as long as it is open."""
        if self._connection is None or self._pipeline is None:
            engine = self._sessionmaker.kw["bind"]
            connection = await psycopg.AsyncConnection.connect(
                libpq_url(engine.url.render_as_string(hide_password=False)),
                autocommit=True,  # psycopg sends no `BEGIN`: a group's sync ends its transaction
                application_name=f"{self._service}-writer",
                connect_timeout=5,
            )
            try:
                self._pipeline = await self._held.enter_async_context(connection.pipeline())
            except BaseException:
                await connection.close()
                raise
            self._connection = connection
        return self._connection, self._pipeline

    async def _close_connection(self) -> None:
        connection, self._connection, self._pipeline = self._connection, None, None
        if connection is not None:
            with suppress(Exception):
                await connection.close()
            with suppress(Exception):  # leaves pipeline mode: on a closed connection, no sync
                await self._held.aclose()


async def _no_handler(_envelope: Envelope[Any], _session: AsyncSession) -> Sequence[BaseModel]:
    raise AssertionError("a staged consumer records through its binding's apply")
