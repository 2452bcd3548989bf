"""The delivery machinery against real PostgreSQL and NATS JetStream: relay, consumer loop, shutdown."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from prometheus_client import REGISTRY
from pydantic import BaseModel
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from contracts import subjects
from contracts.envelope import Envelope
from contracts.registry import envelope_for
from runtime import broker, db, outbox
from runtime.broker import ConsumerPolicy
from runtime.errors import TransientError
from runtime.outbox import Relay
from tests.support.delivery import DURABLE, POLICY, Bed
from tests.support.messages import compile_envelope, compiled_event
from tests.support.waiting import eventually_async

pytestmark = pytest.mark.integration


async def test_relay_publishes_pending_rows_once_and_deletes_them(bed: Bed) -> None:
    envelopes = [compile_envelope() for _ in range(3)]
    async with bed.sessionmaker.begin() as session:
        assert await outbox.add(session, bed.outbox, envelopes) == 3

    assert await bed.relay.publish_pending() == 3
    assert await bed.count(bed.outbox.fullname) == 0
    assert await bed.stream_count(subjects.COMPILE_AGENT.full(bed.root)) == 3


async def test_a_row_published_again_after_a_crash_is_deduplicated_by_its_message_id(
    bed: Bed,
) -> None:
    envelope = compile_envelope()
    async with bed.sessionmaker.begin() as session:
        await outbox.add(session, bed.outbox, [envelope])
    await bed.relay.publish_pending()
    # As if the relay died after the PubAck but before its commit: the row is back.
    async with bed.sessionmaker.begin() as session:
        await outbox.add(session, bed.outbox, [envelope])
    await bed.relay.publish_pending()

    assert await bed.count(bed.outbox.fullname) == 0
    assert await bed.stream_count(subjects.COMPILE_AGENT.full(bed.root)) == 1


async def test_a_failed_publish_puts_the_row_back_with_its_error(
    bed: Bed, js: JetStreamContext
) -> None:
    envelope = compile_envelope()
    async with bed.sessionmaker.begin() as session:
        await outbox.add(session, bed.outbox, [envelope])
    await js.delete_stream(
        subjects.COMPILER_STREAM.full_name(bed.root)
    )  # nothing captures the subject

    assert await bed.relay.publish_pending() == 0  # none published
    async with bed.sessionmaker() as session:
        row = (await session.execute(sa.select(bed.outbox))).one()
    assert (row.message_id, row.attempts) == (envelope.id, 1)
    assert row.last_error is not None

    await broker.ensure_topology(js, bed.root, (DURABLE,), POLICY)
    await bed.relay.publish_pending()
    assert await bed.count(bed.outbox.fullname) == 0
    assert await bed.stream_count(subjects.COMPILE_AGENT.full(bed.root)) == 1


async def test_rows_handed_over_after_their_commit_go_out_from_memory_without_a_claim(
    bed: Bed, js: JetStreamContext
) -> None:
    """`Relay.publish_committed`: published at once and deleted by id, though nothing nudged
    the claim and its poll is a minute away; a row whose publish failed stays for the claim."""
    relay = Relay(js, bed.sessionmaker, bed.outbox, root=bed.root, poll_interval=60)
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    subject = subjects.COMPILE_AGENT.full(bed.root)
    try:
        first = [compile_envelope()]
        async with bed.sessionmaker.begin() as session:
            await outbox.add(session, bed.outbox, first)
        relay.publish_committed([outbox.message_params(first[0])])
        await eventually_async(lambda: bed.holds(subject, 1), what="the row published")
        await eventually_async(
            lambda: bed.count(bed.outbox.fullname), lambda n: n == 0, what="the row deleted"
        )

        await js.delete_stream(subjects.COMPILER_STREAM.full_name(bed.root))  # publishes fail
        errors = REGISTRY.get_sample_value("outbox_published_total", {"outcome": "error"}) or 0.0
        second = [compile_envelope()]
        async with bed.sessionmaker.begin() as session:
            await outbox.add(session, bed.outbox, second)
        relay.publish_committed([outbox.message_params(second[0])])
        await eventually_async(
            lambda: REGISTRY.get_sample_value("outbox_published_total", {"outcome": "error"}),
            lambda n: (n or 0) > errors,
            what="the failed publish counted",
        )
        assert await bed.count(bed.outbox.fullname) == 1  # kept, for the claim

        await broker.ensure_topology(js, bed.root, (DURABLE,), POLICY)
        relay.nudge()  # as the next commit does
        await eventually_async(lambda: bed.holds(subject, 1), what="the claim sending it")
        assert await bed.count(bed.outbox.fullname) == 0
    finally:
        stop.set()
        await task


async def test_a_row_and_its_message_are_written_by_one_statement_or_not_at_all(bed: Bed) -> None:
    """`outbox.insert_with_message`: the message only if its row was written, in autocommit."""
    inbox = bed.metadata.tables[f"{bed.metadata.schema}.processed_messages"]
    claim = (
        insert(inbox)
        .values(message_id=sa.bindparam("row_id"), consumer=sa.bindparam("consumer"))
        .on_conflict_do_nothing()
        .returning(inbox.c.message_id)
    )
    statement = outbox.insert_with_message(bed.outbox, claim)
    row_id = uuid.uuid4()
    first, second = compile_envelope(), compile_envelope()
    url = bed.sessionmaker.kw["bind"].url.render_as_string(hide_password=False)
    async with await psycopg.AsyncConnection.connect(db.libpq_url(url), autocommit=True) as conn:
        for envelope in (first, second):  # the same row twice: the second time it is not new
            params = {"row_id": row_id, "consumer": "test", **outbox.message_params(envelope)}
            await db.execute(conn, statement, params)

    async with bed.sessionmaker() as session:
        written = (await session.scalars(sa.select(bed.outbox.c.message_id))).all()
    assert await bed.count(inbox.fullname) == 1
    assert written == [first.id]


async def test_a_transient_failure_is_retried_and_then_applied_once(bed: Bed) -> None:
    calls: list[int] = []

    async def flaky(env: Envelope[Any], session: AsyncSession) -> Sequence[BaseModel]:
        calls.append(1)
        if len(calls) == 1:
            raise TransientError("provider busy", retry_after=0.2)
        return [compiled_event(env.data)]

    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(bed.consumer(flaky).run(stop)),
        asyncio.create_task(bed.relay.run(stop)),
    ]
    envelope = compile_envelope()
    await bed.publish(envelope)
    try:
        await eventually_async(
            lambda: bed.holds(subjects.AGENT_COMPILED.full(bed.root), 1), what="the event"
        )
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    assert len(calls) == 2
    assert await bed.count(f"{bed.metadata.schema}.processed_messages") == 1


async def test_a_handler_working_past_the_ack_wait_keeps_its_message_leased(bed: Bed) -> None:
    """The lease is renewed while the handler works (every third of the ack wait), so a handler
    slower than the ack wait is not handed its message a second time."""

    async def slow(env: Envelope[Any], session: AsyncSession) -> Sequence[BaseModel]:
        await asyncio.sleep(1.6 * POLICY.ack_wait)
        return []

    def taken(outcome: str) -> float:
        labels = {"consumer": DURABLE.name, "outcome": outcome}
        return REGISTRY.get_sample_value("messages_processed_total", labels) or 0.0

    acked, duplicates = taken("ack"), taken("duplicate")
    stop = asyncio.Event()
    task = asyncio.create_task(bed.consumer(slow).run(stop))
    await bed.js.publish(
        subjects.COMPILE_AGENT.full(bed.root), compile_envelope().model_dump_json().encode()
    )
    try:
        await eventually_async(
            lambda: bed.count(f"{bed.metadata.schema}.processed_messages"),
            lambda n: n == 1,
            timeout=3 * POLICY.ack_wait,
            what="the slow handler's commit",
        )
    finally:
        stop.set()
        await task
    # A second delivery would have waited for the first's commit, then been taken as a duplicate.
    assert (taken("ack") - acked, taken("duplicate") - duplicates) == (1, 0)
    assert (await bed.acks_applied()).num_ack_pending == 0


async def test_a_lost_acknowledgement_brings_a_redelivery_that_the_inbox_drops(
    bed: Bed, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The consumer acks without waiting for the server's reply: when that ack never arrives, the
    message comes back after its ack wait, and is acknowledged without being applied again."""
    calls: list[uuid.UUID] = []

    async def compile_once(env: Envelope[Any], session: AsyncSession) -> Sequence[BaseModel]:
        calls.append(env.id)
        return [compiled_event(env.data)]

    lost: list[int] = []
    deliver = Msg.ack

    async def first_ack_lost(msg: Msg) -> None:
        if not lost:  # as if the connection dropped the first ack on its way to the server
            lost.append(msg.metadata.sequence.stream)
            return
        await deliver(msg)

    monkeypatch.setattr(Msg, "ack", first_ack_lost)
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(bed.consumer(compile_once).run(stop)),
        asyncio.create_task(bed.relay.run(stop)),
    ]
    envelope = compile_envelope()
    await bed.publish(envelope)
    stream = subjects.COMPILER_STREAM.full_name(bed.root)

    async def redelivered_and_acked() -> bool:
        info = await bed.js.consumer_info(stream, DURABLE.name)
        return (info.delivered.consumer_seq, info.num_ack_pending) == (2, 0)

    try:
        await eventually_async(redelivered_and_acked, what="the redelivery, acknowledged")
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    assert lost == [1]
    assert calls == [envelope.id]  # applied once, though delivered twice
    assert await bed.count(f"{bed.metadata.schema}.processed_messages") == 1
    assert await bed.stream_count(subjects.AGENT_COMPILED.full(bed.root)) == 1


