"""The link between the workers and NATS cut while they work: they reconnect and lose nothing.

The compiler and the test-runner reach the shared NATS through a TCP proxy the test controls; the
gateway reaches it directly, so commands go on being accepted and queued while the workers are cut
off. The cut outlasts a reconnect attempt (1 s apart, 2 s to connect) and falls well within the
outage patience, so nothing may be given up: every command ends in exactly one outcome, nothing is
dead-lettered, and the workers are ready and consuming again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import httpx
import pytest
from sqlalchemy.engine import make_url

from contracts import subjects
from tests.chaos.faults import TcpProxy
from tests.chaos.invariants import dead_letters
from tests.e2e.test_compile_flow import create_agent_with_spec, wait_for_compilation
from tests.e2e.test_test_runs import (
    compiled_agent,
    import_cases,
    numbered_cases,
    provider_env,
    start_run,
    wait_for_run,
)
from tests.support.fake_openai import FakeOpenAI, running_fake_openai
from tests.support.fixtures import Stack
from tests.support.infra import query, stream_subject_counts, wait_until_consumed
from tests.support.waiting import eventually, ok_json

pytestmark = pytest.mark.e2e

CUT_SECONDS = 6.0
CASES = 80
WORKERS = ("compiler", "test-runner")


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with running_fake_openai() as fake:
        fake.reply_with(lambda body: f"ok: {body['messages'][-1]['content']}")
        fake.latency = 0.3  # 80 cases, 8 at a time: three seconds of answers, so the cut
        # comes while executions are in the test-runner's hands
        yield fake


@pytest.fixture
def nats_proxy(nats_url: str) -> Iterator[TcpProxy]:
    url = make_url(nats_url.replace("nats://", "nats+x://", 1))
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 4222)
    proxy.start()
    yield proxy
    proxy.close()


def test_workers_cut_off_from_nats_mid_run_reconnect_and_finish_every_command_once(
    isolated_stack: Callable[..., Stack], fake: FakeOpenAI, nats_proxy: TcpProxy
) -> None:
    # A short lease, so what was in a worker's hands when the link went is delivered again soon.
    stack = isolated_stack(**provider_env(fake), ACK_WAIT_SECONDS="2", LOG_LEVEL="INFO")
    proxied = f"nats://127.0.0.1:{nats_proxy.port}"
    for worker in WORKERS:
        stack.start(worker, NATS_URL=proxied)
    stack.start("gateway")
    with stack.new_user() as client:
        agent_id, compilation_id = compiled_agent(client)
        import_cases(client, agent_id, numbered_cases(CASES))
        run_id = start_run(client, agent_id, compilation_id)
        under_way = eventually(
            lambda: client.get(f"/api/v1/agents/{agent_id}/test-runs/{run_id}?limit=0"),
            ok_json(lambda run: run["executed"] >= CASES // 4),
            timeout=60,
            what="the run under way",
        )

        nats_proxy.cut()
        assert under_way.json()["executed"] < CASES, "the run ended before the cut"
        queued = [create_agent_with_spec(client, f"queued {i}") for i in range(3)]
        asked = {agent: compile_agent(client, agent) for agent in queued}
        time.sleep(CUT_SECONDS)  # the outage itself, not a wait for an outcome
        nats_proxy.restore()

        for worker in WORKERS:
            stack.processes[worker].wait_ready()
        after = create_agent_with_spec(client, "after")
        asked[after] = compile_agent(client, after)
        run = wait_for_run(client, agent_id, run_id, timeout=120)
        compilations = {
            agent: wait_for_compilation(client, agent, compilation)
            for agent, compilation in asked.items()
        }

    assert run["status"] == "completed"
    assert sorted(r["description"] for r in run["results"]) == sorted(
        f"case {i}" for i in range(CASES)
    )
    assert [c["status"] for c in compilations.values()] == ["succeeded"] * len(asked)
    stored = query(
        stack.database_url,
        "SELECT id, count(*) AS n FROM compiler.compilations GROUP BY id",
    )
    assert sorted(row.n for row in stored) == [1] * (len(asked) + 1)
    for worker in WORKERS:
        log = stack.processes[worker].log_text()
        assert "nats.disconnected" in log, worker  # the cut reached it
        assert "nats.reconnected" in log, worker
        process = stack.processes[worker].proc
        assert process is not None
        assert process.poll() is None, f"{worker} exited"
    for durable in (subjects.COMPILER_COMPILE_AGENT, subjects.TEST_RUNNER_EXECUTE_CASE):
        wait_until_consumed(stack.nats_url, durable.stream.full_name(stack.root), durable.name)
    compiled = stream_subject_counts(
        stack.nats_url, f"{stack.root.upper()}_COMPILER", f"{stack.root}.compiler.evt.>"
    )
    assert compiled == {f"{stack.root}.compiler.evt.agent_compiled.v1": len(asked) + 1}
    assert dead_letters(stack.nats_url, stack.root) == {}


def compile_agent(client: httpx.Client, agent_id: str) -> str:
    response = client.post(f"/api/v1/agents/{agent_id}/compilations")
    assert response.status_code == 202, response.text
    return str(response.json()["id"])
