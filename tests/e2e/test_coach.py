"""The spec coach through the gateway, NATS and the compiler, to the AI provider and back."""

from __future__ import annotations

import pytest

from contracts.spec import SpecBlocks
from tests.support.fixtures import Stack

pytestmark = pytest.mark.e2e


def test_the_offline_coach_drafts_a_valid_block_and_saves_nothing(stack: Stack) -> None:
    blocks = {"mission": {"problem": "Help small shops answer questions about their invoices"}}
    with stack.client() as client:
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
    assert body["message"] == "offline draft: written without an AI model"
    assert SpecBlocks.model_validate({"workflow": body["draft"]}).workflow is not None
    assert (spec["revision"], spec["blocks"]) == (1, blocks)


def test_coaching_another_users_agent_is_not_found(stack: Stack) -> None:
    with stack.client() as alice, stack.client() as bob:
        agent_id = alice.post("/api/v1/agents", json={"name": "Private"}).json()["id"]
        response = bob.post(f"/api/v1/agents/{agent_id}/spec/coach", json={"block": "persona"})
    assert response.status_code == 404


def test_an_unknown_block_is_refused_naming_it(stack: Stack) -> None:
    with stack.client() as client:
        agent_id = client.post("/api/v1/agents", json={"name": "x"}).json()["id"]
        response = client.post(f"/api/v1/agents/{agent_id}/spec/coach", json={"block": "colour"})
    assert response.status_code == 422
    assert response.json()["error"]["message"].startswith("block: ")