async def test_a_message_failing_every_delivery_is_dead_lettered_with_the_reason(bed: Bed) -> None:
    async def broken(env: Envelope[Any], session: AsyncSession) -> Sequence[BaseModel]:
        raise RuntimeError("bug in handler")

    labels = {
        "consumer": DURABLE.name,
        "subject": subjects.COMPILE_AGENT.relative,
        "reason": "retries_exhausted",
    }
    counted_before = REGISTRY.get_sample_value("dead_letters_total", labels) or 0.0
    await bed.publish(compile_envelope())
    headers = await run_until_dead_lettered(bed, broken)
    assert REGISTRY.get_sample_value("dead_letters_total", labels) == counted_before + 1
    assert headers["Studio-Deliveries"] == "3"
    assert (
        headers["Studio-Dead-Letter-Reason"]
        == "failed 3 deliveries, last: RuntimeError('bug in handler')"
    )
    assert await bed.count(f"{bed.metadata.schema}.processed_messages") == 0


async def test_stopping_finishes_the_message_in_flight_before_returning(bed: Bed) -> None:
    started = asyncio.Event()

    async def slow(env: Envelope[Any], session: AsyncSession) -> Sequence[BaseModel]:
        started.set()
        await asyncio.sleep(0.5)
        return [compiled_event(env.data)]

    stop = asyncio.Event()
    task = asyncio.create_task(bed.consumer(slow).run(stop))
    await bed.js.publish(
        subjects.COMPILE_AGENT.full(bed.root), compile_envelope().model_dump_json().encode()
    )
    await asyncio.wait_for(started.wait(), timeout=10)
    stop.set()
    await task

    info = await bed.acks_applied()
    assert info.num_redelivered == 0
    assert await bed.count(f"{bed.metadata.schema}.processed_messages") == 1
    assert await bed.count(bed.outbox.fullname) == 1  # committed, waiting for the relay


