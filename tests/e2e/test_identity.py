"""Signing in by mailed link, sessions and their CSRF protection, against a real gateway process and
a real SMTP server (the mail is read from it)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from http.cookies import SimpleCookie

import httpx
import pytest

from gateway import auth
from runtime import db
from tests.support.fixtures import Stack
from tests.support.mail import MailServer, link_in, shared_server
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e

COOKIE = "studio_session"


def new_address() -> str:
    return f"s{uuid.uuid4().hex[:12]}@example.com"


def mailed_link(stack: Stack, address: str, server: MailServer | None = None) -> str:
    """Ask for a link for `address` and read it from the mail that arrives."""
    mail = server or shared_server()
    before = len(mail.messages_to(address))
    response = httpx.post(f"{stack.gateway_url}/api/v1/auth/magic-link", json={"email": address})
    assert response.status_code == 202, response.text
    return link_in(mail.wait_for(address, before + 1)[-1])


def use_link(link: str, **headers: str) -> httpx.Response:
    """What the button of the link's page does: POST the link."""
    return httpx.post(link, headers=headers)


def session_cookie(response: httpx.Response) -> SimpleCookie:
    cookie = SimpleCookie()
    cookie.load(response.headers["set-cookie"])
    return cookie


def session_client(stack: Stack, secret: str) -> httpx.Client:
    # Set by hand: the cookie is Secure (STUDIO_ENV=test) and the test gateway speaks plain HTTP.
    return httpx.Client(
        base_url=stack.gateway_url, headers={"Cookie": f"{COOKIE}={secret}"}, timeout=10
    )


def sign_in(stack: Stack, address: str | None = None) -> httpx.Client:
    response = use_link(mailed_link(stack, address or new_address()))
    assert response.status_code == 303, response.text
    return session_client(stack, session_cookie(response)[COOKIE].value)


def csrf_headers(client: httpx.Client) -> dict[str, str]:
    me = client.get("/api/v1/me")
    assert me.status_code == 200, me.text
    return {"X-CSRF-Token": me.json()["session"]["csrf_token"]}


def actions(client: httpx.Client) -> list[str]:
    response = client.get("/api/v1/me/audit")
    assert response.status_code == 200, response.text
    return [entry["action"] for entry in response.json()["items"]]


def test_asking_for_a_link_answers_the_same_for_known_and_unknown_addresses(stack: Stack) -> None:
    known = new_address()
    stack.new_token(known)

    answers = [
        httpx.post(f"{stack.gateway_url}/api/v1/auth/magic-link", json={"email": address})
        for address in (known, new_address())
    ]

    assert [a.status_code for a in answers] == [202, 202]
    assert answers[0].json() == answers[1].json()
    bad = httpx.post(f"{stack.gateway_url}/api/v1/auth/magic-link", json={"email": "nope"})
    assert bad.status_code == 422
    assert bad.json()["error"]["problems"][0]["field"] == "email"


def test_a_mailed_link_signs_in_a_new_address_with_a_strict_session_cookie(stack: Stack) -> None:
    address = new_address()
    link = mailed_link(stack, address)
    assert link.startswith(f"{stack.gateway_url}/auth/callback?token=")

    page = httpx.get(link)  # what a link prefetcher does: it must not use the link up
    assert page.status_code == 200
    assert 'method=post action="/auth/callback?token=' in page.text
    response = use_link(link)

    assert response.status_code == 303
    assert response.headers["location"] == "/"
    morsel = session_cookie(response)[COOKIE]
    assert morsel["httponly"] is True
    assert morsel["secure"] is True  # outside development
    assert morsel["samesite"] == "lax"
    assert morsel["path"] == "/"
    with session_client(stack, morsel.value) as client:
        me = client.get("/api/v1/me").json()
        assert me["email"] == address
        assert me["authenticated_by"] == "session"
        assert me["session"]["idle_timeout_minutes"] == 30
        assert actions(client) == ["sign_in"]
    secret = link.split("token=")[1]
    assert (
        secret not in stack.processes["gateway"].log_text()
    )  # links are logged in development only


def test_the_links_page_shows_what_it_was_given_as_text_only(stack: Stack) -> None:
    page = httpx.get(
        f"{stack.gateway_url}/auth/callback", params={"token": '"><script>alert(1)</script>'}
    )

    assert page.status_code == 200
    assert "<script>" not in page.text
    assert page.headers["cache-control"] == "no-store"
    # Under no-referrer a browser would post the form with `Origin: null`, which is refused.
    assert page.headers["referrer-policy"] == "same-origin"
    assert "content=same-origin" in page.text


