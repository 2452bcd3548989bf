"""Publishing end to end: the test gate, version numbers, channels, and serving published agents
(the published read and the OpenAI-compatible endpoint, through the official openai SDK)."""

from __future__ import annotations

import concurrent.futures
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from tests.e2e.test_test_runs import (
    compiled_agent,
    import_cases,
    listed_runs,
    provider_env,
    start_run,
    user_text,
    wait_for_run,
)
from tests.support.fake_openai import FakeOpenAI, running_fake_openai
from tests.support.fixtures import Stack, running_stack
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e

SPEC_V1 = {
    "persona": {"role": "support agent for {{company}}"},
    "variables": [{"name": "company", "description": "Who the agent works for"}],
}
SPEC_V2 = {**SPEC_V1, "constraints": {"must_not": ["answer questions about refunds"]}}
CASES = [
    {"description": "greets", "vars": {"company": "Acme", "input": "hello"},
     "assert": [{"type": "contains", "value": "hello"}]},
    {"description": "refunds", "vars": {"company": "Acme", "input": "refund please"},
     "assert": [{"type": "contains", "value": "refund"}]},
]  # fmt: skip


def replies(body: dict[str, Any]) -> str:
    """Like a model: an agent told not to talk about refunds does not."""
    text = user_text(body)
    if "refund" in text and "refunds" in str(body["messages"][0]["content"]):
        return "I cannot help with that."
    return f"Answer to: {text}"


@pytest.fixture(scope="module")
def shared(
    postgres_url: str, nats_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Stack, FakeOpenAI]]:
    with (
        running_fake_openai() as fake,
        running_stack(
            postgres_url,
            nats_url,
            tmp_path_factory.mktemp("logs"),
            ("compiler", "test-runner", "publisher", "gateway"),
            provider_env(fake),
        ) as stack,
    ):
        yield stack, fake


@pytest.fixture
def stack(shared: tuple[Stack, FakeOpenAI]) -> Stack:
    shared[1].reply_with(replies)
    return shared[0]


def completed_run(client: httpx.Client, agent_id: str, compilation_id: str) -> dict[str, Any]:
    run = wait_for_run(client, agent_id, start_run(client, agent_id, compilation_id))
    # The publisher learns of the run from the same event as the gateway's list: wait for it.
    listed_runs(
        client,
        agent_id,
        lambda items: any(r["id"] == run["id"] and r["status"] == "completed" for r in items),
    )
    return run


def publish(client: httpx.Client, agent_id: str, **body: Any) -> dict[str, Any]:
    accepted = client.post(f"/api/v1/agents/{agent_id}/versions", json=body)
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["status"] == "pending"
    outcome = client.get(
        f"/api/v1/agents/{agent_id}/publishes/{accepted.json()['id']}", params={"wait": 15}
    ).json()
    assert outcome["status"] != "pending", outcome
    return dict(outcome)


def published(client: httpx.Client, agent_id: str, **params: Any) -> httpx.Response:
    return client.get(f"/api/v1/agents/{agent_id}/published", params=params)