async def test_a_message_never_acknowledged_is_rescued_into_the_dead_letters(bed: Bed) -> None:
    """Every delivery ends without an answer (as when the handler's process is killed each time)."""
    await broker.ensure_topology(bed.js, bed.root, (DURABLE,), ConsumerPolicy(1, 2, 64))
    await bed.publish(compile_envelope())
    crashing = await bed.js.pull_subscribe_bind(
        DURABLE.name, stream=subjects.COMPILER_STREAM.full_name(bed.root)
    )
    for _ in range(2):  # fetched and never answered; redelivered after each 1 s ack wait
        assert len(await crashing.fetch(1, timeout=5)) == 1
    await crashing.unsubscribe()

    async def unreachable(env: Envelope[Any], session: AsyncSession) -> Sequence[BaseModel]:
        raise AssertionError("an exhausted message must not be delivered again")

    headers = await run_until_dead_lettered(bed, unreachable)
    assert headers["Studio-Dead-Letter-Reason"] == (
        "no acknowledgement after 2 deliveries (the handler crashed or outlived its ack wait each time)"
    )
    assert headers["Studio-Original-Sequence"] == "1"


async def run_until_dead_lettered(
    bed: Bed, handler: Any, policy: ConsumerPolicy = POLICY
) -> dict[str, str]:
    """Run a consumer with `handler` until the dead-letter stream holds one message; its headers."""
    stop = asyncio.Event()
    task = asyncio.create_task(bed.consumer(handler, policy=policy).run(stop))
    dead_letters = subjects.DEAD_LETTER.full_name(bed.root)

    async def dead_lettered() -> bool:
        return bool((await bed.js.stream_info(dead_letters)).state.messages == 1)

    try:
        await eventually_async(dead_lettered, timeout=15, what="a dead letter")
    finally:
        stop.set()
        await task
    subject = subjects.DEAD_LETTER.subject_for(subjects.COMPILE_AGENT.full(bed.root), bed.root)
    dead = await bed.js.get_last_msg(dead_letters, subject)
    return dict(dead.headers or {})


