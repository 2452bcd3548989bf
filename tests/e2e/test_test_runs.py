"""Test runs end to end: gateway → NATS → test-runner → a real OpenAI-compatible server, and back."""

from __future__ import annotations

import json
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import yaml

from contracts import subjects
from tests.support import infra
from tests.support.fake_openai import FakeOpenAI, running_fake_openai
from tests.support.fixtures import Stack, running_stack
from tests.support.processes import ServiceProcess
from tests.support.waiting import eventually, ok_json

pytestmark = pytest.mark.e2e

SPEC = {
    "persona": {"role": "support agent for {{company}}"},
    "variables": [{"name": "company", "description": "Who the agent works for"}],
}


def provider_env(fake: FakeOpenAI, **settings: str) -> dict[str, str]:
    return {
        "AI_PROVIDER": "openai",
        "OPENAI_API_KEY": "sk-test",
        "OPENAI_BASE_URL": fake.base_url,
        "AI_MODEL": "gpt-4o-mini",
        "AI_RETRY_MAX_WAIT_SECONDS": "1",
        **settings,
    }


def user_text(body: dict[str, Any]) -> str:
    return str(body["messages"][-1]["content"])


def compiled_agent(client: httpx.Client, name: str = "Runner", spec: Any = None) -> tuple[str, str]:
    agent_id = client.post("/api/v1/agents", json={"name": name}).json()["id"]
    saved = client.put(f"/api/v1/agents/{agent_id}/spec", json={"blocks": spec or SPEC})
    assert saved.status_code == 200, saved.text
    compilation_id = client.post(f"/api/v1/agents/{agent_id}/compilations").json()["id"]
    done = client.get(f"/api/v1/agents/{agent_id}/compilations/{compilation_id}?wait=10").json()
    assert done["status"] == "succeeded", done
    return agent_id, compilation_id


