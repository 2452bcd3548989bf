"""Export and import end to end: an import recreates an agent's history for reading, labelled as
imported by its importer, and serves none of it until a channel is moved to it here with force."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import openai
import pytest

from tests.e2e.test_publishing import (
    CASES,
    SPEC_V1,
    completed_run,
    publish,
    published,
    sdk,
    shared,
    stack,
)
from tests.e2e.test_test_runs import compiled_agent, import_cases
from tests.support.fixtures import Stack
from tests.support.waiting import eventually, ok_json

pytestmark = pytest.mark.e2e
__all__ = ["shared", "stack"]  # the publishing stack, started once for this module too

FORGED_AT = "2001-01-01T00:00:00Z"


def exported_agent(stack: Stack, client: httpx.Client) -> tuple[str, dict[str, Any]]:
    """An agent with two versions (one judged by a run, one forced) and three channel moves."""
    agent_id, compilation_id = compiled_agent(client, spec=SPEC_V1)
    import_cases(client, agent_id, CASES)
    run = completed_run(client, agent_id, compilation_id)
    publish(client, agent_id, compilation_id=compilation_id, test_run_id=run["id"],
            channel="staging", notes="first")  # fmt: skip
    publish(client, agent_id, compilation_id=compilation_id, force=True, reason="again",
            channel="production")  # fmt: skip
    client.put(f"/api/v1/agents/{agent_id}/channels/production", json={"version": 1})
    exported = client.get(f"/api/v1/agents/{agent_id}/export")
    assert exported.status_code == 200, exported.text
    return agent_id, exported.json()


def imported_agent(client: httpx.Client, document: dict[str, Any]) -> str:
    imported = client.post("/api/v1/agents/import", json=document)
    assert imported.status_code == 201, imported.text
    request = imported.json()["versions_import"]
    assert (request["kind"], request["status"]) == ("import", "pending")
    copy_id = str(imported.json()["id"])
    done = client.get(f"/api/v1/agents/{copy_id}/publishes/{request['id']}", params={"wait": 8})
    assert done.json()["status"] == "done", done.text
    return copy_id


def me(stack: Stack, token: str) -> str:
    """The user a token belongs to, as the API records an author: the author of a new agent's
    first spec revision."""
    with stack.client(token) as client:
        agent = client.post("/api/v1/agents", json={"name": "Who am I"}).json()
        client.put(f"/api/v1/agents/{agent['id']}/spec", json={"blocks": SPEC_V1})
        revision = client.get(f"/api/v1/agents/{agent['id']}/spec/revisions/1").json()
    return str(revision["author_id"])


def test_imported_history_is_labelled_and_names_the_importer_as_its_author(stack: Stack) -> None:
    author, importer = stack.new_token(), stack.new_token()
    with stack.client(author) as client:
        agent_id, document = exported_agent(stack, client)
    real_run = document["versions"][0]["test_run_id"]
    forger = str(uuid.uuid4())
    document["versions"][0].update(published_by=forger, published_at=FORGED_AT,
                                   test_run_id=str(uuid.uuid4()))  # fmt: skip
    document["channel_history"][0].update(moved_by=forger, moved_at=FORGED_AT)
    with stack.client(importer) as client:
        copy_id = imported_agent(client, document)
        versions = client.get(f"/api/v1/agents/{copy_id}/versions").json()["items"]
        history = eventually(
            lambda: client.get(f"/api/v1/agents/{copy_id}/channels/production/history"),
            ok_json(lambda h: len(h["items"]) == 2),
            what="the copy's channel history",
        ).json()["items"]
        staging = client.get(f"/api/v1/agents/{copy_id}/channels/staging/history").json()
    importer_id, author_id = me(stack, importer), me(stack, author)

    assert real_run is not None
    assert [v["number"] for v in versions] == [2, 1]
    for version in versions:
        assert version["published_by"] == importer_id
        assert version["test_run_id"] is None
        assert version["forced"] is False
        assert version["imported"]["imported_by"] == importer_id
        assert version["published_at"] == version["imported"]["imported_at"]
    first, second = versions[1]["imported"], versions[0]["imported"]
    assert first["claimed_published_by"] == forger
    assert first["claimed_published_at"].startswith("2001-01-01")
    assert (second["claimed_published_by"], second["claimed_forced"]) == (author_id, True)
    assert second["claimed_force_reason"] == "again"
    assert [(m["to_version"], m["moved_by"], m["forced"]) for m in history] == [
        (1, importer_id, False),
        (2, importer_id, False),
    ]
    (entry,) = staging["items"]
    assert entry["imported"]["claimed_moved_by"] == forger
    assert entry["imported"]["claimed_moved_at"].startswith("2001-01-01")
    assert entry["moved_by"] == importer_id
    assert agent_id != copy_id


def chat(stack: Stack, token: str, model: str) -> str:
    answer = sdk(stack, token).chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "hello"}],
        extra_body={"variables": {"company": "Acme"}},
    )
    return str(answer.choices[0].message.content)


def refused_chats(stack: Stack, token: str, copy_id: str) -> list[str]:
    """The models of the copy that the OpenAI-compatible endpoint does not serve."""
    refused = []
    for model in (f"agent:{copy_id}", f"agent:{copy_id}@staging", f"agent:{copy_id}@v1"):
        try:
            chat(stack, token, model)
        except openai.NotFoundError:
            refused.append(model)
    return refused


def test_an_imported_agent_is_not_served_until_a_forced_move(stack: Stack) -> None:
    token = stack.new_token()
    with stack.client(token) as client:
        _agent_id, document = exported_agent(stack, client)
        copy_id = imported_agent(client, document)
        production = f"/api/v1/agents/{copy_id}/channels/production"
        not_served = [published(client, copy_id), published(client, copy_id, version=1)]
        chats_before = refused_chats(stack, token, copy_id)
        refused = client.put(production, json={"version": 1})
        no_reason = client.put(production, json={"version": 1, "force": True})
        forced = client.put(
            production, json={"version": 1, "force": True, "reason": "reviewed the instructions"}
        )
        served = published(client, copy_id)
        history = client.get(f"{production}/history").json()["items"]
        audit = client.get("/api/v1/me/audit").json()["items"]
        answer = chat(stack, token, f"agent:{copy_id}")
        chats_after = refused_chats(stack, token, copy_id)

    assert [r.status_code for r in not_served] == [404, 404]
    assert len(chats_before) == 3
    assert refused.status_code == 409, refused.text
    assert refused.json()["status"] == "refused"
    assert "imported" in refused.json()["reason"]
    assert "force" in refused.json()["reason"]
    assert no_reason.status_code == 422, no_reason.text
    assert no_reason.json()["error"]["code"] == "reason_required"
    assert forced.status_code == 200, forced.text
    assert served.status_code == 200
    assert served.json()["version"] == 1
    assert (history[0]["forced"], history[0]["reason"]) == (True, "reviewed the instructions")
    # Newest first: the forced move (the refused one without a reason is not recorded), the
    # import, and the forced publish of the exported agent.
    forced_move, imported, forced_publish = audit[:3]
    assert (forced_move["action"], forced_move["details"]["reason"]) == (
        "channel_move_forced",
        "reviewed the instructions",
    )
    assert (forced_move["details"]["agent_id"], forced_move["details"]["version"]) == (copy_id, 1)
    assert imported["action"] == "agent_imported"
    assert imported["details"] == {"agent_id": copy_id, "versions": 2}
    assert (forced_publish["action"], forced_publish["details"]["reason"]) == (
        "publish_forced",
        "again",
    )
    assert answer.startswith("Answer to: hello")
    # Only what was moved here is served: staging still points at nothing in this installation.
    assert chats_after == [f"agent:{copy_id}@staging"]


def compiled(client: httpx.Client, agent_id: str) -> str:
    """A compilation of the agent's current spec, here."""
    compilation_id = client.post(f"/api/v1/agents/{agent_id}/compilations").json()["id"]
    done = client.get(f"/api/v1/agents/{agent_id}/compilations/{compilation_id}?wait=10").json()
    assert done["status"] == "succeeded", done
    return str(compilation_id)


