"""A user's data as a whole, end to end: the export gathers it from every service, and the erasure
(a saga over NATS) leaves no row of it in any service's tables, also when a worker was down."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from contracts.publishing import published_bucket
from tests.e2e.test_identity import csrf_headers, mailed_link, sign_in
from tests.e2e.test_publishing import CASES, SPEC_V1, completed_run, publish, replies
from tests.e2e.test_test_runs import compiled_agent, import_cases, provider_env
from tests.support import infra
from tests.support.fake_openai import running_fake_openai
from tests.support.fixtures import Stack
from tests.support.waiting import eventually, ok_json

pytestmark = pytest.mark.e2e

SCHEMAS = ("gateway", "compiler", "test_runner", "publisher")

# Every column that names a user or something of theirs, and what it names.
NAMING = {
    "user_id": "user",
    "owner_id": "user",
    "author_id": "user",
    "published_by": "user",
    "moved_by": "user",
    "agent_id": "agent",
    "run_id": "run",
    "compilation_id": "compilation",
}
# The tables holding such a column: the erasure must cover each one. A new table with such a
# column fails `test_every_table_naming_a_user_is_known` until it is added here, with its erasure.
COVERED = {
    ("gateway", "api_tokens"),
    ("gateway", "sessions"),
    ("gateway", "audit_log"),
    ("gateway", "agents"),
    ("gateway", "specs"),
    ("gateway", "spec_revisions"),
    ("gateway", "test_cases"),
    ("gateway", "compilations"),
    ("gateway", "test_runs"),
    ("gateway", "publishes"),
    ("compiler", "compilations"),
    ("test_runner", "runs"),
    ("test_runner", "run_cases"),
    ("test_runner", "results"),
    ("publisher", "run_outcomes"),
    ("publisher", "versions"),
    ("publisher", "channel_history"),
    ("publisher", "channels"),
}
# What an erasure keeps on purpose, the user's id alone (it names no one any more): the erasure's
# record, and each worker's list of erased owners, so their late messages write nothing back.
KEPT = {
    ("gateway", "erasures", "user_id"),
    ("compiler", "erased_owners", "owner_id"),
    ("test_runner", "erased_owners", "owner_id"),
    ("publisher", "erased_owners", "owner_id"),
}


@dataclass
class Owned:
    """A user's token and ids of what they made."""

    token: str
    user_id: uuid.UUID
    agent_id: str
    compilation_id: str
    run_id: str
    address: str


