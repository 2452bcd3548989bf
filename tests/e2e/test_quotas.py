"""Quotas per user, enforced when things are created: 409 `quota_exceeded` naming the quota."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
import yaml

from gateway.settings import GatewaySettings
from tests.support.fixtures import Stack
from tests.support.processes import ServiceProcess

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def small(gateway_with: Callable[..., ServiceProcess]) -> ServiceProcess:
    return gateway_with(
        QUOTA_AGENTS_PER_USER="2",
        QUOTA_CASES_PER_AGENT="3",
        QUOTA_RUNS_IN_FLIGHT_PER_USER="1",
        QUOTA_EXECUTIONS_PER_RUN="4",
    )


def client(stack: Stack, gateway: ServiceProcess) -> httpx.Client:
    headers = {"Authorization": f"Bearer {stack.new_token()}"}
    return httpx.Client(base_url=gateway.url, headers=headers, timeout=15)


def assert_quota(response: httpx.Response, quota: str, limit: int) -> None:
    assert response.status_code == 409, response.text
    error = response.json()["error"]
    assert error["code"] == "quota_exceeded"
    assert error["quota"] == quota
    assert error["limit"] == limit
    assert error["message"].startswith(f"quota {quota}: ")


def case(i: int) -> dict[str, Any]:
    return {"input": f"question {i}", "assert": [{"type": "contains", "value": "x"}]}


def export(name: str, cases: int) -> dict[str, Any]:
    return {
        "agent": {"name": name},
        "spec": {},
        "test_cases": [case(i) for i in range(cases)],
        "versions": [],
        "channel_history": [],
    }


def promptfoo(n: int) -> str:
    return yaml.safe_dump({"tests": [{"vars": {"input": f"q{i}"}} for i in range(n)]})


def test_a_user_has_at_most_the_agents_of_the_quota(stack: Stack, small: ServiceProcess) -> None:
    with client(stack, small) as http:
        made = [http.post("/api/v1/agents", json={"name": f"A{i}"}) for i in range(2)]
        third = http.post("/api/v1/agents", json={"name": "A3"})
        imported = http.post("/api/v1/agents/import", json=export("Imported", cases=0))
        listed = http.get("/api/v1/agents").json()["items"]

    assert [m.status_code for m in made] == [201, 201]
    assert_quota(third, "agents_per_user", 2)
    assert_quota(imported, "agents_per_user", 2)
    assert len(listed) == 2


def test_an_imported_agent_brings_at_most_the_cases_of_the_quota(
    stack: Stack, small: ServiceProcess
) -> None:
    with client(stack, small) as http:
        refused = http.post("/api/v1/agents/import", json=export("Big", cases=4))
        accepted = http.post("/api/v1/agents/import", json=export("Small", cases=3))
        listed = http.get("/api/v1/agents").json()["items"]

    assert_quota(refused, "cases_per_agent", 3)
    assert accepted.status_code == 201, accepted.text
    assert [a["name"] for a in listed] == ["Small"]


def test_cases_are_counted_when_they_are_created_not_when_a_run_starts(
    stack: Stack, small: ServiceProcess
) -> None:
    with client(stack, small) as http:
        agent = http.post("/api/v1/agents", json={"name": "Cases"}).json()["id"]
        cases = f"/api/v1/agents/{agent}/test-cases"
        made = [http.post(cases, json=case(i)) for i in range(2)]
        too_many = http.post(
            f"{cases}/import", content=promptfoo(2), headers={"Content-Type": "application/yaml"}
        )
        last = http.post(cases, json=case(3))
        over = http.post(cases, json=case(4))
        stored = http.get(cases).json()["items"]

    assert [m.status_code for m in made] == [201, 201]
    assert_quota(too_many, "cases_per_agent", 3)
    assert "it has 2 and this adds 2" in too_many.json()["error"]["message"]
    assert last.status_code == 201
    assert_quota(over, "cases_per_agent", 3)
    assert len(stored) == 3


def compiled_agent_with_cases(http: httpx.Client, cases: int) -> tuple[str, str]:
    agent = http.post("/api/v1/agents", json={"name": "Runs"}).json()["id"]
    spec = {"persona": {"role": "support agent"}}
    assert http.put(f"/api/v1/agents/{agent}/spec", json={"blocks": spec}).status_code == 200
    for i in range(cases):
        assert http.post(f"/api/v1/agents/{agent}/test-cases", json=case(i)).status_code == 201
    compilation = http.post(f"/api/v1/agents/{agent}/compilations").json()["id"]
    done = http.get(f"/api/v1/agents/{agent}/compilations/{compilation}?wait=10").json()
    assert done["status"] == "succeeded", done
    return agent, compilation


def test_runs_are_bounded_in_executions_and_in_number_at_once(
    stack: Stack, small: ServiceProcess
) -> None:
    with client(stack, small) as http:
        agent, compilation = compiled_agent_with_cases(http, 3)
        runs = f"/api/v1/agents/{agent}/test-runs"
        too_big = http.post(runs, json={"compilation_id": compilation, "repeat": 2})
        # No test-runner serves this stack: the run stays queued, in flight.
        first = http.post(runs, json={"compilation_id": compilation})
        second = http.post(runs, json={"compilation_id": compilation})

    assert_quota(too_big, "executions_per_run", 4)
    assert "would make 6" in too_big.json()["error"]["message"]
    assert first.status_code == 202, first.text
    assert_quota(second, "runs_in_flight_per_user", 1)


def test_the_default_case_quota_is_what_one_run_can_take() -> None:
    settings = GatewaySettings()

    assert settings.quota_cases_per_agent == 10_000
    assert settings.quota_executions_per_run < 10_000 * 3