def sdk(stack: Stack, token: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{stack.gateway_url}/v1", api_key=token, max_retries=0)


def test_the_gate_versions_channels_and_serving(
    stack: Stack, shared: tuple[Stack, FakeOpenAI]
) -> None:
    fake = shared[1]
    token = stack.new_token()
    with stack.client(token) as client:
        agent_id, first = compiled_agent(client, spec=SPEC_V1)
        import_cases(client, agent_id, CASES)
        run_1 = completed_run(client, agent_id, first)
        nothing_to_compare = client.get(
            f"/api/v1/agents/{agent_id}/test-runs/{run_1['id']}/comparison"
        )
        v1 = publish(
            client, agent_id, compilation_id=first, test_run_id=run_1["id"], channel="production"
        )
        read = published(client, agent_id)
        cached = client.get(
            f"/api/v1/agents/{agent_id}/published", headers={"If-None-Match": read.headers["etag"]}
        )

        # The official SDK, pointed at the gateway, calls the published agent.
        before = len(fake.chat_requests)
        answer = sdk(stack, token).chat.completions.create(
            model=f"agent:{agent_id}",
            messages=[{"role": "user", "content": "hello there"}],
            extra_body={"variables": {"company": "Globex"}},
        )
        sent = fake.chat_requests[before]
        streamed = "".join(
            chunk.choices[0].delta.content or ""
            for chunk in sdk(stack, token).chat.completions.create(
                model=f"agent:{agent_id}@v1",
                messages=[{"role": "user", "content": "stream this"}],
                extra_body={"variables": {"company": "Globex"}},
                stream=True,
            )
            if chunk.choices
        )

        # A new spec makes a case that passed in production's run fail: refused, naming it.
        client.put(f"/api/v1/agents/{agent_id}/spec", json={"blocks": SPEC_V2})
        second = client.post(f"/api/v1/agents/{agent_id}/compilations").json()["id"]
        client.get(f"/api/v1/agents/{agent_id}/compilations/{second}?wait=10")
        client.patch(f"/api/v1/agents/{agent_id}", json={"min_pass_rate": 0.5})
        run_2 = completed_run(client, agent_id, second)
        refused = publish(client, agent_id, compilation_id=second, test_run_id=run_2["id"])
        compared = client.get(f"/api/v1/agents/{agent_id}/test-runs/{run_2['id']}/comparison")
        forced = publish(
            client,
            agent_id,
            compilation_id=second,
            test_run_id=run_2["id"],
            force=True,
            reason="refunds now go to a person",
        )
        promoted = client.put(
            f"/api/v1/agents/{agent_id}/channels/production", json={"version": 2, "reason": "go"}
        )
        on_v2 = published(client, agent_id).json()
        rolled_back = client.put(
            f"/api/v1/agents/{agent_id}/channels/production",
            json={"version": 1, "reason": "refund complaints"},
        )
        # Immediately after the move: both serving paths have the older instructions.
        after_rollback = published(client, agent_id).json()
        before = len(fake.chat_requests)
        sdk(stack, token).chat.completions.create(
            model=f"agent:{agent_id}@production",
            messages=[{"role": "user", "content": "hi"}],
            extra_body={"variables": {"company": "Acme"}},
        )
        served_after_rollback = fake.chat_requests[before].messages[0]["content"]
        history = client.get(f"/api/v1/agents/{agent_id}/channels/production/history").json()
        listed = client.get(f"/api/v1/agents/{agent_id}/versions").json()
        version_2 = client.get(f"/api/v1/agents/{agent_id}/versions/2").json()
        staging = published(client, agent_id, channel="staging")
        diff = client.get(f"/api/v1/agents/{agent_id}/versions/1/diff/2").json()

    assert (v1["status"], v1["version"], v1["channel"]) == ("done", 1, "production")
    assert read.status_code == 200
    body = read.json()
    assert (body["version"], body["channel"]) == (1, "production")
    assert "support agent for {{company}}" in body["instructions"]
    assert body["variables"][0]["name"] == "company"
    assert read.headers["etag"] == f'"{agent_id}.v1"'
    assert cached.status_code == 304

    assert answer.choices[0].message.content == "Answer to: hello there"
    assert answer.model == f"agent:{agent_id}"
    assert sent.messages[0] == {
        "role": "system",
        "content": body["instructions"].replace("{{company}}", "Globex"),
    }
    assert sent.messages[1] == {"role": "user", "content": "hello there"}
    assert streamed == "Answer to: stream this"

    refunds_case = next(
        r["test_case_id"] for r in run_2["results"] if r["description"] == "refunds"
    )
    assert refused["status"] == "refused"
    assert refused["regressions"] == [refunds_case]
    # The API's comparison names what the gate refused on, by the same rule.
    assert nothing_to_compare.status_code == 200, nothing_to_compare.text
    assert nothing_to_compare.json() == {
        "run_id": run_1["id"],
        "production_version": None,
        "base_run_id": None,
        "regressed": [],
        "fixed": [],
        "unchanged": [],
    }
    comparison = compared.json()
    assert (comparison["production_version"], comparison["base_run_id"]) == (1, run_1["id"])
    assert comparison["regressed"] == [
        {
            "test_case_id": refunds_case,
            "description": "refunds",
            "before": "passed",
            "now": "failed",
        }
    ]
    assert comparison["fixed"] == []
    others = {r["test_case_id"] for r in run_2["results"]} - {refunds_case}
    assert {c["test_case_id"] for c in comparison["unchanged"]} == others
    assert refused["reason"].startswith(
        "1 case(s) that passed in the run behind production (version 1) fail now: "
    )
    assert (forced["status"], forced["version"]) == ("done", 2)
    assert (version_2["forced"], version_2["force_reason"]) == (True, "refunds now go to a person")
    assert version_2["overridden"] == refused["reason"]
    assert "answer questions about refunds" in version_2["instructions"]

    assert promoted.status_code == 200, promoted.text
    assert on_v2["version"] == 2
    assert rolled_back.status_code == 200, rolled_back.text
    assert after_rollback["version"] == 1
    assert after_rollback["instructions"] == body["instructions"]
    assert "refunds" not in served_after_rollback
    assert [(m["from_version"], m["to_version"]) for m in history["items"]] == [
        (2, 1),
        (1, 2),
        (None, 1),
    ]
    assert history["items"][0]["reason"] == "refund complaints"
    assert [v["number"] for v in listed["items"]] == [2, 1]
    assert staging.status_code == 404
    assert diff["instructions"].startswith("--- v1\n+++ v2\n")
    assert any(
        line.startswith("+") and "refunds" in line for line in diff["instructions"].splitlines()
    )
    assert [(c["block"], c["change"]) for c in diff["spec"]] == [("constraints", "added")]


def test_a_deleted_agent_is_no_longer_served(stack: Stack) -> None:
    token = stack.new_token()
    with stack.client(token) as client:
        agent_id, compilation_id = compiled_agent(client, spec=SPEC_V1)
        publish(client, agent_id, compilation_id=compilation_id, force=True, reason="r",
                channel="production")  # fmt: skip
        served = published(client, agent_id)
        deleted = client.delete(f"/api/v1/agents/{agent_id}")
        after = eventually(
            lambda: published(client, agent_id),
            lambda response: response.status_code == 404,
            what="the deleted agent no longer served",
        )
    with pytest.raises(openai.NotFoundError):
        sdk(stack, token).chat.completions.create(
            model=f"agent:{agent_id}",
            messages=[{"role": "user", "content": "x"}],
            extra_body={"variables": {"company": "Acme"}},
        )
    assert served.status_code == 200
    assert deleted.status_code == 204
    assert after.status_code == 404


def test_a_provider_reply_that_is_not_a_chat_completion_is_a_502_naming_it(
    shared: tuple[Stack, FakeOpenAI],
) -> None:
    stack, fake = shared
    token = stack.new_token()
    with stack.client(token) as client:
        agent_id, compilation_id = compiled_agent(client, spec=SPEC_V1)
        publish(client, agent_id, compilation_id=compilation_id, force=True, reason="r",
                channel="production")  # fmt: skip
    fake.respond_raw(b"<html>502 Bad Gateway</html>", content_type="text/html")
    with pytest.raises(openai.APIStatusError) as caught:
        sdk(stack, token).chat.completions.create(
            model=f"agent:{agent_id}",
            messages=[{"role": "user", "content": "x"}],
            extra_body={"variables": {"company": "Acme"}},
        )
    assert caught.value.status_code == 502
    assert caught.value.code == "provider_invalid_output"
    assert "the provider's reply is not a chat completion" in caught.value.message


def test_ten_concurrent_publishes_are_numbered_one_to_ten(stack: Stack) -> None:
    token = stack.new_token()
    with stack.client(token) as client:
        agent_id, compilation_id = compiled_agent(client, spec=SPEC_V1)

    def one(_: int) -> dict[str, Any]:
        with stack.client(token) as client:
            return publish(
                client, agent_id, compilation_id=compilation_id, force=True, reason="hotfix"
            )

    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        outcomes = list(pool.map(one, range(10)))
    assert sorted(o["version"] for o in outcomes) == list(range(1, 11))
    assert {o["status"] for o in outcomes} == {"done"}


def test_bad_requests_are_refused_with_reasons(stack: Stack) -> None:
    token = stack.new_token()
    with stack.client(token) as client, stack.new_user() as other:
        agent_id, compilation_id = compiled_agent(client, spec=SPEC_V1)
        no_reason = client.post(
            f"/api/v1/agents/{agent_id}/versions",
            json={"compilation_id": compilation_id, "force": True},
        )
        no_run = publish(client, agent_id, compilation_id=compilation_id)
        no_version = client.put(
            f"/api/v1/agents/{agent_id}/channels/production", json={"version": 7}
        )
        bad_channel = client.put(f"/api/v1/agents/{agent_id}/channels/Prod!", json={"version": 1})
        strangers = [
            other.post(
                f"/api/v1/agents/{agent_id}/versions", json={"compilation_id": compilation_id}
            ),
            other.get(f"/api/v1/agents/{agent_id}/versions"),
            other.get(f"/api/v1/agents/{agent_id}/published"),
            other.put(f"/api/v1/agents/{agent_id}/channels/production", json={"version": 1}),
        ]
        nothing_published = published(client, agent_id)
    with pytest.raises(openai.NotFoundError) as unknown:
        sdk(stack, token).chat.completions.create(
            model=f"agent:{uuid.uuid4()}", messages=[{"role": "user", "content": "x"}]
        )
    with pytest.raises(openai.NotFoundError) as not_an_agent:
        sdk(stack, token).chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "x"}]
        )
    with pytest.raises(openai.BadRequestError) as unsupported:
        sdk(stack, token).chat.completions.create(
            model=f"agent:{agent_id}",
            messages=[{"role": "user", "content": "x"}],
            tools=[{"type": "function", "function": {"name": "f", "parameters": {}}}],
        )
    with pytest.raises(openai.AuthenticationError):
        sdk(stack, "sa_not_a_token").chat.completions.create(
            model=f"agent:{agent_id}", messages=[{"role": "user", "content": "x"}]
        )

    assert (no_reason.status_code, no_reason.json()["error"]["code"]) == (422, "reason_required")
    assert no_run["status"] == "refused"
    assert no_run["reason"] == "a publish must name a completed test run of its compilation"
    assert no_version.status_code == 409
    assert no_version.json()["reason"] == "version 7 does not exist"
    assert bad_channel.status_code == 422
    assert [r.status_code for r in strangers] == [404] * 4
    assert nothing_published.status_code == 404
    assert unknown.value.body["code"] == "model_not_found"  # type: ignore[index]
    assert "is not an agent" in not_an_agent.value.message
    assert "tools: not supported by agent endpoints" in unsupported.value.message