@pytest.fixture(scope="module")
def stack(
    postgres_url: str, nats_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    with running_fake_openai() as fake, infra.fresh_database(postgres_url) as url:
        fake.reply_with(replies)
        infra.migrate_all(url)
        root = infra.new_root()
        stack = Stack(url, nats_url, root, tmp_path_factory.mktemp("logs"), provider_env(fake))
        try:
            for service in ("compiler", "test-runner", "publisher", "gateway"):
                stack.start(service)
            yield stack
        finally:
            stack.stop_all()
            infra.delete_streams(nats_url, root)


def user_with_everything(stack: Stack) -> Owned:
    """Signed in by mail (a session, audit entries, a link asked for and not used), with an API
    token and an agent with a spec, cases, a compilation, a run, a version on two channels."""
    address = f"p{uuid.uuid4().hex[:12]}@example.com"
    with sign_in(stack, address) as browser:
        made = browser.post("/api/v1/tokens", json={"name": "p"}, headers=csrf_headers(browser))
        assert made.status_code == 201, made.text
        token = made.json()["token"]
    mailed_link(stack, address)
    with stack.client(token) as client:
        agent_id, compilation_id = compiled_agent(client, spec=SPEC_V1)
        import_cases(client, agent_id, CASES)
        run = completed_run(client, agent_id, compilation_id)
        done = publish(
            client,
            agent_id,
            compilation_id=compilation_id,
            test_run_id=run["id"],
            channel="production",
        )
        assert done["status"] == "done", done
        moved = client.put(f"/api/v1/agents/{agent_id}/channels/staging", json={"version": 1})
        assert moved.status_code == 200, moved.text
    (user_id,) = list(
        infra.query(
            stack.database_url, "SELECT owner_id FROM gateway.agents WHERE id = :a", a=agent_id
        )[0]
    )
    assert isinstance(user_id, uuid.UUID)
    return Owned(token, user_id, agent_id, compilation_id, run["id"], address)


def count_of(stack: Stack, sql: str, **params: object) -> int:
    (value,) = list(infra.query(stack.database_url, sql, **params)[0])
    assert isinstance(value, int)
    return value


def chat(stack: Stack, token: str, agent_id: str) -> httpx.Response:
    return httpx.post(
        f"{stack.gateway_url}/v1/chat/completions",
        headers={"Authorization": f"Bearer {token}"},
        json={
            "model": f"agent:{agent_id}",
            "messages": [{"role": "user", "content": "hello"}],
            "variables": {"company": "Acme"},
        },
        timeout=10,
    )


def naming_columns(stack: Stack) -> list[tuple[str, str, str]]:
    rows = infra.query(
        stack.database_url,
        "SELECT table_schema, table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = ANY(:schemas) AND column_name = ANY(:names) "
        "ORDER BY table_schema, table_name, column_name",
        schemas=list(SCHEMAS),
        names=list(NAMING),
    )
    return [(str(schema), str(table), str(column)) for schema, table, column in map(list, rows)]


def rows_naming(stack: Stack, owned: Owned) -> dict[str, int]:
    """Per `schema.table.column`, the rows that still name the user or something of theirs."""
    ids = {
        "user": str(owned.user_id),
        "agent": owned.agent_id,
        "run": owned.run_id,
        "compilation": owned.compilation_id,
    }
    found: dict[str, int] = {}
    for schema, table, column in naming_columns(stack):
        if (schema, table, column) in KEPT:
            continue
        found[f"{schema}.{table}.{column}"] = count_of(
            stack,
            f'SELECT count(*) FROM "{schema}"."{table}" WHERE "{column}"::text = :id',
            id=ids[NAMING[column]],
        )
    found["gateway.users.id"] = count_of(
        stack, "SELECT count(*) FROM gateway.users WHERE id = :u", u=owned.user_id
    )
    for table, column in (
        ("users", "email"),
        ("sign_in_links", "email"),
        ("mail_outbox", "recipient"),
    ):
        found[f"gateway.{table}.{column}"] = count_of(
            stack, f"SELECT count(*) FROM gateway.{table} WHERE {column} = :a", a=owned.address
        )
    return found


def published_keys(stack: Stack, agent_id: str) -> list[str]:
    keys = infra.bucket_keys(stack.nats_url, published_bucket(stack.root))
    return [k for k in keys if agent_id in k]


def status(stack: Stack, accepted: dict[str, Any], until: Any) -> dict[str, Any]:
    response = eventually(
        lambda: httpx.get(
            stack.gateway_url + accepted["status_url"],
            headers={"Authorization": f"Bearer {accepted['status_token']}"},
            timeout=10,
        ),
        ok_json(until),
        timeout=30,
        what="the erasure's status",
    )
    body: dict[str, Any] = response.json()
    return body


def erase(stack: Stack, token: str) -> dict[str, Any]:
    response = httpx.delete(
        f"{stack.gateway_url}/api/v1/me", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 202, response.text
    assert response.headers["location"] == response.json()["status_url"]
    body: dict[str, Any] = response.json()
    return body


def test_every_table_naming_a_user_is_known(stack: Stack) -> None:
    tables = {(schema, table) for schema, table, column in naming_columns(stack)}
    kept = {(schema, table) for schema, table, _ in KEPT}

    assert tables - kept == COVERED


def test_the_export_holds_everything_of_the_user_from_every_service(stack: Stack) -> None:
    owned, other = user_with_everything(stack), user_with_everything(stack)

    with stack.client(owned.token) as client:
        response = client.get("/api/v1/me/export")

    assert response.status_code == 200, response.text
    assert response.headers["content-disposition"].startswith("attachment;")
    document = response.json()
    assert document["schema_version"] == 1
    assert document["user"]["id"] == str(owned.user_id)
    assert [set(t) for t in document["api_tokens"]] == [
        {"id", "name", "token_prefix", "created_at", "revoked_at"}
    ]
    (agent,) = document["agents"]  # the other user's agent is not in it
    assert agent["agent"]["id"] == owned.agent_id
    assert agent["spec"]["blocks"]["persona"] == SPEC_V1["persona"]
    assert [r["revision"] for r in agent["spec_revisions"]] == [1]
    assert sorted(c["description"] for c in agent["test_cases"]) == ["greets", "refunds"]
    assert [c["id"] for c in agent["compilations"]] == [owned.compilation_id]
    assert agent["compilations"][0]["instructions"]
    (stored,) = agent["compiler_compilations"]  # from the compiler
    assert stored["compilation_id"] == owned.compilation_id
    assert stored["instructions"] == agent["compilations"][0]["instructions"]
    (run,) = agent["test_runs"]
    assert (run["view"]["id"], run["summary"]["status"]) == (owned.run_id, "completed")
    assert sorted(r["description"] for r in run["results"]) == ["greets", "refunds"]  # test-runner
    assert all(r["output"] for r in run["results"])
    assert sorted(p["kind"] for p in agent["publish_requests"]) == ["move", "publish"]
    (version,) = agent["versions"]  # from the publisher
    assert (version["number"], version["test_run_id"]) == (1, owned.run_id)
    assert version["instructions"]
    assert sorted(m["channel"] for m in agent["channel_history"]) == ["production", "staging"]
    assert other.agent_id not in response.text


def test_an_erasure_leaves_nothing_of_the_user_in_any_service(stack: Stack) -> None:
    owned, other = user_with_everything(stack), user_with_everything(stack)
    assert chat(stack, owned.token, owned.agent_id).status_code == 200
    assert published_keys(stack, owned.agent_id)
    before = rows_naming(stack, other)
    had = rows_naming(stack, owned)
    assert had["gateway.sign_in_links.email"] == 2
    assert had["gateway.sessions.user_id"] == 1
    assert had["gateway.audit_log.user_id"] == 3  # signed in, made a token, imported cases

    accepted = erase(stack, owned.token)

    assert accepted["status"] == "erasing"
    assert accepted["status_token"].startswith("ers_")
    # The user's tokens stop working at once, on every route.
    assert chat(stack, owned.token, owned.agent_id).status_code == 401
    again = httpx.delete(
        f"{stack.gateway_url}/api/v1/me", headers={"Authorization": f"Bearer {owned.token}"}
    )
    assert again.status_code == 401
    done = status(stack, accepted, lambda body: body["status"] == "completed")
    assert done["completed_at"] is not None
    assert [(s["service"], s["erased_parts"], s["parts"]) for s in done["services"]] == [
        ("compiler", 1, 1),
        ("test-runner", 1, 1),
        ("publisher", 1, 1),
    ]
    assert all(s["completed_at"] for s in done["services"])
    left = rows_naming(stack, owned)
    assert {k: v for k, v in left.items() if v} == {}
    assert published_keys(stack, owned.agent_id) == []  # no longer served by any replica
    # The other user's data is untouched, and still served.
    assert rows_naming(stack, other) == before
    assert published_keys(stack, other.agent_id)
    assert chat(stack, other.token, other.agent_id).status_code == 200


def test_the_erasure_status_needs_its_token(stack: Stack) -> None:
    accepted = erase(stack, stack.new_token())
    url = stack.gateway_url + accepted["status_url"]

    wrong = httpx.get(url, headers={"Authorization": "Bearer ers_not-it"})
    missing = httpx.get(url)
    unknown = httpx.get(
        f"{stack.gateway_url}/api/v1/erasures/{uuid.uuid4()}",
        headers={"Authorization": f"Bearer {accepted['status_token']}"},
    )

    assert [r.status_code for r in (wrong, missing, unknown)] == [404, 404, 404]
    assert wrong.json()["error"]["code"] == "not_found"
    assert wrong.json()["error"] == {
        **wrong.json()["error"],
        "message": wrong.json()["error"]["message"],
    }


def test_an_erasure_completes_when_a_stopped_worker_comes_back(stack: Stack) -> None:
    owned = user_with_everything(stack)
    stack.processes["publisher"].stop()
    try:
        accepted = erase(stack, owned.token)
        waiting = status(
            stack,
            accepted,
            lambda body: [s["erased_parts"] for s in body["services"]] == [1, 1, 0],
        )
        assert (waiting["status"], waiting["completed_at"]) == ("erasing", None)
        assert rows_naming(stack, owned)["publisher.versions.agent_id"] == 1
    finally:
        stack.start("publisher")

    done = status(stack, accepted, lambda body: body["status"] == "completed")

    assert [s["erased_parts"] for s in done["services"]] == [1, 1, 1]
    assert {k: v for k, v in rows_naming(stack, owned).items() if v} == {}
    assert published_keys(stack, owned.agent_id) == []


def test_the_privacy_routes_are_in_the_openapi_document(stack: Stack) -> None:
    paths = httpx.get(f"{stack.gateway_url}/openapi.json").json()["paths"]

    assert set(paths["/api/v1/me"]) == {"get", "delete"}
    assert set(paths["/api/v1/me/export"]) == {"get"}
    assert set(paths["/api/v1/erasures/{erasure_id}"]) == {"get"}