def test_the_sign_in_mail_names_its_sender_subject_and_lifetime(stack: Stack) -> None:
    address = new_address()
    mailed_link(stack, address)

    (message,) = shared_server().messages_to(address)

    assert message["From"] == "Agent Studio <no-reply@localhost>"
    assert message["Subject"] == "Your Agent Studio sign-in link"
    assert "within 15 minutes" in message.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def test_a_link_works_once_and_a_second_use_is_recorded(stack: Stack) -> None:
    address = new_address()
    link = mailed_link(stack, address)
    assert use_link(link).status_code == 303

    again = use_link(link)

    assert again.status_code == 400
    assert again.json()["error"]["code"] == "invalid_link"
    assert "used" in again.json()["error"]["message"]
    with sign_in(stack, address) as client:
        assert actions(client) == ["sign_in", "sign_in_failed", "sign_in"]
        failed = client.get("/api/v1/me/audit").json()["items"][1]
        assert failed["details"] == {"reason": "used"}
        assert failed["ip"] == "127.0.0.1"
        assert failed["user_agent"].startswith("python-httpx")


def test_an_expired_or_made_up_link_is_refused(stack: Stack) -> None:
    address = new_address()
    link = mailed_link(stack, address)
    asyncio.run(expire_link(stack.database_url, link.split("token=")[1]))

    expired = use_link(link)
    made_up = use_link(f"{stack.gateway_url}/auth/callback?token={auth.new_secret()}")

    assert (expired.status_code, made_up.status_code) == (400, 400)
    assert "expired" in expired.json()["error"]["message"]
    assert "unknown" in made_up.json()["error"]["message"]
    assert "set-cookie" not in expired.headers


def test_a_refused_link_opened_in_a_browser_leads_to_the_sign_in_page_saying_why(
    stack: Stack,
) -> None:
    link = mailed_link(stack, new_address())
    assert use_link(link).status_code == 303

    html = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    used = use_link(link, **html)
    made_up = use_link(f"{stack.gateway_url}/auth/callback?token={auth.new_secret()}", **html)

    assert (used.status_code, used.headers["location"]) == (303, "/sign-in?link=used")
    assert made_up.headers["location"] == "/sign-in?link=unknown"
    assert "set-cookie" not in used.headers


def test_a_sign_in_posted_from_another_site_is_refused(stack: Stack) -> None:
    link = mailed_link(stack, new_address())

    response = use_link(link, Origin="https://evil.example")

    assert response.status_code == 403
    assert use_link(link).status_code == 303  # the link was not used up by the refusal


def test_a_cookie_write_needs_the_csrf_token_and_the_studios_origin(stack: Stack) -> None:
    with sign_in(stack) as client:
        token = csrf_headers(client)

        without = client.post("/api/v1/agents", json={"name": "no token"})
        foreign = client.post(
            "/api/v1/agents",
            json={"name": "x"},
            headers={**token, "Origin": "https://evil.example"},
        )
        with_token = client.post(
            "/api/v1/agents", json={"name": "ok"}, headers={**token, "Origin": stack.gateway_url}
        )

        assert without.status_code == 403
        assert without.json()["error"]["code"] == "csrf_refused"
        assert foreign.status_code == 403
        assert with_token.status_code == 201, with_token.text
        assert [a["name"] for a in client.get("/api/v1/agents").json()["items"]] == ["ok"]
        # The same check on a hot path's write, on the direct pool (direct_pool.direct).
        compile_path = f"/api/v1/agents/{with_token.json()['id']}/compilations"
        assert client.post(compile_path).json()["error"]["code"] == "csrf_refused"
        allowed = client.post(compile_path, headers={**token, "Origin": stack.gateway_url})
        assert allowed.status_code == 202, allowed.text
    with stack.new_user() as bearer:  # a bearer token needs no CSRF token
        assert bearer.post("/api/v1/agents", json={"name": "api"}).status_code == 201


def test_signing_out_ends_the_session_and_clears_the_cookie(stack: Stack) -> None:
    with sign_in(stack) as client:
        token = csrf_headers(client)
        assert client.post("/api/v1/auth/sign-out").status_code == 403  # CSRF applies here too

        signed_out = client.post("/api/v1/auth/sign-out", headers=token)

        assert signed_out.status_code == 204
        assert session_cookie(signed_out)[COOKIE]["max-age"] == "0"
        after = client.get("/api/v1/me")
        assert after.status_code == 401
        assert after.json()["error"]["code"] == "session_ended"
        listed = client.get("/api/v1/agents")  # on the direct pool's path (direct_pool.direct)
        assert listed.status_code == 401
        assert listed.json()["error"]["code"] == "session_ended"


