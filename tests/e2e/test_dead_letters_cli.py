"""`studio dead-letters`: an operator finds a dead-lettered command, reads it, and replays it
to the running compiler, which applies it."""

from __future__ import annotations

import asyncio
import json
import subprocess
import uuid

import nats
import pytest

from contracts import subjects
from contracts.compiler import CompileAgentV1
from contracts.registry import envelope_for
from runtime.dead_letters import DeadLetters
from tests.support import infra
from tests.support.fixtures import Stack
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e


def studio(stack: Stack, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["studio", "dead-letters", *argv],
        env=stack.env("gateway"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def dead_letter_a_compile_command(stack: Stack, compilation_id: uuid.UUID) -> None:
    """As the compiler does when a command fails every delivery (say, a bug since fixed)."""
    command = CompileAgentV1(
        compilation_id=compilation_id, agent_id=uuid.uuid4(), spec_revision=1, blocks={}
    )
    envelope = envelope_for(command, source="gateway", correlation_id=uuid.uuid4(), owner_id=None)

    async def copy() -> None:
        nc = await nats.connect(stack.nats_url)
        try:
            await DeadLetters(
                nc.jetstream(), subjects.COMPILER_COMPILE_AGENT, root=stack.root
            ).copy(
                subjects.COMPILE_AGENT.full(stack.root),
                envelope.model_dump_json().encode(),
                {"Nats-Msg-Id": str(envelope.id)},
                stream=subjects.COMPILER_STREAM.full_name(stack.root),
                sequence=1_000_000,
                deliveries=5,
                reason="failed 5 deliveries, last: RuntimeError('a bug since fixed')",
                kind="retries_exhausted",
            )
        finally:
            await nc.close()

    asyncio.run(copy())


def test_an_operator_lists_shows_and_replays_a_dead_letter_which_is_then_applied(
    stack: Stack,
) -> None:
    compilation_id = uuid.uuid4()
    dead_letter_a_compile_command(stack, compilation_id)

    listed = studio(stack, "list", "--json", "--subject", subjects.COMPILE_AGENT.relative)
    assert listed.returncode == 0, listed.stderr
    mine = [
        letter
        for letter in map(json.loads, listed.stdout.splitlines())
        if "a bug since fixed" in letter["reason"]
    ]
    assert len(mine) == 1
    letter = mine[0]
    assert letter["consumer"] == "compiler--compile_agent"
    assert letter["deliveries"] == 5

    shown = studio(stack, "show", str(letter["sequence"]))
    assert shown.returncode == 0, shown.stderr
    assert str(compilation_id) in shown.stdout

    replayed = studio(stack, "replay", str(letter["sequence"]))
    assert replayed.returncode == 0, replayed.stderr
    assert f"replayed {letter['sequence']} to compiler.cmd.compile_agent.v1" in replayed.stdout

    eventually(
        lambda: infra.query(
            stack.database_url,
            "SELECT count(*) FROM compiler.compilations WHERE id = :id",
            id=compilation_id,
        )[0][0],
        lambda count: count == 1,
        timeout=15,
        what="the replayed command applied by the compiler",
    )
    again = studio(stack, "replay", str(letter["sequence"]))
    assert again.returncode != 0
    assert f"no dead letter {letter['sequence']}" in again.stderr
