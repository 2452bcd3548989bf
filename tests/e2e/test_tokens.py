"""Personal API tokens managed through the API, and the audit log that records them, against a
real gateway process."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from gateway import auth
from gateway.users.repository import UserRepository
from runtime import db
from tests.support import infra
from tests.support.fixtures import PACKAGES, Stack
from tests.support.processes import ServiceProcess
from tests.support.waiting import eventually, ok_json

pytestmark = pytest.mark.e2e


def test_a_token_made_through_the_api_is_shown_once_and_works(stack: Stack) -> None:
    with stack.new_user() as owner:
        made = owner.post("/api/v1/tokens", json={"name": "ci", "expires_in_days": 30})

        assert made.status_code == 201, made.text
        created = made.json()
        assert created["token"].startswith(created["prefix"])
        assert created["expires_at"] is not None
        with stack.client(created["token"]) as ci:
            assert ci.get("/api/v1/agents").status_code == 200
        listed = eventually(
            lambda: owner.get("/api/v1/tokens"),
            ok_json(
                lambda body: any(t["last_used_at"] for t in body["items"] if t["name"] == "ci")
            ),
            what="the new token's last use",
        ).json()
        assert "token" not in str(listed)  # never the secret again
        assert created["token"] not in str(listed)
        assert {t["name"] for t in listed["items"]} == {"ci", "test"}


def test_revoking_a_token_through_the_api_refuses_it_at_once(stack: Stack) -> None:
    with stack.new_user() as owner:
        made = owner.post("/api/v1/tokens", json={"name": "laptop"}).json()
        with stack.client(made["token"]) as laptop:
            assert laptop.get("/api/v1/agents").status_code == 200  # now in the token cache

            assert owner.delete(f"/api/v1/tokens/{made['id']}").status_code == 204

            refused = laptop.get("/api/v1/agents")
            assert refused.status_code == 401
            assert refused.json()["error"]["code"] == "invalid_token"
        assert owner.delete(f"/api/v1/tokens/{made['id']}").status_code == 404
        assert [t["name"] for t in owner.get("/api/v1/tokens").json()["items"]] == ["test"]
        audit = owner.get("/api/v1/me/audit").json()["items"]
        assert [(e["action"], e["details"]["name"]) for e in audit] == [
            ("token_revoked", "laptop"),
            ("token_created", "laptop"),
        ]


def test_a_token_revoked_on_one_replica_is_refused_at_once_by_another(
    stack: Stack, tmp_path: Path
) -> None:
    port = infra.free_port()
    other = ServiceProcess(
        PACKAGES["gateway"],
        stack.env("gateway", GATEWAY_HTTP_PORT=str(port)),
        port,
        tmp_path,  # its own log
    ).start()
    try:
        with stack.new_user() as owner:
            made = owner.post("/api/v1/tokens", json={"name": "shared"}).json()
            headers = {"Authorization": f"Bearer {made['token']}"}
            with httpx.Client(base_url=other.url, headers=headers, timeout=10) as there:
                assert there.get("/api/v1/agents").status_code == 200  # cached on the other one

                assert owner.delete(f"/api/v1/tokens/{made['id']}").status_code == 204

                # The notice travels through PostgreSQL to the other replica: the wait is for it
                # to arrive, and the token is never accepted again once it is refused.
                eventually(
                    lambda: there.get("/api/v1/agents"),
                    lambda response: response.status_code == 401,
                    what="the other replica refusing the revoked token",
                )
    finally:
        other.stop()


def test_another_users_token_is_not_found_like_an_unknown_one(stack: Stack) -> None:
    with stack.new_user() as owner, stack.new_user() as stranger:
        made = owner.post("/api/v1/tokens", json={"name": "mine"}).json()

        foreign = stranger.delete(f"/api/v1/tokens/{made['id']}")
        unknown = stranger.delete(f"/api/v1/tokens/{uuid.uuid4()}")

        assert foreign.status_code == unknown.status_code == 404
        assert foreign.json()["error"]["code"] == unknown.json()["error"]["code"]
        assert "mine" not in str(stranger.get("/api/v1/tokens").json())
        assert stranger.get("/api/v1/me/audit").json()["items"] == []
        with stack.client(made["token"]) as still:
            assert still.get("/api/v1/agents").status_code == 200


def test_an_expired_token_is_refused(stack: Stack) -> None:
    token = asyncio.run(token_expired_at_creation(stack.database_url, f"e{uuid.uuid4().hex}@x.io"))

    with stack.client(token) as client:
        refused = client.get("/api/v1/agents")

    assert refused.status_code == 401
    assert "expired" in refused.json()["error"]["message"]


@pytest.mark.parametrize(
    "body", [{"name": ""}, {"name": "x", "expires_in_days": 0}, {"name": "x", "secret": "y"}]
)
def test_a_bad_token_request_names_what_is_wrong(stack: Stack, body: dict[str, object]) -> None:
    with stack.new_user() as owner:
        response = owner.post("/api/v1/tokens", json=body)

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"


def test_the_audit_log_pages_through_the_callers_own_entries(stack: Stack) -> None:
    with stack.new_user() as owner:
        for n in range(3):
            owner.post("/api/v1/tokens", json={"name": f"t{n}"})
        first = owner.get("/api/v1/me/audit", params={"limit": 2}).json()
        second = owner.get(
            "/api/v1/me/audit", params={"limit": 2, "cursor": first["next_cursor"]}
        ).json()

        names = [e["details"]["name"] for e in first["items"] + second["items"]]
        assert names == ["t2", "t1", "t0"]
        assert second["next_cursor"] is None
        bad = owner.get("/api/v1/me/audit", params={"cursor": "nope"})
        assert bad.status_code == 422
        assert bad.json()["error"]["code"] == "invalid_cursor"
    assert httpx.get(f"{stack.gateway_url}/api/v1/me/audit").status_code == 401


async def token_expired_at_creation(database_url: str, email: str) -> str:
    engine = db.create_engine(database_url, pool_size=1)
    token = auth.new_token()
    try:
        async with db.create_sessionmaker(engine).begin() as session:
            users = UserRepository(session)
            user_id = await users.get_or_add_by_email(email)
            await users.add_token(
                user_id,
                "expired",
                auth.hash_token(token),
                auth.display_prefix(token),
                timedelta(seconds=-1),
            )
    finally:
        await engine.dispose()
    return token
