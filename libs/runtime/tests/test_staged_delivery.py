"""The staged consumer against real PostgreSQL and NATS JetStream: the slow part of each message
outside any transaction, the results of many recorded in one, each message once; and the group
commit of a plain handler's messages on the same writer."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from psycopg import pq
from sqlalchemy.ext.asyncio import AsyncSession

from contracts import subjects
from contracts.envelope import Envelope
from runtime import db
from runtime.db import DirectUnit
from runtime.errors import PermanentError
from runtime.outbox import Relay
from runtime.staged import Recorded, Staged, StagedBinding, group_commit
from tests.support.delivery import DURABLE, Bed
from tests.support.messages import compile_envelope, compiled_event
from tests.support.waiting import eventually_async

pytestmark = pytest.mark.integration


async def run_staged(bed: Bed, binding: StagedBinding, until_check: Any) -> None:
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(bed.staged_consumer(binding).run(stop)),
        asyncio.create_task(bed.relay.run(stop)),
    ]
    try:
        await eventually_async(until_check, timeout=15, what="the staged work")
    finally:
        stop.set()
        await asyncio.gather(*tasks)


async def test_a_staged_consumer_records_a_burst_in_batches_each_message_once(bed: Bed) -> None:
    batches: list[int] = []

    async def stage(env: Envelope[Any]) -> str:
        await asyncio.sleep(0.05)  # the slow part (an AI call), outside any transaction
        return f"staged {env.id}"

    async def apply(session: AsyncSession, staged: list[Staged]) -> Recorded:
        batches.append(len(staged))
        assert all(s.value == f"staged {s.envelope.id}" for s in staged)
        return Recorded([(s.envelope, compiled_event(s.envelope.data)) for s in staged])

    envelopes = [compile_envelope() for _ in range(40)]
    for envelope in envelopes:
        await bed.publish(envelope)
    # The same message again (as after a crash between commit and ack): recorded once.
    await bed.publish(envelopes[0])

    await run_staged(
        bed,
        StagedBinding(DURABLE, stage, apply),
        lambda: bed.holds(subjects.AGENT_COMPILED.full(bed.root), 40),
    )
    assert sum(batches) == 40
    assert max(batches) > 1  # concurrent results share a transaction
    assert await bed.count(f"{bed.metadata.schema}.processed_messages") == 40
    assert (await bed.acks_applied()).num_pending == 0


async def test_an_item_that_breaks_its_batch_fails_alone(bed: Bed) -> None:
    envelopes = [compile_envelope() for _ in range(6)]
    poison = envelopes[2].id
    recorded: list[uuid.UUID] = []

    async def stage(env: Envelope[Any]) -> None:
        await asyncio.sleep(0.05)

    async def apply(session: AsyncSession, staged: list[Staged]) -> Recorded:
        if any(s.envelope.id == poison for s in staged):
            raise RuntimeError("cannot record this one")
        recorded.extend(s.envelope.id for s in staged)
        return Recorded()

    for envelope in envelopes:
        await bed.publish(envelope)

    dead_letters = subjects.DEAD_LETTER.full_name(bed.root)

    async def settled() -> bool:
        dead = (await bed.js.stream_info(dead_letters)).state.messages
        return len(recorded) == 5 and dead == 1

    await run_staged(bed, StagedBinding(DURABLE, stage, apply), settled)
    assert sorted(recorded) == sorted(e.id for e in envelopes if e.id != poison)
    subject = subjects.DEAD_LETTER.subject_for(subjects.COMPILE_AGENT.full(bed.root), bed.root)
    dead = await bed.js.get_last_msg(dead_letters, subject)
    assert (dead.headers or {})["Studio-Dead-Letter-Reason"] == (
        "failed 3 deliveries, last: RuntimeError('cannot record this one')"
    )


# A group commit on a SQLAlchemy session, and on the writer's own psycopg connection (`direct`).
KINDS = pytest.mark.parametrize("direct", [False, True], ids=["session", "direct"])
TXID = sa.select(sa.func.txid_current().label("txid"))


async def current_txid(unit: AsyncSession | DirectUnit) -> int:
    if isinstance(unit, DirectUnit):
        row = await db.fetch_one(unit.connection, TXID, {})
        assert row is not None
        return int(row["txid"])
    return int((await unit.execute(TXID)).scalar_one())


@KINDS
async def test_a_group_commit_shares_transactions_and_each_message_keeps_its_trace(
    bed: Bed, direct: bool
) -> None:
    transactions: dict[uuid.UUID, int] = {}

    async def handler(env: Envelope[Any], unit: Any) -> list[Any]:
        if not transactions:
            await asyncio.sleep(0.2)  # the first group is slow: the next messages queue meanwhile
        transactions[env.id] = await current_txid(unit)
        return [compiled_event(env.data)]

    envelopes = [compile_envelope() for _ in range(30)]
    traces = {envelope.id: uuid.uuid4().hex for envelope in envelopes}
    subject = subjects.COMPILE_AGENT.full(bed.root)
    for envelope in envelopes:
        traceparent = f"00-{traces[envelope.id]}-00f067aa0ba902b7-01"
        await bed.js.publish(
            subject, envelope.model_dump_json().encode(), headers={"traceparent": traceparent}
        )

    compiled = subjects.AGENT_COMPILED.full(bed.root)
    binding = group_commit(DURABLE, handler, direct=direct)
    await run_staged(bed, binding, lambda: bed.holds(compiled, 30))
    assert len(transactions) == 30
    assert len(set(transactions.values())) < 30  # messages ready together share a transaction
    # Each event continues the trace of the command that caused it, not its group's first.
    stream = subjects.COMPILER_STREAM.full_name(bed.root)
    carried: dict[uuid.UUID, str] = {}
    for sequence in range(1, (await bed.js.stream_info(stream)).state.last_seq + 1):
        msg = await bed.js.get_msg(stream, sequence)
        if msg.subject == compiled:
            cause = uuid.UUID(json.loads(msg.data or b"{}")["causation_id"])
            carried[cause] = (msg.headers or {})["traceparent"].split("-")[1]
    assert carried == traces


@KINDS
async def test_a_message_that_breaks_its_group_fails_alone(bed: Bed, direct: bool) -> None:
    envelopes = [compile_envelope() for _ in range(8)]
    poison = envelopes[3].id
    applied: list[uuid.UUID] = []

    async def handler(env: Envelope[Any], unit: Any) -> list[Any]:
        if len(applied) == 0:
            await asyncio.sleep(0.2)
        if env.id == poison:
            raise PermanentError("this spec cannot be stored")
        applied.append(env.id)
        return []

    for envelope in envelopes:
        await bed.publish(envelope)
    dead_letters = subjects.DEAD_LETTER.full_name(bed.root)

    async def settled() -> bool:
        committed = await bed.count(f"{bed.metadata.schema}.processed_messages")
        return committed == 7 and (await bed.js.stream_info(dead_letters)).state.messages == 1

    await run_staged(bed, group_commit(DURABLE, handler, direct=direct), settled)
    assert poison not in applied
    subject = subjects.DEAD_LETTER.subject_for(subjects.COMPILE_AGENT.full(bed.root), bed.root)
    dead = await bed.js.get_last_msg(dead_letters, subject)
    assert (dead.headers or {})["Studio-Dead-Letter-Reason"] == (
        "permanent: this spec cannot be stored"
    )


async def test_a_direct_group_costs_its_claim_with_what_it_reads_ahead_and_its_commit(
    bed: Bed, tmp_path: Path
) -> None:
    """Two round trips to PostgreSQL for a group whose handler reads only what was read ahead:
    the claim and the reads in one; the handler's writes and the sync that commits them in the
    other, with no `BEGIN` or `COMMIT` statement. libpq's trace of the writer's connection counts
    them: each ends with a Flush (answers wanted now) or a Sync (the end of the group)."""
    with (tmp_path / "libpq-trace").open("w+b") as trace:
        traced: list[DirectUnit] = []

        async def read_ahead(unit: DirectUnit, envelopes: list[Envelope[Any]]) -> None:
            if not traced:  # from the first group on: its claim is sent with these reads
                unit.connection.pgconn.trace(trace.fileno())
                unit.connection.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS)
                traced.append(unit)
            unit.info["txids"] = {e.id: await db.send(unit.connection, TXID, {}) for e in envelopes}

        transactions: list[int] = []

        async def handler(env: Envelope[Any], unit: DirectUnit) -> list[Any]:
            row = await unit.info["txids"][env.id].row()
            assert row is not None
            transactions.append(int(row["txid"]))
            await db.execute(unit.connection, TXID, {})  # unread, as a write: goes with COMMIT
            return [compiled_event(env.data)]

        envelope = compile_envelope()
        await bed.js.publish(
            subjects.COMPILE_AGENT.full(bed.root), envelope.model_dump_json().encode()
        )
        compiled = subjects.AGENT_COMPILED.full(bed.root)

        async def committed() -> bool:
            if not await bed.holds(compiled, 1):
                return False
            traced[0].connection.pgconn.untrace()  # the group is over; the writer is idle
            return True

        binding = group_commit(DURABLE, handler, direct=True, read_ahead=read_ahead)
        await run_staged(bed, binding, committed)
        trace.seek(0)
        sent = [line.split("\t") for line in trace.read().decode().splitlines()]
        ends = [fields[2] for fields in sent if fields[0] == "F" and fields[2] in ("Flush", "Sync")]
        assert ends == ["Flush", "Sync"]
        statements = [fields[3] for fields in sent if fields[0] == "F" and fields[2] == "Parse"]
        assert not [s for s in statements if "BEGIN" in s or "COMMIT" in s]
        assert len(transactions) == 1


@asynccontextmanager
async def direct_group_running(bed: Bed, handler: Any) -> AsyncIterator[Relay]:
    """`handler`'s direct group commit and its relay at work for the block; the relay's poll and
    its own deletes a minute away, so what it deletes within the block a group deleted."""
    relay = Relay(
        bed.js, bed.sessionmaker, bed.outbox, root=bed.root, poll_interval=60, delete_after=60
    )
    consumer = bed.staged_consumer(group_commit(DURABLE, handler, direct=True), relay=relay)
    stop = asyncio.Event()
    tasks = [asyncio.create_task(consumer.run(stop)), asyncio.create_task(relay.run(stop))]
    try:
        yield relay
    finally:
        stop.set()
        await asyncio.gather(*tasks)


async def outbox_message_ids(bed: Bed) -> list[uuid.UUID]:
    async with bed.sessionmaker() as session:
        return list((await session.scalars(sa.select(bed.outbox.c.message_id))).all())


async def test_a_direct_group_deletes_what_the_relay_sent_since_the_last_one_with_its_commit(
    bed: Bed,
) -> None:
    """The outbox row of one group's event, published from memory, is deleted by the next
    group's transaction: the relay, which would delete it itself only after a minute here,
    sends no statement for it."""

    async def handler(env: Envelope[Any], unit: DirectUnit) -> list[Any]:
        return [compiled_event(env.data)]

    compiled = subjects.AGENT_COMPILED.full(bed.root)
    async with direct_group_running(bed, handler):
        await bed.publish(compile_envelope())
        await eventually_async(lambda: bed.holds(compiled, 1), what="the first event published")
        first = await outbox_message_ids(bed)
        await bed.publish(compile_envelope())
        await eventually_async(lambda: bed.holds(compiled, 2), what="the second event published")
        left = await outbox_message_ids(bed)
        assert len(first) == 1
        assert len(left) == 1
        assert left != first  # the first's row went with the second's commit; the second's waits
    assert await bed.count(bed.outbox.fullname) == 0  # the relay's last pass deleted the rest


DIVISION_BY_ZERO: sa.Select[Any] = sa.select(sa.literal_column("1 / 0"))


async def test_rows_a_group_took_to_delete_are_given_back_when_it_fails(bed: Bed) -> None:
    """A group that does not commit gives the rows it took to delete back to the relay
    (`give_back`), which deletes them itself later: none is left in the table for good."""
    envelopes = [compile_envelope(), compile_envelope()]
    poison = envelopes[1].id

    async def handler(env: Envelope[Any], unit: DirectUnit) -> list[Any]:
        if env.id == poison:  # fails once the group has taken the rows, at its commit's sync
            await db.execute(unit.connection, DIVISION_BY_ZERO, {})
            return []
        return [compiled_event(env.data)]

    dead_letters = subjects.DEAD_LETTER.full_name(bed.root)

    async def dead_lettered() -> bool:
        return (await bed.js.stream_info(dead_letters)).state.messages == 1

    async with direct_group_running(bed, handler) as relay:
        await bed.publish(envelopes[0])
        compiled = subjects.AGENT_COMPILED.full(bed.root)
        await eventually_async(lambda: bed.holds(compiled, 1), what="the first event published")
        await bed.publish(envelopes[1])  # each of its groups takes the first event's row
        await eventually_async(dead_lettered, what="the poison dead-lettered")
        assert relay.take_sent() == await outbox_message_ids(bed)  # back with the relay
        # A group is one transaction up to its sync: the failed statement undid its claim too
        # (claimed, the poison's redelivery would have been taken for a duplicate, not retried).
        inbox = bed.metadata.tables[f"{bed.metadata.schema}.processed_messages"]
        async with bed.sessionmaker() as session:
            claimed = set((await session.scalars(sa.select(inbox.c.message_id))).all())
        assert claimed == {envelopes[0].id}
