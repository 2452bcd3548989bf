"""Crash safety through real processes killed with SIGKILL at the worst moments (failpoints)."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from tests.e2e.test_compile_flow import create_agent_with_spec, wait_for_compilation
from tests.support.fixtures import Stack
from tests.support.infra import query, stream_subject_counts, wait_until_consumed

pytestmark = pytest.mark.e2e


def wait_for_exit(stack: Stack, service: str, timeout: float = 15) -> int:
    proc = stack.processes[service].proc
    assert proc is not None
    return proc.wait(timeout)


def compiled_events(stack: Stack) -> dict[str, int]:
    return stream_subject_counts(
        stack.nats_url, f"{stack.root.upper()}_COMPILER", f"{stack.root}.compiler.evt.>"
    )


@pytest.mark.parametrize("failpoint", ["compiler.before_commit", "compiler.before_ack"])
def test_compiler_killed_mid_compile_completes_exactly_once_after_restart(
    isolated_stack: Callable[..., Stack], failpoint: str
) -> None:
    # A short ack wait so the unacknowledged command is redelivered quickly after the crash.
    stack = isolated_stack(COMPILER_ACK_WAIT_SECONDS="1")
    stack.start("compiler", STUDIO_FAILPOINTS=failpoint)
    stack.start("gateway")
    with stack.new_user() as client:
        agent_id = create_agent_with_spec(client)
        compilation_id = client.post(f"/api/v1/agents/{agent_id}/compilations").json()["id"]

        assert wait_for_exit(stack, "compiler") == -9
        stack.start("compiler")
        compilation = wait_for_compilation(client, agent_id, compilation_id)

    assert compilation["status"] == "succeeded"
    stored = query(
        stack.database_url,
        "SELECT status FROM compiler.compilations WHERE id = :id",
        id=compilation_id,
    )
    assert [row.status for row in stored] == ["succeeded"]
    # Every delivery of the command (the crashed one included) has been answered: no duplicate waits.
    stream = f"{stack.root.upper()}_COMPILER"
    wait_until_consumed(stack.nats_url, stream, "compiler--compile_agent")
    assert compiled_events(stack) == {f"{stack.root}.compiler.evt.agent_compiled.v1": 1}


def test_gateway_killed_between_commit_and_publish_loses_nothing(
    isolated_stack: Callable[..., Stack],
) -> None:
    stack = isolated_stack()
    stack.start("compiler")
    stack.start("gateway", STUDIO_FAILPOINTS="gateway.compile_committed")
    token = stack.new_token()
    with stack.client(token) as client:
        agent_id = create_agent_with_spec(client)
        with pytest.raises(httpx.TransportError):
            client.post(f"/api/v1/agents/{agent_id}/compilations")
    assert wait_for_exit(stack, "gateway") == -9

    # Committed but never published: the command waits in the outbox, not in the stream.
    pending = query(
        stack.database_url,
        "SELECT id, status FROM gateway.compilations WHERE agent_id = :agent",
        agent=agent_id,
    )
    assert [row.status for row in pending] == ["pending"]
    unpublished = query(stack.database_url, "SELECT count(*) AS n FROM gateway.outbox ")
    assert unpublished[0].n == 1
    commands = stream_subject_counts(
        stack.nats_url, f"{stack.root.upper()}_COMPILER", f"{stack.root}.compiler.cmd.>"
    )
    assert commands == {}

    stack.start("gateway")
    with stack.client(token) as client:
        compilation = wait_for_compilation(client, agent_id, str(pending[0].id))
    assert compilation["status"] == "succeeded"
    assert compilation["instructions"].startswith("## System Backbone")
    assert compiled_events(stack) == {f"{stack.root}.compiler.evt.agent_compiled.v1": 1}
