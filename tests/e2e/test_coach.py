"""The spec coach through the gateway, NATS and the compiler, to the AI provider and back."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from contracts.spec import SpecBlocks
from tests.support.fake_openai import FakeOpenAI
from tests.support.fixtures import Stack
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e


def test_the_offline_coach_drafts_a_valid_block_and_saves_nothing(stack: Stack) -> None:
    blocks = {"mission": {"problem": "Help small shops answer questions about their invoices"}}
    with stack.new_user() as client:
        agent_id = client.post("/api/v1/agents", json={"name": "Coached"}).json()["id"]
        client.put(f"/api/v1/agents/{agent_id}/spec", json={"blocks": blocks})
        drafted = client.post(
            f"/api/v1/agents/{agent_id}/spec/coach",
            json={"block": "workflow", "guidance": "three steps"},
        )
        spec = client.get(f"/api/v1/agents/{agent_id}/spec").json()
    assert drafted.status_code == 200, drafted.text
    body = drafted.json()
    assert (body["status"], body["block"], body["offline"], body["provider"]) == (
        "drafted",
        "workflow",
        True,
        "offline",
    )
    assert body["message"] == "offline draft: written from the spec without an AI model"
    assert body["draft"]["steps"][0] == "Follow the author's guidance: three steps"
    assert SpecBlocks.model_validate({"workflow": body["draft"]}).workflow is not None
    assert (spec["revision"], spec["blocks"]) == (1, blocks)


def test_coaching_another_users_agent_is_not_found(stack: Stack) -> None:
    with stack.new_user() as alice, stack.new_user() as bob:
        agent_id = alice.post("/api/v1/agents", json={"name": "Private"}).json()["id"]
        response = bob.post(f"/api/v1/agents/{agent_id}/spec/coach", json={"block": "persona"})
    assert response.status_code == 404


def test_an_unknown_block_is_refused_naming_it(stack: Stack) -> None:
    with stack.new_user() as client:
        agent_id = client.post("/api/v1/agents", json={"name": "x"}).json()["id"]
        response = client.post(f"/api/v1/agents/{agent_id}/spec/coach", json={"block": "colour"})
    assert response.status_code == 422
    assert response.json()["error"]["message"].startswith("block: ")


DRAFT = {"draft": {"steps": ["Find the invoice", "Explain the charge", "Offer the next step"]}}


def provider_env(fake: FakeOpenAI, **settings: str) -> dict[str, str]:
    return {
        "AI_PROVIDER": "openai",
        "OPENAI_API_KEY": "sk-test",
        "OPENAI_BASE_URL": fake.base_url,
        "AI_MODEL": "gpt-4o-mini",
        "AI_RETRY_MAX_WAIT_SECONDS": "2",
        **settings,
    }


def coach(client: httpx.Client, agent_id: str) -> httpx.Response:
    return client.post(f"/api/v1/agents/{agent_id}/spec/coach", json={"block": "workflow"})


def test_a_rate_limited_provider_is_retried_after_its_retry_after(
    isolated_stack: Callable[..., Stack], fake_openai: FakeOpenAI
) -> None:
    stack = isolated_stack(**provider_env(fake_openai, AI_MAX_ATTEMPTS="3"))
    stack.start("compiler")
    stack.start("gateway")
    fake_openai.fail(429, headers={"Retry-After": "1"})
    fake_openai.reply_with(json.dumps(DRAFT))
    with stack.new_user() as client:
        agent_id = client.post("/api/v1/agents", json={"name": "Coached"}).json()["id"]
        response = coach(client, agent_id)
    assert response.status_code == 200, response.text
    assert (response.json()["draft"], response.json()["offline"]) == (DRAFT["draft"], False)
    first, second = fake_openai.chat_requests
    assert second.at - first.at >= 0.9  # the Retry-After was honoured
    # The real openai SDK sent the coach's prompt with a structured-output schema.
    assert second.body["response_format"]["type"] == "json_schema"
    assert second.messages[0]["role"] == "system"


def test_five_failures_open_the_breaker_the_coach_degrades_then_recovers(
    isolated_stack: Callable[..., Stack], fake_openai: FakeOpenAI
) -> None:
    stack = isolated_stack(
        **provider_env(fake_openai, AI_MAX_ATTEMPTS="1", AI_BREAKER_RESET_SECONDS="2")
    )
    stack.start("compiler")
    stack.start("gateway")
    fake_openai.fail(500, times=5)
    fake_openai.reply_with(json.dumps(DRAFT))
    with stack.new_user() as client:
        agent_id = client.post("/api/v1/agents", json={"name": "Coached"}).json()["id"]
        failing = [coach(client, agent_id) for _ in range(5)]
        reached = len(fake_openai.chat_requests)
        while_open = coach(client, agent_id)
        after_open = len(fake_openai.chat_requests)
        # Once the breaker's reset timeout passes, it lets one probe through, which succeeds.
        recovered = eventually(
            lambda: coach(client, agent_id),
            lambda response: response.status_code != 503,
            interval=0.2,
            what="the coach recovering",
        )

    assert [r.status_code for r in failing] == [503] * 5
    assert failing[0].json()["error"]["code"] == "coach_unavailable"
    assert failing[0].json()["error"]["message"].startswith("coach unavailable, edit manually: ")
    assert (reached, after_open) == (5, 5)  # the open breaker answered without calling the provider
    assert while_open.status_code == 503
    assert 1 <= int(while_open.headers["retry-after"]) <= 2
    assert recovered.status_code == 200, recovered.text
    assert recovered.json()["draft"] == DRAFT["draft"]
    assert len(fake_openai.chat_requests) == 6
