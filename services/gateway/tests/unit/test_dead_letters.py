"""The reason a person reads when a request's command was dead-lettered: which service gave up and
how, never the exception the worker quoted."""

from __future__ import annotations

import uuid

import pytest

from contracts.compiler import CompileAgentV1
from contracts.registry import envelope_for
from runtime.dead_letter_consumer import DeadLetter, readable_reason

COMMAND = CompileAgentV1(
    compilation_id=uuid.uuid4(), agent_id=uuid.uuid4(), spec_revision=1, blocks={}
)


def letter(reason: str, deliveries: int = 5) -> DeadLetter:
    envelope = envelope_for(COMMAND, source="test", correlation_id=uuid.uuid4(), owner_id=None)
    return DeadLetter(
        subject="compiler.cmd.compile_agent.v1",
        envelope=envelope,
        reason=reason,
        consumer="compiler--compile_agent",
        deliveries=deliveries,
    )


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        (
            "failed 5 deliveries, last: DataError('integer out of range [SQL: INSERT INTO …]')",
            "the compiler failed to apply it 5 times in a row",
        ),
        ("undecodable: 1 validation error for CompileAgentV1", "the compiler could not read it"),
        ("permanent: psycopg.errors.CheckViolation", "refused it as something it can never"),
        (
            "no acknowledgement after 5 deliveries (the handler crashed or outlived its ack wait)",
            "never finished applying it (5 attempts)",
        ),
    ],
)
def test_the_reason_says_who_gave_up_and_how_without_the_exception(raw: str, says: str) -> None:
    dead = letter(raw)

    reason = readable_reason(dead, "compilation")

    assert says in reason
    assert reason.startswith("this compilation could not be carried out")
    assert str(dead.envelope.id) in reason
    for internal in ("SQL", "Error", "psycopg", "validation", "INSERT"):
        assert internal not in reason