def test_serving_survives_the_publisher_and_publishes_wait_for_it(stack: Stack) -> None:
    token = stack.new_token()
    with stack.client(token) as client:
        agent_id, compilation_id = compiled_agent(client, spec=SPEC_V1)
        first = publish(
            client,
            agent_id,
            compilation_id=compilation_id,
            force=True,
            reason="first",
            channel="production",
        )
        stack.processes["publisher"].stop()
        try:
            read = published(client, agent_id)
            answer = sdk(stack, token).chat.completions.create(
                model=f"agent:{agent_id}",
                messages=[{"role": "user", "content": "still there?"}],
                extra_body={"variables": {"company": "Acme"}},
            )
            accepted = client.post(
                f"/api/v1/agents/{agent_id}/versions",
                json={"compilation_id": compilation_id, "force": True, "reason": "while down"},
            )
            request_url = f"/api/v1/agents/{agent_id}/publishes/{accepted.json()['id']}"
            while_down = client.get(request_url, params={"wait": 1}).json()
        finally:
            stack.start("publisher")
        after = client.get(request_url, params={"wait": 15}).json()

    assert first["version"] == 1
    assert (read.status_code, read.json()["version"]) == (200, 1)
    assert answer.choices[0].message.content == "Answer to: still there?"
    assert while_down["status"] == "pending"
    assert (after["status"], after["version"]) == ("done", 2)