def test_a_passing_run_here_of_the_same_instructions_serves_an_import_without_force(
    stack: Stack,
) -> None:
    token = stack.new_token()
    with stack.client(token) as client:
        _agent_id, document = exported_agent(stack, client)
        forged = {**document, "versions": [dict(v) for v in document["versions"]]}
        forged["versions"][0]["instructions"] = "Instructions no spec of this agent compiles to."
        honest_id, forged_id = imported_agent(client, document), imported_agent(client, forged)
        moves, runs = [], []
        for copy_id in (honest_id, forged_id):
            # Its own spec compiles here to instructions that a run then tests.
            run = completed_run(client, copy_id, compiled(client, copy_id))
            runs.append(run["id"])
            moves.append(
                client.put(
                    f"/api/v1/agents/{copy_id}/channels/production",
                    json={"version": 1, "test_run_id": run["id"], "reason": "tested here"},
                )
            )
        history = client.get(f"/api/v1/agents/{honest_id}/channels/production/history").json()
        served = published(client, honest_id)
    answer = chat(stack, token, f"agent:{honest_id}")
    honest, forgery = moves

    assert honest.status_code == 200, honest.text
    latest = history["items"][0]
    assert (latest["forced"], latest["test_run_id"]) == (False, runs[0])
    assert served.status_code == 200
    assert answer.startswith("Answer to: hello")
    assert forgery.status_code == 409, forgery.text
    assert "tested other instructions" in forgery.json()["reason"]
    assert refused_chats(stack, token, forged_id) == [
        f"agent:{forged_id}",
        f"agent:{forged_id}@staging",
        f"agent:{forged_id}@v1",
    ]