async def test_a_handler_that_hangs_is_stopped_and_counted_as_failed(bed: Bed) -> None:
    async def hangs(env: Envelope[Any], session: AsyncSession) -> Sequence[BaseModel]:
        await asyncio.sleep(60)
        return []

    await bed.js.publish(
        subjects.COMPILE_AGENT.full(bed.root), compile_envelope().model_dump_json().encode()
    )
    policy = ConsumerPolicy(ack_wait=2, max_deliver=1, max_ack_pending=64, handler_timeout=0.3)
    headers = await run_until_dead_lettered(bed, hangs, policy)
    assert headers["Studio-Dead-Letter-Reason"] == "failed 1 deliveries, last: TimeoutError()"


async def test_an_event_newer_than_this_build_is_skipped_not_dead_lettered(bed: Bed) -> None:
    events = subjects.Durable(
        "test", subjects.COMPILER_STREAM, "events", subjects.events_of("compiler")
    )
    await broker.ensure_topology(bed.js, bed.root, (events,), POLICY)
    seen: list[str] = []

    async def record(env: Envelope[Any], session: AsyncSession) -> Sequence[BaseModel]:
        seen.append(env.type)
        return []

    await bed.js.publish(
        f"{bed.root}.compiler.evt.agent_renamed.v1", b'{"from": "a future compiler"}'
    )
    known = envelope_for(
        compiled_event(compile_envelope().data),
        source="test",
        correlation_id=uuid.uuid4(),
        owner_id=None,
    )
    await bed.js.publish(subjects.AGENT_COMPILED.full(bed.root), known.model_dump_json().encode())
    stop = asyncio.Event()
    task = asyncio.create_task(bed.consumer(record, durable=events).run(stop))

    async def both_handled() -> bool:
        info = await bed.js.consumer_info(subjects.COMPILER_STREAM.full_name(bed.root), events.name)
        return bool(info.ack_floor.stream_seq == 2)

    try:
        await eventually_async(both_handled, what="both events handled")
    finally:
        stop.set()
        await task
    assert seen == [subjects.AGENT_COMPILED.type]
    assert (await bed.js.stream_info(subjects.DEAD_LETTER.full_name(bed.root))).state.messages == 0
