"""The walking skeleton through real processes: create → spec → compile → read the instructions."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support import infra
from tests.support.fixtures import Stack

pytestmark = pytest.mark.e2e

SPEC = {
    "persona": {"role": "billing support agent", "voice": "warm and precise"},
    "mission": {
        "problem": "Answer customers' billing questions",
        "success_criteria": ["cites the invoice number", "answers in under 120 words"],
    },
    "workflow": {"steps": ["Find the invoice", "Explain the charge", "Offer next steps"]},
}


def wait_for_compilation(
    client: httpx.Client, agent_id: str, compilation_id: str
) -> dict[str, Any]:
    """Read the compilation, letting the gateway hold the request until it is no longer pending."""
    response = client.get(
        f"/api/v1/agents/{agent_id}/compilations/{compilation_id}", params={"wait": 20}, timeout=30
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def create_agent_with_spec(client: httpx.Client, name: str = "Billing helper") -> str:
    created = client.post("/api/v1/agents", json={"name": name, "description": "answers invoices"})
    assert created.status_code == 201, created.text
    agent_id: str = created.json()["id"]
    saved = client.put(f"/api/v1/agents/{agent_id}/spec", json={"blocks": SPEC})
    assert saved.status_code == 200, saved.text
    assert saved.json()["revision"] == 1
    return agent_id


def test_compiled_instructions_start_with_the_system_backbone(stack: Stack) -> None:
    with stack.new_user() as client:
        agent_id = create_agent_with_spec(client)
        accepted = client.post(f"/api/v1/agents/{agent_id}/compilations")
        assert accepted.status_code == 202, accepted.text
        assert accepted.json()["status"] == "pending"

        compilation = wait_for_compilation(client, agent_id, accepted.json()["id"])

    assert compilation["status"] == "succeeded"
    assert compilation["spec_revision"] == 1
    assert compilation["sections"][0]["title"] == "System Backbone"
    assert [s["title"] for s in compilation["sections"]] == ["System Backbone", "Workflow"]
    assert compilation["instructions"].startswith("## System Backbone\n")
    assert "billing support agent" in compilation["instructions"]
    assert "\n1. Find the invoice\n2. Explain the charge\n" in compilation["instructions"]


def test_agents_are_listed_newest_first_across_pages(stack: Stack) -> None:
    with stack.new_user() as client:
        names = [f"agent {i}" for i in range(5)]
        for name in names:
            assert client.post("/api/v1/agents", json={"name": name}).status_code == 201
        first = client.get("/api/v1/agents", params={"limit": 2}).json()
        second = client.get(
            "/api/v1/agents", params={"limit": 2, "cursor": first["next_cursor"]}
        ).json()
        third = client.get(
            "/api/v1/agents", params={"limit": 2, "cursor": second["next_cursor"]}
        ).json()

    listed = [a["name"] for page in (first, second, third) for a in page["items"]]
    assert listed == list(reversed(names))
    assert third["next_cursor"] is None


def test_agent_can_be_renamed_and_deleted(stack: Stack) -> None:
    with stack.new_user() as client:
        agent_id = client.post("/api/v1/agents", json={"name": "Draft"}).json()["id"]
        renamed = client.patch(f"/api/v1/agents/{agent_id}", json={"name": "  Final  "})
        assert renamed.status_code == 200
        assert renamed.json()["name"] == "Final"
        assert client.delete(f"/api/v1/agents/{agent_id}").status_code == 204
        assert client.get(f"/api/v1/agents/{agent_id}").status_code == 404
        assert client.get(f"/api/v1/agents/{agent_id}/spec").status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": "ok", "description": "d" * 501}, "description"),
        ({"name": "ok", "owner_id": str(uuid.uuid4())}, "owner_id"),
        ({}, "name"),
    ],
)
def test_invalid_agent_is_refused_with_a_message_naming_the_field(
    stack: Stack, body: dict[str, Any], field: str
) -> None:
    with stack.new_user() as client:
        response = client.post("/api/v1/agents", json=body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert error["message"].startswith(f"{field}: ")


def test_requests_without_a_valid_token_are_unauthorised(stack: Stack) -> None:
    missing = httpx.get(f"{stack.gateway_url}/api/v1/agents")
    wrong = httpx.get(
        f"{stack.gateway_url}/api/v1/agents",
        headers={"Authorization": "Bearer sas_not-a-real-token"},
    )
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "unauthenticated"
    assert wrong.status_code == 401
    assert wrong.json()["error"]["code"] == "invalid_token"


def test_another_users_agent_cannot_be_read_changed_or_compiled(stack: Stack) -> None:
    with stack.new_user() as alice, stack.new_user() as bob:
        agent_id = create_agent_with_spec(alice)
        base = f"/api/v1/agents/{agent_id}"
        compilation_id = alice.post(f"{base}/compilations").json()["id"]

        answers = {
            "get": bob.get(base).status_code,
            "patch": bob.patch(base, json={"name": "mine now"}).status_code,
            "delete": bob.delete(base).status_code,
            "get spec": bob.get(f"{base}/spec").status_code,
            "put spec": bob.put(f"{base}/spec", json={"blocks": {}}).status_code,
            "compile": bob.post(f"{base}/compilations").status_code,
            "read compilation": bob.get(f"{base}/compilations/{compilation_id}").status_code,
        }
        assert answers == dict.fromkeys(answers, 404)
        assert bob.get("/api/v1/agents").json()["items"] == []
        # Alice's agent is untouched.
        assert alice.get(base).json()["name"] == "Billing helper"
        assert alice.get(f"{base}/spec").json()["blocks"] == SPEC
        # Bob's refused request, rolled back, left nothing behind on its connection either.
        again = alice.post(f"{base}/compilations")
        assert again.status_code == 202
        done = alice.get(f"{base}/compilations/{again.json()['id']}?wait=10").json()
        assert done["status"] == "succeeded"


def test_health_readiness_metrics_and_openapi_are_served(stack: Stack) -> None:
    for service in ("gateway", "compiler"):
        url = stack.processes[service].url
        assert httpx.get(f"{url}/healthz").json() == {"status": "ok"}
        ready = httpx.get(f"{url}/readyz")
        assert ready.status_code == 200
        assert ready.json()["checks"] == {"nats": "ok", "database": "ok"}
        assert "messages_processed_total" in httpx.get(f"{url}/metrics").text
    spec = httpx.get(f"{stack.gateway_url}/openapi.json").json()
    assert "/api/v1/agents/{agent_id}/compilations" in spec["paths"]


def test_the_callers_trace_continues_through_the_command_and_the_event(stack: Stack) -> None:
    trace_id = uuid.uuid4().hex
    traceparent = f"00-{trace_id}-{uuid.uuid4().hex[:16]}-01"
    with stack.new_user() as client:
        agent_id = create_agent_with_spec(client)
        accepted = client.post(
            f"/api/v1/agents/{agent_id}/compilations", headers={"traceparent": traceparent}
        )
        wait_for_compilation(client, agent_id, accepted.json()["id"])

    stream = f"{stack.root.upper()}_COMPILER"
    command = infra.last_message_headers(
        stack.nats_url, stream, f"{stack.root}.compiler.cmd.compile_agent.v1"
    )
    event = infra.last_message_headers(
        stack.nats_url, stream, f"{stack.root}.compiler.evt.agent_compiled.v1"
    )
    assert command["traceparent"].split("-")[1] == trace_id
    assert event["traceparent"].split("-")[1] == trace_id
    # Each hop is its own span in the same trace.
    assert command["traceparent"] != traceparent
    assert event["traceparent"] != command["traceparent"]


# Every field within its own limit, the whole over the 256 KiB a spec may take.
LARGEST_VALID_BLOCKS = {
    "examples": [{"input": "i" * 4000, "output": "o" * 4000}] * 20,
    "knowledge": {"facts": ["f" * 1000] * 50},
    "constraints": {"must": ["m" * 1000] * 50, "must_not": ["n" * 1000] * 50},
}


def test_oversized_bodies_are_refused_before_they_are_stored(stack: Stack) -> None:
    with stack.new_user() as client:
        agent_id = client.post("/api/v1/agents", json={"name": "big"}).json()["id"]
        too_big_spec = client.put(
            f"/api/v1/agents/{agent_id}/spec",
            json={"blocks": LARGEST_VALID_BLOCKS},
        )
        too_big_body = client.put(
            f"/api/v1/agents/{agent_id}/spec",
            json={"blocks": {"knowledge": {"facts": ["x" * 2_000_000]}}},
        )
        stored = client.get(f"/api/v1/agents/{agent_id}/spec").json()
    assert too_big_spec.status_code == 413
    assert too_big_spec.json()["error"]["code"] == "spec_too_large"
    assert too_big_body.status_code == 413
    assert too_big_body.json()["error"]["code"] == "request_too_large"
    assert (stored["blocks"], stored["revision"]) == ({}, 0)


def test_an_oversized_body_sent_in_chunks_is_refused_too(stack: Stack) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"blocks": {"knowledge": {"facts": ["'
        for _ in range(40):
            yield b"x" * 50_000
        yield b'"]}}}'

    with stack.new_user() as client:
        agent_id = client.post("/api/v1/agents", json={"name": "chunky"}).json()["id"]
        response = client.put(
            f"/api/v1/agents/{agent_id}/spec",
            content=chunks(),
            headers={"content-type": "application/json"},
        )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"
