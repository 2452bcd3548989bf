"""Test cases through the API: CRUD, assertion checks, and import of a promptfoo suite."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.fixtures import Stack

pytestmark = pytest.mark.e2e

CASE = {
    "description": "cites the invoice",
    "input": "Why was I charged 12 EUR?",
    "vars": {"company": "Acme"},
    "assert": [
        {"type": "contains", "value": "invoice"},
        {"type": "not-icontains", "value": "refund", "weight": 2, "metric": "safety"},
    ],
    "threshold": 0.5,
}


def new_agent(client: httpx.Client) -> str:
    agent_id: str = client.post("/api/v1/agents", json={"name": "Tested"}).json()["id"]
    return agent_id


def test_a_case_is_created_read_replaced_listed_and_deleted(stack: Stack) -> None:
    with stack.new_user() as client:
        agent_id = new_agent(client)
        base = f"/api/v1/agents/{agent_id}/test-cases"
        created = client.post(base, json=CASE)
        assert created.status_code == 201, created.text
        case_id = created.json()["id"]
        read = client.get(f"{base}/{case_id}").json()
        replaced = client.put(f"{base}/{case_id}", json={**CASE, "input": "And the late fee?"})
        listed = client.get(base).json()
        deleted = client.delete(f"{base}/{case_id}")
        gone = client.get(f"{base}/{case_id}")
    body = created.json()
    assert {k: body[k] for k in CASE} == {
        **CASE,
        "assert": [
            {
                "type": "contains",
                "value": "invoice",
                "threshold": None,
                "weight": 1.0,
                "metric": None,
            },
            {
                "type": "not-icontains",
                "value": "refund",
                "threshold": None,
                "weight": 2.0,
                "metric": "safety",
            },
        ],
    }
    assert read == body
    assert replaced.json()["input"] == "And the late fee?"
    assert [c["id"] for c in listed["items"]] == [case_id]
    assert (deleted.status_code, gone.status_code) == (204, 404)


@pytest.mark.parametrize(
    ("assertion", "message"),
    [
        ({"type": "looks-good"}, "assert.0 (bad case): "),
        ({"type": "contains", "value": ""}, "assert.0 (bad case): "),
        ({"type": "regex", "value": "(unclosed"}, "assert.0 (bad case): "),
        ({"type": "similar", "value": "hello", "threshold": 1.5}, "assert.0 (bad case): "),
    ],
)
def test_an_assertion_that_cannot_run_is_refused_naming_the_case_and_the_assertion(
    stack: Stack, assertion: dict[str, Any], message: str
) -> None:
    with stack.new_user() as client:
        agent_id = new_agent(client)
        response = client.post(
            f"/api/v1/agents/{agent_id}/test-cases",
            json={"description": "bad case", "input": "hi", "assert": [assertion]},
        )
        listed = client.get(f"/api/v1/agents/{agent_id}/test-cases").json()
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_assertion"
    assert response.json()["error"]["message"].startswith(message)
    assert listed["items"] == []


SUITE = """
description: billing suite
prompts: ["{{input}}"]
tests:
  - description: plain
    vars: {input: "Where is my invoice?"}
    assert:
      - type: icontains
        value: invoice
  - description: with a javascript check
    vars: {input: "Hello"}
    assert:
      - type: contains
        value: hello
      - type: javascript
        value: output.length < 100
  - description: no input
    vars: {question: "Hi"}
    assert: []
  - description: broken regex
    vars: {input: "x"}
    assert:
      - type: regex
        value: "(unclosed"
