"""The specification through the API: validation, score and lint, no lost updates, history."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.test_compile_flow import wait_for_compilation
from tests.support.fixtures import Stack

pytestmark = pytest.mark.e2e

GOLDEN = Path(__file__).parents[2] / "services" / "compiler" / "tests" / "golden"


def golden_blocks(name: str) -> dict[str, Any]:
    blocks: dict[str, Any] = json.loads((GOLDEN / f"{name}.spec.json").read_text())["blocks"]
    return blocks


def new_agent(client: httpx.Client) -> str:
    agent_id: str = client.post("/api/v1/agents", json={"name": "Spec test"}).json()["id"]
    return agent_id


def complete_blocks() -> dict[str, Any]:
    """The golden billing spec with the three examples the completeness score asks for."""
    blocks = golden_blocks("billing_support")
    blocks["examples"] = [
        *blocks["examples"],
        {
            "input": "Where is invoice 2026-0050?",
            "output": "Invoice 2026-0050 was issued on 1 November.",
        },
        {
            "input": "Can I get a refund?",
            "output": "I have opened a billing ticket; a person will reply.",
        },
    ]
    return blocks


def test_a_saved_spec_comes_back_with_its_score_warnings_and_etag(stack: Stack) -> None:
    with stack.new_user() as client:
        agent_id = new_agent(client)
        empty = client.get(f"/api/v1/agents/{agent_id}/spec")
        saved = client.put(f"/api/v1/agents/{agent_id}/spec", json={"blocks": complete_blocks()})
        read = client.get(f"/api/v1/agents/{agent_id}/spec")

    assert (empty.json()["completeness"], empty.json()["revision"], empty.headers["etag"]) == (
        0,
        0,
        '"0"',
    )
    assert saved.status_code == 200, saved.text
    body = saved.json()
    assert (body["revision"], saved.headers["etag"]) == (1, '"1"')
    assert body["completeness"] == 100
    assert body["blocks"] == complete_blocks()
    assert body["warnings"] == []
    assert read.json() == body


def test_lint_findings_name_the_block_and_what_to_fix(stack: Stack) -> None:
    blocks = {
        "mission": {"problem": "Help {{customer}} with orders", "success_criteria": []},
        "constraints": {"must": ["share prices"], "must_not": ["share prices"]},
    }
    with stack.new_user() as client:
        saved = client.put(
            f"/api/v1/agents/{new_agent(client)}/spec", json={"blocks": blocks}
        ).json()
    codes = {(w["code"], w["block"]) for w in saved["warnings"]}
    assert ("no_success_criteria", "mission") in codes
    assert ("contradictory_constraints", "constraints") in codes
    assert "undeclared_variable" in {code for code, _ in codes}
    undeclared = next(w for w in saved["warnings"] if w["code"] == "undeclared_variable")
    assert "customer" in undeclared["message"]


@pytest.mark.parametrize(
    ("blocks", "field"),
    [
        ({"persona": {"role": "x" * 201}}, "blocks.persona.role"),
        ({"colour": {"value": "blue"}}, "blocks.colour"),
        ({"variables": [{"name": "a"}, {"name": "a"}]}, "blocks.variables"),
        ({"workflow": {"steps": ["ok", "  "]}}, "blocks.workflow.steps"),
    ],
)
def test_an_invalid_spec_is_refused_naming_the_field(
    stack: Stack, blocks: dict[str, Any], field: str
) -> None:
    with stack.new_user() as client:
        agent_id = new_agent(client)
        response = client.put(f"/api/v1/agents/{agent_id}/spec", json={"blocks": blocks})
        stored = client.get(f"/api/v1/agents/{agent_id}/spec").json()
    assert response.status_code == 422
    assert response.json()["error"]["message"].startswith(field)
    assert stored["revision"] == 0


def test_a_save_from_a_stale_revision_gets_412_with_the_current_revision(stack: Stack) -> None:
    with stack.new_user() as client:
        agent_id = new_agent(client)
        url = f"/api/v1/agents/{agent_id}/spec"
        first = client.put(
            url, json={"blocks": {"persona": {"role": "a"}}}, headers={"If-Match": '"0"'}
        )
        stale = client.put(
            url, json={"blocks": {"persona": {"role": "b"}}}, headers={"If-Match": '"0"'}
        )
        current = client.get(url).json()
        bad = client.put(url, json={"blocks": {}}, headers={"If-Match": "yesterday"})
    assert first.status_code == 200
    assert stale.status_code == 412
    assert stale.json()["error"]["code"] == "revision_conflict"
    assert stale.json()["error"]["current_revision"] == 1
    assert (current["revision"], current["blocks"]) == (1, {"persona": {"role": "a"}})
    assert (bad.status_code, bad.json()["error"]["code"]) == (400, "invalid_if_match")


def test_concurrent_saves_from_one_revision_exactly_one_wins(stack: Stack) -> None:
    token = stack.new_token()
    with stack.client(token) as client:
        agent_id = new_agent(client)
    url = f"/api/v1/agents/{agent_id}/spec"

    def save(i: int) -> int:
        with stack.client(token) as client:
            body = {"blocks": {"persona": {"role": f"writer {i}"}}}
            return client.put(url, json=body, headers={"If-Match": '"0"'}).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = sorted(pool.map(save, range(8)))
    assert statuses == [200] + [412] * 7
    with stack.client(token) as client:
        history = client.get(f"{url}/revisions").json()
    assert [r["revision"] for r in history["items"]] == [1]


def test_every_save_is_kept_in_the_history(stack: Stack) -> None:
    with stack.new_user() as client:
        agent_id = new_agent(client)
        url = f"/api/v1/agents/{agent_id}/spec"
        for role in ("first", "second", "third"):
            client.put(url, json={"blocks": {"persona": {"role": role}}})
        page = client.get(f"{url}/revisions", params={"limit": 2}).json()
        rest = client.get(
            f"{url}/revisions", params={"limit": 2, "before": page["next_before"]}
        ).json()
        second = client.get(f"{url}/revisions/2").json()
        missing = client.get(f"{url}/revisions/9")
    assert [r["revision"] for r in page["items"] + rest["items"]] == [3, 2, 1]
    assert rest["next_before"] is None
    assert second["blocks"] == {"persona": {"role": "second"}}
    assert missing.status_code == 404


def test_compiling_reports_tokens_and_reuses_an_identical_spec(stack: Stack) -> None:
    with stack.new_user() as client:
        agent_id = new_agent(client)
        client.put(f"/api/v1/agents/{agent_id}/spec", json={"blocks": golden_blocks("json_triage")})
        first = client.post(f"/api/v1/agents/{agent_id}/compilations").json()["id"]
        done = wait_for_compilation(client, agent_id, first)
        second = client.post(f"/api/v1/agents/{agent_id}/compilations").json()["id"]
        again = wait_for_compilation(client, agent_id, second)
    assert done["status"] == "succeeded"
    assert done["instructions"] + "\n" == (GOLDEN / "json_triage.instructions.md").read_text()
    assert done["token_count_method"] == "o200k_base"
    assert done["token_count"] > 100
    assert done["reused_from"] is None
    assert (again["reused_from"], again["instructions"]) == (first, done["instructions"])


def test_a_spec_using_an_undeclared_variable_fails_to_compile_naming_it(stack: Stack) -> None:
    with stack.new_user() as client:
        agent_id = new_agent(client)
        client.put(
            f"/api/v1/agents/{agent_id}/spec",
            json={"blocks": {"mission": {"problem": "Help {{team}} and {{ product }}"}}},
        )
        compilation_id = client.post(f"/api/v1/agents/{agent_id}/compilations").json()["id"]
        done = wait_for_compilation(client, agent_id, compilation_id)
    assert done["status"] == "failed"
    assert done["error"] == "variables used but not declared: product, team"
    assert done["instructions"] is None
