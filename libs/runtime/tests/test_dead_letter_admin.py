"""Listing, reading and replaying dead letters against a real NATS JetStream."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from nats.js import JetStreamContext

from contracts import subjects
from runtime import broker
from runtime.broker import ConsumerPolicy
from runtime.dead_letter_admin import DeadLetterAdmin, DeadLetterNotFoundError
from runtime.dead_letters import DeadLetters
from tests.support import infra

pytestmark = pytest.mark.integration

POLICY = ConsumerPolicy(ack_wait=30, max_deliver=3, max_ack_pending=64)
DURABLE = subjects.Durable(
    "admin", subjects.COMPILER_STREAM, "compile_agent", subjects.COMPILE_AGENT.relative
)


@pytest.fixture
async def root(nats_url: str, js: JetStreamContext) -> AsyncIterator[str]:
    made = infra.new_root()
    await broker.ensure_topology(js, made, (DURABLE,), POLICY)
    yield made
    await asyncio.to_thread(infra.delete_streams, nats_url, made)


async def dead_letter(js: JetStreamContext, root: str, data: bytes, sequence: int) -> None:
    await DeadLetters(js, DURABLE, root=root).copy(
        subjects.COMPILE_AGENT.full(root),
        data,
        {
            "Nats-Msg-Id": f"original-{sequence}",
            "traceparent": "00-" + "a" * 32 + "-" + "b" * 16 + "-01",
        },
        stream=subjects.COMPILER_STREAM.full_name(root),
        sequence=sequence,
        deliveries=5,
        reason="permanent: the spec names a variable it does not declare",
        kind="permanent",
    )


async def test_dead_letters_are_listed_oldest_first_with_their_reason(
    js: JetStreamContext, root: str
) -> None:
    await dead_letter(js, root, b'{"n": 1}', 11)
    await dead_letter(js, root, b'{"n": 2}', 12)
    admin = DeadLetterAdmin(js, root=root)

    letters = await admin.list()

    assert [letter.data for letter in letters] == [b'{"n": 1}', b'{"n": 2}']
    first = letters[0]
    assert first.subject == subjects.COMPILE_AGENT.relative
    assert first.consumer == DURABLE.name
    assert first.reason == "permanent: the spec names a variable it does not declare"
    assert first.deliveries == 5
    assert first.dead_lettered_at is not None
    assert await admin.list(limit=1) == letters[:1]
    assert await admin.list(subject="publisher.cmd.publish_version.v1") == []


async def test_a_replayed_dead_letter_is_back_on_its_subject_once_and_gone_from_the_dead_letters(
    js: JetStreamContext, root: str
) -> None:
    await dead_letter(js, root, b'{"n": 1}', 11)
    admin = DeadLetterAdmin(js, root=root)
    [letter] = await admin.list()

    await admin.replay(letter.sequence)

    sub = await js.pull_subscribe_bind(
        DURABLE.name, stream=subjects.COMPILER_STREAM.full_name(root)
    )
    [replayed] = await sub.fetch(1, timeout=5)
    await replayed.ack_sync()
    await sub.unsubscribe()
    assert replayed.subject == subjects.COMPILE_AGENT.full(root)
    assert replayed.data == b'{"n": 1}'
    assert replayed.headers is not None
    assert replayed.headers["traceparent"] == letter.headers["traceparent"]
    assert replayed.headers["Nats-Msg-Id"] == f"replay-{letter.sequence}"
    assert not any(h.startswith("Studio-") for h in replayed.headers)
    assert await admin.list() == []
    with pytest.raises(DeadLetterNotFoundError):
        await admin.replay(letter.sequence)


async def test_the_list_goes_on_past_a_dead_letter_replayed_in_between(
    js: JetStreamContext, root: str
) -> None:
    for n in (1, 2, 3):
        await dead_letter(js, root, b'{"n": %d}' % n, 10 + n)
    admin = DeadLetterAdmin(js, root=root)
    second = (await admin.list())[1]

    await admin.replay(second.sequence)

    assert [letter.data for letter in await admin.list()] == [b'{"n": 1}', b'{"n": 3}']


async def test_an_unknown_dead_letter_is_reported_as_such(js: JetStreamContext, root: str) -> None:
    with pytest.raises(DeadLetterNotFoundError, match="no dead letter 42"):
        await DeadLetterAdmin(js, root=root).get(42)
