"""Ownership over the whole API: every route in `/openapi.json`, walked without credentials and as
a stranger, against an owner who has one of everything (a compiled agent, a case, a completed run,
a published version on production).

A new route joins the walk by itself; a new kind of path parameter fails the walk until it is
given a value below, so no route escapes it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.test_publishing import publish, replies
from tests.e2e.test_test_runs import compiled_agent, import_cases, provider_env, wait_for_run
from tests.support.fake_openai import running_fake_openai
from tests.support.fixtures import Stack, running_stack

pytestmark = pytest.mark.e2e

# Routes anyone may call: what they answer depends on nothing a user owns.
PUBLIC: set[tuple[str, str]] = {
    ("post", "/api/v1/auth/magic-link"),  # the same 202 for every address
    ("post", "/auth/callback"),  # using a mailed link: the link is the credential
    # An erasure's progress, read with the status token its 202 gave (the user's are gone):
    # without it, the same 404 as for an unknown erasure.
    ("get", "/api/v1/erasures/{erasure_id}"),
}
# Routes that act on the caller alone and name nothing: walked without credentials only (as the
# stranger, erasing the account would end the walk).
CALLER_ONLY: set[tuple[str, str]] = {("delete", "/api/v1/me")}

# A valid body for every route that takes one, so that only ownership can refuse it.
CASE = {"input": "hi", "assert": [{"type": "contains", "value": "hi"}]}
BODIES: dict[tuple[str, str], Any] = {
    ("post", "/api/v1/agents"): {"name": "made by the walk"},
    ("patch", "/api/v1/agents/{agent_id}"): {"name": "renamed by the walk"},
    ("put", "/api/v1/agents/{agent_id}/spec"): {"blocks": {"persona": {"role": "walker"}}},
    ("post", "/api/v1/agents/{agent_id}/spec/coach"): {"block": "persona"},
    ("post", "/api/v1/agents/{agent_id}/test-cases"): CASE,
    ("put", "/api/v1/agents/{agent_id}/test-cases/{case_id}"): CASE,
    ("post", "/api/v1/agents/{agent_id}/test-cases/import"): "tests:\n  - vars: {{input: hi}}\n",
    ("post", "/api/v1/agents/{agent_id}/test-runs"): {"compilation_id": "{compilation_id}"},
    ("post", "/api/v1/agents/{agent_id}/versions"): {
        "compilation_id": "{compilation_id}",
        "force": True,
        "reason": "the walk",
    },
    ("put", "/api/v1/agents/{agent_id}/channels/{channel}"): {"version": 1},
    ("post", "/api/v1/agents/import"): {"agent": {"name": "imported by the walk"}},
    ("post", "/api/v1/auth/magic-link"): {"email": "walker@example.com"},
    ("post", "/api/v1/tokens"): {"name": "made by the walk"},
    ("post", "/v1/chat/completions"): {
        "model": "agent:{agent_id}",
        "messages": [{"role": "user", "content": "hi"}],
    },
}


@pytest.fixture(scope="module")
def stack(
    postgres_url: str, nats_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    with (
        running_fake_openai() as fake,
        running_stack(
            postgres_url,
            nats_url,
            tmp_path_factory.mktemp("logs"),
            ("compiler", "test-runner", "publisher", "gateway"),
            provider_env(fake),
        ) as running,
    ):
        fake.reply_with(replies)
        yield running


def owned_things(client: httpx.Client) -> dict[str, str]:
    """One of everything an owner can have, by the path parameter that names it."""
    agent_id, compilation_id = compiled_agent(client, spec={"persona": {"role": "owner's agent"}})
    import_cases(
        client,
        agent_id,
        [{"vars": {"input": "hello"}, "assert": [{"type": "contains", "value": "hello"}]}],
    )
    [case] = client.get(f"/api/v1/agents/{agent_id}/test-cases").json()["items"]
    run = client.post(
        f"/api/v1/agents/{agent_id}/test-runs", json={"compilation_id": compilation_id}
    ).json()
    assert wait_for_run(client, agent_id, run["id"])["status"] == "completed"
    published = publish(
        client,
        agent_id,
        compilation_id=compilation_id,
        channel="production",
        force=True,
        reason="the ownership walk",
    )
    assert published["status"] == "done", published
    token = client.post("/api/v1/tokens", json={"name": "the owner's"}).json()
    return {
        "token_id": token["id"],
        "agent_id": agent_id,
        "compilation_id": compilation_id,
        "case_id": case["id"],
        "run_id": run["id"],
        "request_id": published["id"],
        "number": "1",
        "a": "1",
        "b": "1",
        "revision": "1",
        "channel": "production",
    }


def routes(stack: Stack) -> list[tuple[str, str, list[str]]]:
    """Every (method, path template, path parameter names) the API documents."""
    document = httpx.get(f"{stack.gateway_url}/openapi.json").json()
    found = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            params = [p["name"] for p in operation.get("parameters", []) if p["in"] == "path"]
            if "requestBody" in operation:
                assert (method, path) in BODIES, f"give the walk a valid body for {method} {path}"
            found.append((method, path, params))
    assert len(found) > 30, "the walk found too few routes to be a walk"
    return found


def fill(template: Any, values: dict[str, str]) -> Any:
    """`template` (a path or a body) with `{name}` replaced by the values."""
    if isinstance(template, str):
        return template.format(**values)
    if isinstance(template, dict):
        return {k: fill(v, values) for k, v in template.items()}
    if isinstance(template, list):
        return [fill(v, values) for v in template]
    return template


def call(client: httpx.Client, method: str, path: str, values: dict[str, str]) -> httpx.Response:
    body = fill(BODIES.get((method, path)), values)
    url = fill(path, values)
    if isinstance(body, str):
        headers = {"Content-Type": "application/yaml"}
        return client.request(method.upper(), url, content=body, headers=headers)
    return client.request(method.upper(), url, json=body)


def normalised(response: httpx.Response, ids: dict[str, str]) -> tuple[int, str]:
    """Status and body with the ids the caller sent replaced, to compare two 404s."""
    text = response.text
    for name, value in sorted(ids.items(), key=lambda item: -len(item[1])):  # "1" last
        text = text.replace(value, f"<{name}>")
    return response.status_code, text


def test_every_route_refuses_anonymous_callers_and_hides_what_strangers_do_not_own(
    stack: Stack,
) -> None:
    owner = stack.client(stack.new_token())
    stranger = stack.client(stack.new_token())
    anonymous = httpx.Client(base_url=stack.gateway_url, timeout=10)
    owned = owned_things(owner)
    erased = httpx.delete(
        f"{stack.gateway_url}/api/v1/me",
        headers={"Authorization": f"Bearer {stack.new_token()}"},
    )
    assert erased.status_code == 202, erased.text
    owned["erasure_id"] = erased.json()["id"]
    # The stranger's own agent, to pair with the owner's other ids.
    own_agent = stranger.post("/api/v1/agents", json={"name": "stranger's"}).json()["id"]
    problems: list[str] = []

    for method, path, params in routes(stack):
        unknown_params = set(params) - owned.keys()
        assert not unknown_params, f"{method} {path}: give the walk a value for {unknown_params}"
        where = f"{method.upper()} {path}"

        if (method, path) not in PUBLIC:
            answer = call(anonymous, method, path, owned)
            if answer.status_code != 401:
                problems.append(f"{where} without credentials: {answer.status_code} {answer.text}")

        if (method, path) in CALLER_ONLY:
            continue
        if not params and "{agent_id}" not in str(BODIES.get((method, path))):
            # Nothing of the owner's named: whatever the stranger gets must not show the owner's.
            answer = call(stranger, method, path, owned)
            if owned["agent_id"] in answer.text:
                problems.append(f"{where} shows the owner's agent to a stranger")
            continue

        # A foreign id and an unknown one get the same answer, and it is a 404.
        foreign = call(stranger, method, path, owned)
        made_up = {k: str(uuid.uuid4()) if k.endswith("_id") else v for k, v in owned.items()}
        unknown = call(stranger, method, path, made_up)
        if foreign.status_code != 404:
            problems.append(f"{where} as a stranger: {foreign.status_code} {foreign.text}")
        elif normalised(foreign, owned) != normalised(unknown, made_up):
            problems.append(f"{where}: foreign {foreign.text} but unknown {unknown.text}")

        # The owner's other ids under the stranger's own agent: no way in either.
        if len([p for p in params if p.endswith("_id")]) > 1:
            mixed = call(stranger, method, path, {**owned, "agent_id": own_agent})
            if mixed.status_code != 404:
                problems.append(
                    f"{where} via the stranger's agent: {mixed.status_code} {mixed.text}"
                )

    # The walk changed nothing of the owner's: every read still answers them, in full.
    for method, path, params in routes(stack):
        if method == "get" and params and (method, path) not in PUBLIC:
            answer = owner.get(fill(path, owned))
            if answer.status_code != 200:
                problems.append(f"GET {path} as the owner: {answer.status_code} {answer.text}")

    assert not problems, "\n".join(problems)
