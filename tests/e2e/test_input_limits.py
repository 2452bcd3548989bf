"""What every store accepts is checked at the edge: text without NUL characters, finite numbers
that are numbers (not booleans), integers within their column's range, bounded nesting. Each is
refused with a 4xx naming the field, never accepted for a store (or another service) to refuse."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import httpx
import pytest

from tests.support.fixtures import Stack

pytestmark = pytest.mark.e2e

NUL = "a\x00b"
INT32_PAST = 2**31
CASE: dict[str, Any] = {"input": "hello", "assert": [{"type": "contains", "value": "hello"}]}


def new_agent(client: httpx.Client) -> str:
    created = client.post("/api/v1/agents", json={"name": "Edge"})
    assert created.status_code == 201, created.text
    agent_id: str = created.json()["id"]
    return agent_id


def version(**overrides: Any) -> dict[str, Any]:
    """One version as an export carries it."""
    return {
        "number": 1,
        "compilation_id": str(uuid.uuid4()),
        "test_run_id": None,
        "spec_revision": 1,
        "notes": "",
        "forced": False,
        "force_reason": None,
        "overridden": None,
        "published_by": str(uuid.uuid4()),
        "published_at": "2026-01-01T00:00:00Z",
        "spec": {},
        "instructions": "Be helpful.",
        "variables": [],
        "settings": {"model": None, "temperature": None},
        **overrides,
    }


def export(**overrides: Any) -> dict[str, Any]:
    return {
        "agent": {"name": "Imported"},
        "spec": {},
        "test_cases": [],
        "versions": [],
        "channel_history": [],
        **overrides,
    }


def refused(response: httpx.Response, field: str, status: int = 422) -> str:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert field in error["message"], error
    message: str = error["message"]
    return message


# (method, path under the agent — or None for the agents collection, body, field named)
NUL_BODIES: list[tuple[str, str | None, Any, str]] = [
    ("POST", None, {"name": NUL}, "name"),
    ("POST", None, {"name": "ok", "description": NUL}, "description"),
    ("PUT", "spec", {"blocks": {"persona": {"role": NUL}}}, "blocks.persona.role"),
    (
        "PUT",
        "spec",
        {"blocks": {"output": {"json_schema": {"type": "object", "x": {"k": NUL}}}}},
        "blocks.output.json_schema",
    ),
    (
        "PUT",
        "spec",
        {"blocks": {"output": {"json_schema": {"type": "object", NUL: 1}}}},
        "blocks.output.json_schema",
    ),
    ("POST", "test-cases", {**CASE, "input": NUL}, "input"),
    ("POST", "test-cases", {**CASE, "vars": {"a": [NUL]}}, "vars"),
    ("POST", "test-cases", {**CASE, "vars": {NUL: "x"}}, "vars"),
    ("POST", "test-cases", {**CASE, "description": NUL}, "description"),
    ("POST", "test-cases", {**CASE, "assert": [{"type": "contains", "value": NUL}]}, "value"),
    (
        "POST",
        "test-cases",
        {**CASE, "assert": [{"type": "contains", "value": "x", "metric": NUL}]},
        "metric",
    ),
    ("POST", "test-runs", {"compilation_id": str(uuid.uuid4()), "model": NUL}, "model"),
    ("POST", "versions", {"compilation_id": str(uuid.uuid4()), "notes": NUL}, "notes"),
    (
        "POST",
        "versions",
        {"compilation_id": str(uuid.uuid4()), "force": True, "reason": NUL},
        "reason",
    ),
    ("PUT", "channels/production", {"version": 1, "reason": NUL}, "reason"),
    ("POST", "/api/v1/tokens", {"name": NUL}, "name"),
]


@pytest.mark.parametrize(("method", "path", "body", "field"), NUL_BODIES)
def test_a_nul_character_in_stored_text_is_refused_naming_the_field(
    stack: Stack, method: str, path: str | None, body: Any, field: str
) -> None:
    with stack.new_user() as client:
        if path is None or path.startswith("/"):
            url = path or "/api/v1/agents"
        else:
            url = f"/api/v1/agents/{new_agent(client)}/{path}"
        response = client.request(method, url, json=body)
    message = refused(response, field)
    assert "NUL" in message


@pytest.mark.parametrize(
    ("document", "field"),
    [
        (export(agent={"name": NUL}), "agent.name"),
        (export(spec={"persona": {"role": NUL}}), "spec"),
        (export(test_cases=[{**CASE, "input": NUL}]), "test_cases.0.input"),
        (export(versions=[version(notes=NUL)]), "versions.0.notes"),
        (export(versions=[version(instructions=NUL)]), "versions.0.instructions"),
        (export(versions=[version(force_reason=NUL)]), "versions.0.force_reason"),
        (export(versions=[version(spec={"k": {NUL: 1}})]), "versions.0.spec"),
        (export(versions=[version(settings={"model": NUL})]), "versions.0.settings.model"),
    ],
)
def test_an_import_carrying_a_nul_character_is_refused_naming_the_field(
    stack: Stack, document: dict[str, Any], field: str
) -> None:
    with stack.new_user() as client:
        response = client.post("/api/v1/agents/import", json=document)
        listed = client.get("/api/v1/agents").json()
    assert "NUL" in refused(response, field)
    assert listed["items"] == []  # nothing half-imported


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ('{"input": "x", "threshold": NaN}', "threshold"),
        ('{"input": "x", "threshold": Infinity}', "threshold"),
        ('{"input": "x", "vars": {"n": -Infinity}}', "vars"),
        ('{"input": "x", "assert": [{"type": "contains", "value": NaN}]}', "value"),
        ('{"input": "x", "assert": [{"type": "contains", "value": "a", "weight": NaN}]}', "weight"),
        ('{"input": "x", "threshold": false}', "threshold"),
        ('{"input": "x", "assert": [{"type": "similar", "value": "a", "threshold": true}]}', "threshold"),
        ('{"input": "x", "assert": [{"type": "contains", "value": "a", "weight": true}]}', "weight"),
    ],
)  # fmt: skip
def test_numbers_are_finite_and_never_booleans(stack: Stack, raw: str, field: str) -> None:
    with stack.new_user() as client:
        url = f"/api/v1/agents/{new_agent(client)}/test-cases"
        response = client.post(url, content=raw, headers={"content-type": "application/json"})
    refused(response, field)


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (None, {"name": "x", "min_pass_rate": True}, "min_pass_rate"),
        ("test-runs", {"compilation_id": str(uuid.uuid4()), "repeat": True}, "repeat"),
        ("test-runs", {"compilation_id": str(uuid.uuid4()), "temperature": False}, "temperature"),
        ("channels/production", {"version": True}, "version"),
    ],
)
def test_a_boolean_is_not_a_number_anywhere(
    stack: Stack, path: str | None, body: dict[str, Any], field: str
) -> None:
    with stack.new_user() as client:
        url = "/api/v1/agents" if path is None else f"/api/v1/agents/{new_agent(client)}/{path}"
        response = client.request("PUT" if path and "channels" in path else "POST", url, json=body)
    refused(response, field)


def test_a_spec_nested_past_the_limit_is_refused(stack: Stack) -> None:
    deep: Any = {"type": "object"}
    for _ in range(300):
        deep = {"type": "object", "properties": {"x": deep}}
    with stack.new_user() as client:
        agent_id = new_agent(client)
        response = client.put(
            f"/api/v1/agents/{agent_id}/spec", json={"blocks": {"output": {"json_schema": deep}}}
        )
    assert "nest" in refused(response, "blocks.output.json_schema")


@pytest.mark.parametrize(
    "path",
    [
        f"versions/{INT32_PAST}",
        f"versions/1/diff/{INT32_PAST}",
        f"versions/{INT32_PAST}/diff/1",
        f"spec/revisions/{INT32_PAST}",
        f"spec/revisions?before={INT32_PAST}",
    ],
)
def test_integers_past_the_column_range_are_refused_in_paths_and_queries(
    stack: Stack, path: str
) -> None:
    with stack.new_user() as client:
        response = client.get(f"/api/v1/agents/{new_agent(client)}/{path}")
    assert response.status_code == 422, response.text
    assert str(2**31 - 1) in response.json()["error"]["message"]


def test_a_channel_move_past_the_version_range_is_refused(stack: Stack) -> None:
    with stack.new_user() as client:
        url = f"/api/v1/agents/{new_agent(client)}/channels/production"
        response = client.put(url, json={"version": INT32_PAST})
    refused(response, "version")


def cursor_of(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("path", "cursor"),
    [
        ("versions", cursor_of(f"[{INT32_PAST}]")),
        ("channels/production/history", cursor_of("[1e3]")),
        ("test-cases", cursor_of(f"[{2**63}]")),
        ("test-runs", cursor_of('["2026-01-01T00:00:00", "not-a-uuid"]')),
        ("versions", "²"),
        ("test-cases", "MQ²"),
    ],
)
def test_cursors_out_of_range_or_not_ascii_are_refused(
    stack: Stack, path: str, cursor: str
) -> None:
    with stack.new_user() as client:
        url = f"/api/v1/agents/{new_agent(client)}/{path}"
        response = client.get(url, params={"cursor": cursor})
    assert (response.status_code, response.json()["error"]["code"]) == (422, "invalid_cursor")


@pytest.mark.parametrize("if_match", ['"²"', '"³"', f'"{INT32_PAST}"'])
def test_if_match_takes_only_ascii_revision_numbers(stack: Stack, if_match: str) -> None:
    with stack.new_user() as client:
        agent_id = new_agent(client)
        response = client.put(
            f"/api/v1/agents/{agent_id}/spec",
            json={"blocks": {}},
            headers={b"If-Match": if_match.encode("latin-1")},  # as a client may send it
        )
    assert (response.status_code, response.json()["error"]["code"]) == (400, "invalid_if_match")


def yaml_case(**fields: str) -> str:
    lines = ["tests:", "  - vars:", "      input: hello"]
    lines += [f"    {key}: {value}" for key, value in fields.items()]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("suite", "problem"),
    [
        (yaml_case(**{"assert": "5"}), "tests.0.assert: must be a list"),
        (yaml_case(**{"assert": "[5]"}), "tests.0.assert.0: an assertion must be a mapping"),
        (yaml_case(threshold=".nan"), "tests.0.threshold: nan is not a finite number"),
        (yaml_case(**{"assert": "[{type: contains, value: .inf}]"}), "tests.0.assert.0.value"),
        ('tests:\n  - vars: {input: "a\\0b"}\n', "tests.0.vars.input: contains the NUL"),
        ('tests:\n  - vars: {input: hi, "k\\0": 1}\n', "tests.0.vars: a key contains the NUL"),
        (
            "tests:\n  - vars: {input: hi, deep: " + "[" * 100 + "]" * 100 + "}\n",
            "the limit is 64",
        ),
        (
            "tests:\n  - vars: {input: hi, deep: " + "[" * 500 + "]" * 500 + "}\n",
            "the limit is 200",
        ),
    ],
)
def test_a_promptfoo_suite_no_store_could_hold_is_refused_naming_the_problem(
    stack: Stack, suite: str, problem: str
) -> None:
    with stack.new_user() as client:
        agent_id = new_agent(client)
        response = client.post(
            f"/api/v1/agents/{agent_id}/test-cases/import",
            content=suite,
            headers={"content-type": "application/yaml"},
        )
        stored = client.get(f"/api/v1/agents/{agent_id}/test-cases").json()["items"]
    assert response.status_code == 422, response.text
    assert problem in response.json()["error"]["message"]
    assert stored == []


def test_a_promptfoo_suite_whose_aliases_expand_past_the_size_limit_is_refused(
    stack: Stack,
) -> None:
    # 439 bytes of YAML once stored 72 MB: each use of an alias counts its characters again.
    text = "x" * 50_000
    suite = f"tests:\n  - vars:\n      input: &a {text}\n      more: [{', '.join(['*a'] * 30)}]\n"
    with stack.new_user() as client:
        agent_id = new_agent(client)
        response = client.post(
            f"/api/v1/agents/{agent_id}/test-cases/import",
            content=suite,
            headers={"content-type": "application/yaml"},
        )
    assert (response.status_code, response.json()["error"]["code"]) == (422, "yaml_too_large")
    assert response.json()["error"]["message"].endswith("the limit is 1000000")


def test_an_imported_version_with_settings_out_of_range_is_refused(stack: Stack) -> None:
    document = export(versions=[version(settings={"model": None, "temperature": -1})])
    with stack.new_user() as client:
        response = client.post("/api/v1/agents/import", json=document)
    refused(response, "versions.0.settings.temperature")
