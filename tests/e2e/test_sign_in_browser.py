"""Signing in and writing with a session in a real browser (Chromium, driven by Playwright): the
mailed link's page, its button, the cookie, a write with the CSRF token, and a forged form POST
from another origin of the same site (SameSite=Lax lets the cookie through; the CSRF check stops it).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.e2e.test_identity import mailed_link
from tests.support.fixtures import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield launched
        launched.close()


def forged_form_site(target: str) -> tuple[ThreadingHTTPServer, str]:
    """Another origin of the same site (127.0.0.1, another port) serving a form that posts to
    `target` as soon as it loads: a classic cross-site request forgery."""
    page = (
        "<!doctype html><html><body onload='document.forms[0].submit()'>"
        f"<form method=post action='{target}' enctype='text/plain'>"
        '<input name=\'{"name": "forged", "x": "\' value=\'"}\'></form></body></html>'
    ).encode()

    class Forged(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "text/html")
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Forged)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def test_a_browser_signs_in_by_the_mailed_link_and_writes_only_with_the_csrf_token(
    stack: Stack, browser: Browser
) -> None:
    link = mailed_link(stack, f"b{uuid.uuid4().hex[:12]}@example.com")
    context = browser.new_context()
    page = context.new_page()

    page.goto(link)
    with page.expect_navigation(url=f"{stack.gateway_url}/"):
        page.click("button")
    (cookie,) = [c for c in context.cookies() if c["name"] == "studio_session"]
    me = page.evaluate("fetch('/api/v1/me').then(r => r.json())")
    create = """([headers]) => fetch('/api/v1/agents', {
        method: 'POST', headers: {'content-type': 'application/json', ...headers},
        body: JSON.stringify({name: 'from the browser'})}).then(r => r.status)"""
    without_token = page.evaluate(create, [{}])
    with_token = page.evaluate(create, [{"X-CSRF-Token": me["session"]["csrf_token"]}])

    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Lax"
    assert me["authenticated_by"] == "session"
    assert (without_token, with_token) == (403, 201)
    assert page.evaluate("document.cookie") == ""  # no script can read the session

    server, forged = forged_form_site(f"{stack.gateway_url}/api/v1/agents")
    try:
        attacked = context.new_page()
        with attacked.expect_navigation(url=f"{stack.gateway_url}/api/v1/agents"):
            attacked.goto(forged)
        refusal = attacked.content()
    finally:
        server.shutdown()
    names = page.evaluate(
        "fetch('/api/v1/agents').then(r => r.json()).then(b => b.items.map(a => a.name))"
    )
    context.close()

    assert "csrf_refused" in refusal
    assert names == ["from the browser"]