def import_cases(client: httpx.Client, agent_id: str, tests: list[dict[str, Any]]) -> None:
    response = client.post(
        f"/api/v1/agents/{agent_id}/test-cases/import",
        content=yaml.safe_dump({"tests": tests}),
        headers={"Content-Type": "application/yaml"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["imported"] == len(tests)


def start_run(client: httpx.Client, agent_id: str, compilation_id: str, **options: Any) -> str:
    response = client.post(
        f"/api/v1/agents/{agent_id}/test-runs", json={"compilation_id": compilation_id, **options}
    )
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "queued"
    return str(response.json()["id"])


def wait_for_run(
    client: httpx.Client,
    agent_id: str,
    run_id: str,
    *,
    timeout: float = 60,
    until: Callable[[dict[str, Any]], bool] = lambda run: (
        run["status"] in ("completed", "cancelled")
    ),
) -> dict[str, Any]:
    response = eventually(
        lambda: client.get(f"/api/v1/agents/{agent_id}/test-runs/{run_id}?limit=1000"),
        ok_json(until),
        timeout=timeout,
        what=f"run {run_id} getting there",
    )
    run: dict[str, Any] = response.json()
    return run


def listed_runs(
    client: httpx.Client, agent_id: str, until: Callable[[list[dict[str, Any]]], bool]
) -> list[dict[str, Any]]:
    """The agent's run list, once the gateway's view (kept from events) satisfies `until`."""
    response = eventually(
        lambda: client.get(f"/api/v1/agents/{agent_id}/test-runs"),
        ok_json(lambda page: until(page["items"])),
        what="the run list getting there",
    )
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def executions_done(stack: Stack) -> None:
    """Wait until every execution sent to the test-runners has been recorded and acknowledged."""
    durable = subjects.TEST_RUNNER_EXECUTE_CASE
    infra.wait_until_consumed(stack.nats_url, durable.stream.full_name(stack.root), durable.name)


def numbered_cases(n: int, text: str = "ok") -> list[dict[str, Any]]:
    return [
        {
            "description": f"case {i}",
            "vars": {"company": "Acme", "input": f"question {i}"},
            "assert": [{"type": "contains", "value": text}],
        }
        for i in range(n)
    ]


class Replies:
    """The shared fake's answers: `Answer to: <input>`, except inputs starting `flaky`, answered
    `even` and `odd` in turn."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}

    def __call__(self, body: dict[str, Any]) -> str:
        text = user_text(body)
        if text.startswith("flaky"):
            self.calls[text] = self.calls.get(text, 0) + 1
            return "even" if self.calls[text] % 2 else "odd"
        return f"Answer to: {text}"


@pytest.fixture(scope="module")
def shared(
    postgres_url: str, nats_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Stack, FakeOpenAI]]:
    """One stack with a test-runner for the tests that do not crash anything."""
    with (
        running_fake_openai() as fake,
        running_stack(
            postgres_url,
            nats_url,
            tmp_path_factory.mktemp("logs"),
            ("compiler", "test-runner", "gateway"),
            provider_env(fake),
        ) as stack,
    ):
        yield stack, fake


@pytest.fixture
def runner_stack(shared: tuple[Stack, FakeOpenAI]) -> Stack:
    return shared[0]


@pytest.fixture
def fake(shared: tuple[Stack, FakeOpenAI]) -> FakeOpenAI:
    fake = shared[1]
    fake.recover()
    fake.latency = 0.0
    fake.reply_with(Replies())
    return fake


def test_a_run_gives_promptfoo_verdicts_on_the_providers_answers(
    runner_stack: Stack, fake: FakeOpenAI
) -> None:
    fake_openai = fake
    before = len(fake.chat_requests)
    tests: list[dict[str, Any]] = [
        {"description": "greets", "vars": {"company": "Acme", "input": "hello"},
         "assert": [{"type": "contains", "value": "hello"}]},
        {"description": "wrong", "vars": {"company": "Acme", "input": "hi"},
         "assert": [{"type": "icontains", "value": "GOODBYE"}]},
        {"description": "weighted", "vars": {"company": "Globex", "input": "x"},
         "assert": [{"type": "starts-with", "value": "Answer"},
                    {"type": "regex", "value": "\\d+", "weight": 0}]},
    ]  # fmt: skip
    with runner_stack.new_user() as client:
        agent_id, compilation_id = compiled_agent(client)
        import_cases(client, agent_id, tests)
        run_id = start_run(client, agent_id, compilation_id, temperature=0.2)
        run = wait_for_run(client, agent_id, run_id)
        # The gateway learns the outcome from the test-runner's completion event.
        listed = listed_runs(client, agent_id, lambda items: items[0]["status"] == "completed")

    assert run["status"] == "completed", run
    assert (run["total"], run["executions"], run["executed"]) == (3, 3, 3)
    assert (run["passed"], run["failed"], run["errored"], run["flaky"]) == (2, 1, 0, 0)
    assert run["pass_rate"] == pytest.approx(2 / 3)
    by_name = {r["description"]: r for r in run["results"]}
    assert by_name["greets"]["pass"] is True
    assert by_name["wrong"]["pass"] is False
    assert by_name["wrong"]["error"] is None
    assert by_name["wrong"]["reason"] == 'Expected output to contain "GOODBYE"'
    assert by_name["weighted"]["assertions"][1]["pass"] is True  # weight 0 never fails
    assert by_name["greets"]["output"] == "Answer to: hello"
    assert by_name["greets"]["tokens"]["prompt"] > 0
    assert by_name["greets"]["latency_ms"] > 0
    assert by_name["greets"]["cached"] is False
    # A model behind an OpenAI-compatible server wrote every output, not the offline stand-in.
    assert [r["offline"] for r in run["results"]] == [False] * len(run["results"])
    # The system message is the compiled instructions rendered with the case's vars.
    requests = fake_openai.chat_requests[before:]
    systems = sorted(r.messages[0]["content"] for r in requests)
    assert any("support agent for Acme" in s for s in systems)
    assert any("support agent for Globex" in s for s in systems)
    assert all(r.body["temperature"] == 0.2 for r in requests)
    assert (listed[0]["id"], listed[0]["passed"], listed[0]["pass_rate"]) == (run_id, 2, 2 / 3)


def test_repeats_report_a_case_that_both_passed_and_failed_as_flaky(
    runner_stack: Stack, fake: FakeOpenAI
) -> None:
    tests = [
        {"description": "unstable", "vars": {"company": "A", "input": "flaky one"},
         "assert": [{"type": "equals", "value": "even"}]},
        {"description": "stable", "vars": {"company": "A", "input": "steady"},
         "assert": [{"type": "contains", "value": "Answer"}]},
    ]  # fmt: skip
    with runner_stack.new_user() as client:
        agent_id, compilation_id = compiled_agent(client)
        import_cases(client, agent_id, tests)
        run = wait_for_run(
            client, agent_id, start_run(client, agent_id, compilation_id, repeat=2, cache=True)
        )
    assert (run["total"], run["executions"], run["executed"]) == (2, 4, 4)
    # The flaky case is not hidden in an average: it counts as not passed, and is named flaky.
    assert (run["passed"], run["failed"], run["errored"], run["flaky"]) == (1, 1, 0, 1)
    assert run["pass_rate"] == 0.5
    unstable = [r["pass"] for r in run["results"] if r["description"] == "unstable"]
    assert sorted(unstable) == [False, True]
    assert [r["repeat_index"] for r in run["results"]] == [0, 1, 0, 1]
    assert not any(r["cached"] for r in run["results"])  # never cached when repeating


def test_the_response_cache_answers_identical_requests_and_says_so(
    runner_stack: Stack, fake: FakeOpenAI
) -> None:
    tests = [
        {"description": "plain", "vars": {"company": "C", "input": f"cache me {uuid.uuid4()}"},
         "assert": [{"type": "contains", "value": "Answer"}]},
        {"description": "timed", "vars": {"company": "C", "input": f"time me {uuid.uuid4()}"},
         "assert": [{"type": "latency", "threshold": 60000}]},
    ]  # fmt: skip
    with runner_stack.new_user() as client:
        agent_id, compilation_id = compiled_agent(client)
        import_cases(client, agent_id, tests)
        first = wait_for_run(
            client, agent_id, start_run(client, agent_id, compilation_id, cache=True)
        )
        calls = len(fake.chat_requests)
        second = wait_for_run(
            client, agent_id, start_run(client, agent_id, compilation_id, cache=True)
        )
        uncached = wait_for_run(client, agent_id, start_run(client, agent_id, compilation_id))

    assert [r["cached"] for r in first["results"]] == [False, False]
    assert [r["cached"] for r in second["results"]] == [True, False]  # latency: never cached
    assert [r["cached"] for r in uncached["results"]] == [False, False]
    assert len(fake.chat_requests) == calls + 1 + 2
    assert second["results"][0]["output"] == first["results"][0]["output"]
    assert second["results"][0]["latency_ms"] is None
    assert second["passed"] == 2


def test_a_provider_refusal_is_an_error_not_a_failure(
    runner_stack: Stack, fake: FakeOpenAI
) -> None:
    tests = [{"description": "refused", "vars": {"company": "R", "input": "hello"},
              "assert": [{"type": "contains", "value": "hello"}]}]  # fmt: skip
    with runner_stack.new_user() as client:
        agent_id, compilation_id = compiled_agent(client)
        import_cases(client, agent_id, tests)
        fake.fail(400, message="model gpt-none does not exist")
        run = wait_for_run(client, agent_id, start_run(client, agent_id, compilation_id))
    assert (run["passed"], run["failed"], run["errored"], run["pass_rate"]) == (0, 0, 1, None)
    [result] = run["results"]
    assert result["pass"] is False
    assert result["error"].startswith("AI provider: AI provider rejected the request (400)")
    assert "model gpt-none does not exist" in result["error"]
    assert result["assertions"] == []


def test_a_reply_holding_the_nul_character_is_judged_and_kept_with_a_replacement(
    runner_stack: Stack, fake: FakeOpenAI
) -> None:
    """PostgreSQL's text cannot hold U+0000, which a model may write: the reply is judged as it
    came, and kept (result and response cache) with U+FFFD in its place, in one call."""
    tests = [{"description": "nul", "vars": {"company": "N", "input": f"nul {uuid.uuid4()}"},
              "assert": [{"type": "contains", "value": "Answer"},
                         {"type": "icontains", "value": "GOODBYE"}]}]  # fmt: skip
    with runner_stack.new_user() as client:
        agent_id, compilation_id = compiled_agent(client)
        import_cases(client, agent_id, tests)
        calls = len(fake.chat_requests)
        fake.respond("Answer\x00 to you")
        run = wait_for_run(
            client, agent_id, start_run(client, agent_id, compilation_id, cache=True)
        )
        again = wait_for_run(
            client, agent_id, start_run(client, agent_id, compilation_id, cache=True)
        )
    assert len(fake.chat_requests) == calls + 1  # neither retried nor asked again: cached
    assert (run["failed"], run["errored"]) == (1, 0)
    [result] = run["results"]
    assert result["output"] == "Answer\ufffd to you"
    assert result["assertions"][0]["pass"] is True  # judged on the reply as it came
    [cached] = again["results"]
    assert (cached["cached"], cached["output"]) == (True, "Answer\ufffd to you")


def sse_events(client: httpx.Client, url: str, timeout: float = 30) -> list[tuple[str, Any]]:
    events: list[tuple[str, Any]] = []
    event = ""
    with client.stream("GET", url, timeout=timeout) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:"):
                events.append((event, json.loads(line.split(":", 1)[1])))
    return events


def test_progress_streams_as_server_sent_events_and_results_export_as_junit(
    runner_stack: Stack, fake: FakeOpenAI
) -> None:
    fake.latency = 0.3  # the run outlasts opening the stream, so every result is streamed
    tests = numbered_cases(6, text="Answer")
    tests[2]["assert"] = [{"type": "contains", "value": "<missing & absent>"}]
    with runner_stack.new_user() as client:
        agent_id, compilation_id = compiled_agent(client, name="Streamed <agent>")
        import_cases(client, agent_id, tests)
        run_id = start_run(client, agent_id, compilation_id)
        events = sse_events(client, f"/api/v1/agents/{agent_id}/test-runs/{run_id}/events")
        junit = client.get(f"/api/v1/agents/{agent_id}/test-runs/{run_id}/junit")

    names = [name for name, _ in events]
    assert names[0] == "snapshot"
    assert names[-1] == "completed"
    assert set(names[1:-1]) == {"progress"}
    streamed = [r for name, data in events if name == "progress" for r in data["results"]]
    assert sorted(r["case_index"] for r in streamed) == list(range(6))  # each result once
    assert events[-1][1]["passed"] == 5
    assert events[-1][1]["failed"] == 1

    assert junit.status_code == 200
    assert junit.headers["content-type"].startswith("application/xml")
    suites = ET.fromstring(junit.text)
    suite = suites.find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("6", "1", "0")
    assert suite.get("name", "").startswith("Streamed <agent>")
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == [f"case {i}" for i in range(6)]
    failure = cases[2].find("failure")
    assert failure is not None
    assert failure.get("message") == 'Expected output to contain "<missing & absent>"'
    assert failure.text == "Answer to: question 2"


def test_a_cancelled_run_stops_and_cannot_be_cancelled_again(
    runner_stack: Stack, fake: FakeOpenAI
) -> None:
    fake.latency = 0.3
    with runner_stack.new_user() as client:
        agent_id, compilation_id = compiled_agent(client)
        import_cases(client, agent_id, numbered_cases(60))
        run_id = start_run(client, agent_id, compilation_id)
        wait_for_run(client, agent_id, run_id, until=lambda run: run["executed"] > 0)
        cancel = client.post(f"/api/v1/agents/{agent_id}/test-runs/{run_id}/cancel")
        run = wait_for_run(client, agent_id, run_id)
        # Executions in flight when it was cancelled finish, and are not counted.
        executions_done(runner_stack)
        after = client.get(f"/api/v1/agents/{agent_id}/test-runs/{run_id}").json()
        # The gateway's view learns of the cancellation from its event.
        listed_runs(client, agent_id, lambda items: items[0]["status"] == "cancelled")
        again = client.post(f"/api/v1/agents/{agent_id}/test-runs/{run_id}/cancel")

    assert (cancel.status_code, cancel.json()["status"]) == (202, "cancelling")
    assert (run["status"], run["reason"]) == ("cancelled", "cancelled by its owner")
    assert 0 < run["executed"] < 60
    assert after["executed"] == run["executed"]
    assert again.status_code == 409
    assert again.json()["error"]["message"] == f"test run {run_id} is already cancelled"


def test_runs_are_private_and_bad_requests_are_refused_with_reasons(
    runner_stack: Stack, fake: FakeOpenAI
) -> None:
    with runner_stack.new_user() as alice, runner_stack.new_user() as bob:
        agent_id, compilation_id = compiled_agent(alice)
        no_cases = alice.post(
            f"/api/v1/agents/{agent_id}/test-runs", json={"compilation_id": compilation_id}
        )
        import_cases(alice, agent_id, numbered_cases(1))
        run_id = start_run(alice, agent_id, compilation_id)
        base = f"/api/v1/agents/{agent_id}/test-runs"
        bobs = [
            bob.get(f"{base}/{run_id}"),
            bob.get(f"{base}/{run_id}/junit"),
            bob.get(f"{base}/{run_id}/events"),
            bob.post(f"{base}/{run_id}/cancel"),
            bob.get(base),
            bob.post(base, json={"compilation_id": compilation_id}),
        ]
        bad_repeat = alice.post(base, json={"compilation_id": compilation_id, "repeat": 21})
        missing_id = str(uuid.uuid4())
        unknown = alice.post(base, json={"compilation_id": missing_id})
        alice.put(
            f"/api/v1/agents/{agent_id}/spec",
            json={"blocks": {"persona": {"role": "agent for {{nobody}}"}}},
        )
        failed_id = alice.post(f"/api/v1/agents/{agent_id}/compilations").json()["id"]
        alice.get(f"/api/v1/agents/{agent_id}/compilations/{failed_id}?wait=10")
        not_compiled = alice.post(base, json={"compilation_id": failed_id})
        bad_cursor = alice.get(f"{base}/{run_id}?cursor=abc")

    assert (no_cases.status_code, no_cases.json()["error"]["code"]) == (422, "no_test_cases")
    assert [r.status_code for r in bobs] == [404] * 6
    assert bad_repeat.status_code == 422
    assert "repeat" in bad_repeat.json()["error"]["message"]
    assert unknown.status_code == 404
    assert unknown.json()["error"]["message"] == f"compilation {missing_id} not found"
    assert not_compiled.status_code == 409
    assert not_compiled.json()["error"]["message"] == (
        f"compilation {failed_id} is failed; a run needs a succeeded compilation"
    )
    assert bad_cursor.status_code == 422


def test_a_missing_variable_makes_the_case_an_error_naming_it(
    runner_stack: Stack, fake: FakeOpenAI
) -> None:
    tests = [{"description": "no company", "vars": {"input": "hello"},
              "assert": [{"type": "contains", "value": "hello"}]}]  # fmt: skip
    with runner_stack.new_user() as client:
        agent_id, compilation_id = compiled_agent(client)
        import_cases(client, agent_id, tests)
        run = wait_for_run(client, agent_id, start_run(client, agent_id, compilation_id))
    [result] = run["results"]
    assert result["error"] == (
        "cannot render the instructions: missing values for required variables: company"
    )
    assert run["errored"] == 1


def test_a_rate_limited_provider_pauses_the_run_which_then_completes_with_no_failure(
    isolated_stack: Callable[..., Stack], fake_openai: FakeOpenAI
) -> None:
    stack = isolated_stack(
        **provider_env(
            fake_openai,
            AI_MAX_ATTEMPTS="2",
            AI_BREAKER_FAIL_MAX="3",
            AI_BREAKER_RESET_SECONDS="1",
            TEST_RUNNER_CONCURRENCY="4",
        )
    )
    for service in ("compiler", "test-runner", "gateway"):
        stack.start(service)
    fake_openai.reply_with(Replies())
    with stack.new_user() as client:
        agent_id, compilation_id = compiled_agent(client)
        import_cases(client, agent_id, numbered_cases(20, text="Answer"))
        fake_openai.fail(429, times=14, message="rate limited")
        fake_openai.fail(500, times=4)
        run_id = start_run(client, agent_id, compilation_id)
        paused = wait_for_run(client, agent_id, run_id, until=lambda run: run["status"] == "paused")
        # The list tells the same truth, from the test-runner's events.
        [paused_in_list] = listed_runs(
            client, agent_id, lambda items: items[0]["status"] == "paused"
        )
        run = wait_for_run(client, agent_id, run_id, timeout=90)
        [completed_in_list] = listed_runs(
            client, agent_id, lambda items: items[0]["status"] == "completed"
        )

    assert paused["reason"].startswith("AI provider unavailable: ")
    assert paused_in_list["reason"].startswith("AI provider unavailable: ")
    assert (completed_in_list["passed"], completed_in_list["reason"]) == (20, None)
    assert run["status"] == "completed"
    assert (run["passed"], run["failed"], run["errored"]) == (20, 0, 0)
    assert run["reason"] is None


def test_a_test_runner_killed_mid_run_loses_nothing_and_applies_nothing_twice(
    isolated_stack: Callable[..., Stack], fake_openai: FakeOpenAI
) -> None:
    stack = isolated_stack(
        **provider_env(fake_openai, TEST_RUNNER_CONCURRENCY="8", ACK_WAIT_SECONDS="2")
    )
    for service in ("compiler", "test-runner", "gateway"):
        stack.start(service)
    fake_openai.reply_with(Replies())
    fake_openai.latency = 0.05
    with stack.new_user() as client:
        agent_id, compilation_id = compiled_agent(client)
        import_cases(client, agent_id, numbered_cases(500, text="Answer"))
        run_id = start_run(client, agent_id, compilation_id)
        wait_for_run(client, agent_id, run_id, until=lambda run: run["executed"] >= 100, timeout=60)
        stack.processes["test-runner"].kill()  # SIGKILL: no drain, in-flight work lost
        stack.start("test-runner")
        run = wait_for_run(client, agent_id, run_id, timeout=120)
        pages = [run]
        while pages[-1]["next_cursor"]:
            pages.append(
                client.get(
                    f"/api/v1/agents/{agent_id}/test-runs/{run_id}",
                    params={"limit": 1000, "cursor": pages[-1]["next_cursor"]},
                ).json()
            )

    assert run["status"] == "completed"
    assert (run["executed"], run["passed"], run["failed"], run["errored"]) == (500, 500, 0, 0)
    results = [r for page in pages for r in page["results"]]
    assert sorted(r["case_index"] for r in results) == list(range(500))
    [[stored]] = infra.query(
        stack.database_url,
        "SELECT count(*) FROM test_runner.results WHERE run_id = :run",
        run=run_id,
    )
    assert stored == 500
    # Everything the test-runner will ever emit for this run is in the stream once its executions
    # are all acknowledged and its outbox is empty.
    executions_done(stack)
    eventually(
        lambda: infra.query(stack.database_url, "SELECT count(*) FROM test_runner.outbox")[0][0],
        lambda pending: pending == 0,
        what="the test-runner's outbox emptying",
    )
    completed = infra.stream_subject_counts(
        stack.nats_url,
        f"{stack.root.upper()}_TEST_RUNNER",
        f"{stack.root}.test_runner.evt.test_run_completed.v1",
    )
    assert sum(completed.values()) == 1  # completed exactly once


def test_a_test_runner_killed_mid_fan_out_emits_each_execution_once(
    isolated_stack: Callable[..., Stack], fake_openai: FakeOpenAI
) -> None:
    stack = isolated_stack(
        **provider_env(fake_openai, TEST_RUNNER_FAN_OUT_CHUNK="40", ACK_WAIT_SECONDS="2")
    )
    for service in ("compiler", "gateway"):
        stack.start(service)
    # Killed (SIGKILL) with the second chunk claimed and not committed: the first is committed,
    # its executions perhaps not yet published by the relay.
    stack.start("test-runner", STUDIO_FAILPOINTS="test-runner.mid_fan_out")
    fake_openai.reply_with(Replies())
    with stack.new_user() as client:
        agent_id, compilation_id = compiled_agent(client)
        import_cases(client, agent_id, numbered_cases(100, text="Answer"))
        run_id = start_run(client, agent_id, compilation_id, repeat=2)
        process = stack.processes["test-runner"].proc
        assert process is not None
        assert process.wait(30) == -9
        stack.start("test-runner")
        run = wait_for_run(client, agent_id, run_id, timeout=120)

    assert run["status"] == "completed"
    assert (run["executed"], run["passed"], run["failed"], run["errored"]) == (200, 100, 0, 0)
    executions_done(stack)
    # One message per case x repeat in the stream: no chunk was lost or emitted twice.
    executions = infra.stream_subject_counts(
        stack.nats_url,
        f"{stack.root.upper()}_TEST_RUNNER",
        f"{stack.root}.test_runner.cmd.execute_case.v1",
    )
    assert sum(executions.values()) == 200


def executions_by(process: ServiceProcess) -> float:
    text = httpx.get(f"{process.url}/metrics", timeout=5).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("test_executions_total{")
    )


def test_two_test_runners_share_one_run_and_agree_with_one(
    isolated_stack: Callable[..., Stack], fake_openai: FakeOpenAI
) -> None:
    stack = isolated_stack(**provider_env(fake_openai, TEST_RUNNER_CONCURRENCY="4"))
    for service in ("compiler", "test-runner", "gateway"):
        stack.start(service)
    port = infra.free_port()
    env = stack.env("test-runner", TEST_RUNNER_HTTP_PORT=str(port))
    second = ServiceProcess("testrunner", env, port, stack.log_dir).start()
    fake_openai.reply_with(lambda body: "Answer" if "1" in user_text(body) else "other")
    fake_openai.latency = 0.02
    tests = [
        {"description": f"case {i}", "vars": {"company": "A", "input": f"question {i}"},
         "assert": [{"type": "contains", "value": "Answer"}]}
        for i in range(200)
    ]  # fmt: skip
    try:
        with stack.new_user() as client:
            agent_id, compilation_id = compiled_agent(client)
            import_cases(client, agent_id, tests)
            shared_run = wait_for_run(
                client, agent_id, start_run(client, agent_id, compilation_id), timeout=120
            )
            shares = [executions_by(stack.processes["test-runner"]), executions_by(second)]
            second.stop()
            alone = wait_for_run(
                client, agent_id, start_run(client, agent_id, compilation_id), timeout=120
            )
    finally:
        second.stop()

    assert shares[0] > 0, shares
    assert shares[1] > 0, shares
    assert sum(shares) == 200
    assert [r["case_index"] for r in shared_run["results"]] == list(range(200))
    # Both replicas write this log: their batches for one run queue on its row, never deadlock.
    deadlocks = [ln for ln in second.log_text().splitlines() if "deadlock" in ln.lower()]
    assert deadlocks == [], deadlocks[:3]
    verdicts = [(r["case_index"], r["pass"]) for r in shared_run["results"]]
    assert verdicts == [(r["case_index"], r["pass"]) for r in alone["results"]]
    expected = sum(1 for i in range(200) if "1" in f"question {i}")
    assert (shared_run["passed"], shared_run["failed"]) == (expected, 200 - expected)
    assert (alone["passed"], alone["failed"]) == (expected, 200 - expected)