def test_signing_out_everywhere_ends_every_session_of_the_user_only(stack: Stack) -> None:
    address = new_address()
    token = stack.new_token(address)
    laptop, phone, stranger = sign_in(stack, address), sign_in(stack, address), sign_in(stack)
    with laptop, phone, stranger:
        answer = phone.post("/api/v1/auth/sign-out-everywhere", headers=csrf_headers(phone))

        assert answer.json() == {"sessions_revoked": 2}
        assert laptop.get("/api/v1/me").status_code == 401
        assert phone.get("/api/v1/me").status_code == 401
        assert stranger.get("/api/v1/me").status_code == 200
    with stack.client(token) as api:  # API tokens stay
        assert api.get("/api/v1/me").json()["authenticated_by"] == "token"
        no_session = api.post("/api/v1/auth/sign-out")
        assert (no_session.status_code, no_session.json()["error"]["code"]) == (400, "no_session")
        assert actions(api)[0] == "sign_out_everywhere"


def test_signing_in_again_replaces_the_session_the_browser_had(stack: Stack) -> None:
    address = new_address()
    first = use_link(mailed_link(stack, address))
    old = session_cookie(first)[COOKIE].value

    second = use_link(mailed_link(stack, address), Cookie=f"{COOKIE}={old}")

    new = session_cookie(second)[COOKIE].value
    assert new != old
    with session_client(stack, old) as stale, session_client(stack, new) as fresh:
        assert stale.get("/api/v1/me").status_code == 401
        assert fresh.get("/api/v1/me").status_code == 200


def test_mail_that_cannot_be_sent_is_retried_until_the_server_is_back(
    isolated_stack: Callable[..., Stack],
) -> None:
    away = MailServer()  # its port is chosen, but nothing listens there yet
    stack = isolated_stack(SMTP_URL=away.url)
    gateway = stack.start("gateway")
    address = new_address()
    response = httpx.post(f"{stack.gateway_url}/api/v1/auth/magic-link", json={"email": address})
    assert response.status_code == 202
    eventually(gateway.log_text, lambda log: "mail.send_failed" in log, what="a failed send")

    away.start()
    try:
        (message,) = away.wait_for(address)
    finally:
        away.stop()

    assert use_link(link_in(message)).status_code == 303


def test_mail_waiting_to_go_out_survives_a_crash_of_the_gateway(
    isolated_stack: Callable[..., Stack],
) -> None:
    away = MailServer()
    stack = isolated_stack(SMTP_URL=away.url)
    gateway = stack.start("gateway")
    address = new_address()
    httpx.post(f"{stack.gateway_url}/api/v1/auth/magic-link", json={"email": address})
    eventually(gateway.log_text, lambda log: "mail.send_failed" in log, what="a failed send")

    gateway.kill()  # SIGKILL: nothing of the process survives but what it committed
    away.start()
    try:
        stack.start("gateway")
        (message,) = away.wait_for(address)
    finally:
        away.stop()

    assert use_link(link_in(message)).status_code == 303


def test_in_development_without_a_mail_server_the_link_is_logged_and_signs_in(
    isolated_stack: Callable[..., Stack],
) -> None:
    stack = isolated_stack(STUDIO_ENV="development", SMTP_URL="")
    gateway = stack.start("gateway")
    address = new_address()

    httpx.post(f"{stack.gateway_url}/api/v1/auth/magic-link", json={"email": address})

    log = eventually(gateway.log_text, lambda text: address in text, what="the logged link")
    events = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    (logged,) = [e for e in events if e["event"] == "auth.sign_in_link"]
    link = logged["link"]
    response = use_link(link)
    assert response.status_code == 303
    assert session_cookie(response)[COOKIE]["secure"] == ""  # plain HTTP on a laptop


async def expire_link(database_url: str, secret: str) -> None:
    engine = db.create_engine(database_url, pool_size=1)
    try:
        async with engine.begin() as conn:
            await conn.exec_driver_sql(
                "UPDATE gateway.sign_in_links SET expires_at = now() - interval '1 second' "
                "WHERE token_hash = %(hash)s",
                {"hash": auth.hash_token(secret)},
            )
    finally:
        await engine.dispose()