"""


def test_a_promptfoo_suite_is_imported_with_every_problem_reported(stack: Stack) -> None:
    with stack.new_user() as client:
        agent_id = new_agent(client)
        report = client.post(
            f"/api/v1/agents/{agent_id}/test-cases/import",
            content=SUITE,
            headers={"content-type": "application/yaml"},
        )
        listed = client.get(f"/api/v1/agents/{agent_id}/test-cases").json()["items"]
        (audited,) = client.get("/api/v1/me/audit").json()["items"]
    assert report.status_code == 200, report.text
    assert (audited["action"], audited["details"]) == (
        "test_cases_imported",
        {"agent_id": agent_id, "imported": 2, "skipped": 2},
    )
    body = report.json()
    assert (body["imported"], body["skipped"]) == (2, 2)
    statuses = [(c["index"], c["status"]) for c in body["cases"]]
    assert statuses == [(0, "imported"), (1, "imported"), (2, "skipped"), (3, "skipped")]
    assert [d["type"] for d in body["cases"][1]["dropped"]] == ["javascript"]
    assert body["cases"][2]["problem"] == "vars.input (the case input) is missing or not text"
    assert "unclosed" in body["cases"][3]["problem"] or "regex" in body["cases"][3]["problem"]
    assert [(c["description"], c["input"], [a["type"] for a in c["assert"]]) for c in listed] == [
        ("plain", "Where is my invoice?", ["icontains"]),
        ("with a javascript check", "Hello", ["contains"]),
    ]


YAML_12_SUITE = """
tests:
  - description: "YAML 1.2, as promptfoo's js-yaml reads it"
    vars: {input: yes, at: 12:30, mode: 0777, flags: 0o777}
    assert:
      - type: equals
        value: "yes"
"""

BILLION_LAUGHS = "\n".join(
    ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    + [f"{level}: &{level} [{', '.join([f'*{chr(ord(level) - 1)}'] * 9)}]" for level in "bcdefghij"]
)


def test_an_imported_suite_is_read_as_yaml_1_2(stack: Stack) -> None:
    with stack.new_user() as client:
        agent_id = new_agent(client)
        report = client.post(
            f"/api/v1/agents/{agent_id}/test-cases/import",
            content=YAML_12_SUITE,
            headers={"content-type": "application/yaml"},
        )
        listed = client.get(f"/api/v1/agents/{agent_id}/test-cases").json()["items"]
    assert report.status_code == 200, report.text
    assert [(c["input"], c["vars"]) for c in listed] == [
        ("yes", {"input": "yes", "at": "12:30", "mode": 777, "flags": 511})
    ]


def test_hostile_yaml_is_refused_naming_the_limit(stack: Stack) -> None:
    with stack.new_user() as client:
        agent_id = new_agent(client)
        url = f"/api/v1/agents/{agent_id}/test-cases/import"
        headers = {"content-type": "application/yaml"}
        bomb = client.post(url, content=BILLION_LAUGHS, headers=headers)
        huge = client.post(url, content="tests: []\n#" + "x" * 1_000_000, headers=headers)
    assert (bomb.status_code, bomb.json()["error"]["code"]) == (422, "yaml_too_large")
    assert "more than 100000 nodes" in bomb.json()["error"]["message"]
    assert (huge.status_code, huge.json()["error"]["code"]) == (413, "yaml_too_large")
    assert huge.json()["error"]["message"].endswith("the limit is 1000000")


def test_another_users_test_cases_are_not_found(stack: Stack) -> None:
    with stack.new_user() as alice, stack.new_user() as bob:
        agent_id = new_agent(alice)
        case_id = alice.post(f"/api/v1/agents/{agent_id}/test-cases", json=CASE).json()["id"]
        base = f"/api/v1/agents/{agent_id}/test-cases"
        answers = [
            bob.get(base).status_code,
            bob.post(base, json=CASE).status_code,
            bob.get(f"{base}/{case_id}").status_code,
            bob.put(f"{base}/{case_id}", json=CASE).status_code,
            bob.delete(f"{base}/{case_id}").status_code,
        ]
    assert answers == [404] * 5


def test_cases_are_listed_in_creation_order_across_pages(stack: Stack) -> None:
    suite = "tests:\n" + "".join(
        f"  - {{description: case {i}, vars: {{input: 'q{i}'}}}}\n" for i in range(5)
    )
    with stack.new_user() as client:
        agent_id = new_agent(client)
        base = f"/api/v1/agents/{agent_id}/test-cases"
        client.post(f"{base}/import", content=suite, headers={"content-type": "application/yaml"})
        client.post(base, json={**CASE, "description": "case 5"})
        pages, cursor = [], None
        while True:
            params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            page = client.get(base, params=params).json()
            pages.append([c["description"] for c in page["items"]])
            cursor = page["next_cursor"]
            if cursor is None:
                break
        bad = client.get(base, params={"cursor": "not-a-cursor"})
    assert pages == [["case 0", "case 1"], ["case 2", "case 3"], ["case 4", "case 5"]]
    assert (bad.status_code, bad.json()["error"]["code"]) == (422, "invalid_cursor")
