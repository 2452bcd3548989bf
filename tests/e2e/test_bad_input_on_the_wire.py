"""Bad input published straight onto every subject a service consumes, with all four services
running as processes on real PostgreSQL and NATS: each message lands in the dead-letter stream with
a reason naming what is wrong, and the services keep working (a compilation, a test run and a
publish made afterwards all succeed).

The subjects come from the registry (`contracts.subjects.ALL_DURABLES` and the subjects each one
accepts), so a new subject, or a new consumer, is covered without touching this test. Unknown
fields are not in the list: the house reads them tolerantly (ADR 0003, `test_roundtrip`), so
that a producer can add an optional field before its consumers know it.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import nats
import pytest

from contracts import subjects as s
from contracts.registry import MAX_MESSAGE_BYTES, is_registered
from tests.e2e.test_publishing import completed_run, publish
from tests.e2e.test_test_runs import compiled_agent, import_cases, numbered_cases
from tests.support.fixtures import Stack, running_stack
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e

DEAD_LETTER_READERS = {s.DEAD_LETTER_STREAM}


def consumed_subjects() -> list[s.Subject]:
    """Every registered subject that some durable consumes from a service's stream."""
    return sorted(
        {
            subject
            for durable in s.ALL_DURABLES
            if durable.stream not in DEAD_LETTER_READERS
            for subject in s.ALL_SUBJECTS
            if durable.accepts(subject.relative) and is_registered(subject.relative)
        },
        key=lambda subject: subject.relative,
    )


def another_owners_type(subject: s.Subject) -> str:
    return next(o.type for o in s.ALL_SUBJECTS if o.owner != subject.owner)


def envelope(type_: str, data: Any) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "type": type_,
        "source": "someone",
        "time": "2026-01-01T00:00:00Z",
        "correlation_id": str(uuid.uuid4()),
        "data": data,
    }


@dataclass(frozen=True)
class Bad:
    name: str
    payload: bytes
    says: str
    """What the dead letter's reason must contain."""


def bad_messages(subject: s.Subject) -> list[Bad]:
    whole = json.dumps(envelope(subject.type, {"x": 1})).encode()
    return [
        Bad("garbage", b"\x00\xff\xfe not a message \x9c", "Invalid JSON"),
        Bad("truncated", whole[: len(whole) // 2], "EOF while parsing"),
        Bad(
            "oversized",
            json.dumps(envelope(subject.type, {"pad": "x" * (MAX_MESSAGE_BYTES + 100)})).encode(),
            "oversized",
        ),
        Bad(
            "wrong version",
            json.dumps(envelope(subject.type.replace(".v1", ".v2"), {})).encode(),
            "does not match subject",
        ),
        Bad(
            "wrong owner",
            json.dumps(envelope(another_owners_type(subject), {})).encode(),
            "does not match subject",
        ),
        Bad("not an envelope", b'["a", "list"]', "invalid"),
    ]


@pytest.fixture(scope="module")
def stack(
    postgres_url: str, nats_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    with running_stack(
        postgres_url,
        nats_url,
        tmp_path_factory.mktemp("logs"),
        ("compiler", "test-runner", "publisher", "gateway"),
        {"AI_PROVIDER": "offline"},
    ) as running:
        yield running


async def publish_all(stack: Stack) -> dict[tuple[str, int], Bad]:
    """Publish every bad message onto every consumed subject; (stream, sequence) → what it was."""
    sent: dict[tuple[str, int], Bad] = {}
    nc = await nats.connect(stack.nats_url)
    try:
        js = nc.jetstream(timeout=10)
        for subject in consumed_subjects():
            for bad in bad_messages(subject):
                ack = await js.publish(subject.full(stack.root), bad.payload)
                sent[(ack.stream, ack.seq)] = bad
    finally:
        await nc.close()
    return sent


async def dead_letter_reasons(stack: Stack) -> dict[tuple[str, int], str]:
    """Every dead letter's reason, by the original message's stream and sequence."""
    nc = await nats.connect(stack.nats_url)
    try:
        js = nc.jetstream(timeout=10)
        stream = s.DEAD_LETTER.full_name(stack.root)
        last = (await js.stream_info(stream)).state.last_seq
        found: dict[tuple[str, int], str] = {}
        for seq in range(1, last + 1):
            headers = (await js.get_msg(stream, seq)).headers or {}
            key = (headers["Studio-Original-Stream"], int(headers["Studio-Original-Sequence"]))
            found[key] = headers["Studio-Dead-Letter-Reason"]
        return found
    finally:
        await nc.close()


def test_bad_messages_on_every_consumed_subject_are_dead_lettered_and_the_services_go_on(
    stack: Stack,
) -> None:
    assert len(consumed_subjects()) >= 10  # the registry is read, not an empty list
    sent = asyncio.run(publish_all(stack))

    reasons = eventually(
        lambda: asyncio.run(dead_letter_reasons(stack)),
        lambda found: set(sent) <= set(found),
        timeout=90,
        what="every bad message in the dead letters",
    )
    for key, bad in sent.items():
        assert bad.says in reasons[key], (bad.name, key, reasons[key])

    client = stack.new_user()
    agent_id, compilation_id = compiled_agent(client)
    import_cases(client, agent_id, numbered_cases(3))
    run = completed_run(client, agent_id, compilation_id)
    assert (run["status"], run["executed"], run["errored"]) == ("completed", 3, 0), run
    # The offline provider's answers fail the cases' checks: the gate is passed over, as allowed.
    outcome = publish(
        client,
        agent_id,
        compilation_id=compilation_id,
        test_run_id=run["id"],
        force=True,
        reason="proving the publisher still works",
    )
    assert outcome["status"] == "done", outcome
