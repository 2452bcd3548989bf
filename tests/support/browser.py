"""Driving the web UI in Debian's headless Chromium with Playwright, for the `browser` tests.

Every page a test opens is watched: console errors, uncaught exceptions, Content-Security-Policy
violations and server errors (5xx) are collected and checked; a 4xx is an answer the UI handles
(not signed in yet, someone else saved first), so Chromium's own log line for one is not counted.
`check_accessibility` runs axe-core (from web/node_modules, installed by `make install`) on what
the page shows.

The browser is started per test: Playwright's sync API runs an event loop in the test's thread,
and the stack's clean-up (asyncio.run) must come after it has stopped.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Response,
    Route,
    expect,
    sync_playwright,
)

from tests.support.mail import link_in, shared_server

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
AXE = ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = ROOT / "test-artifacts" / "browser"
# Without the background-networking flags Chromium keeps calling out of a machine with no network.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# The gateway's policy for its pages (security headers); set here on a page answered without
# one, so the UI is always proven to work under it.
POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HANDLED_ANSWER = re.compile(r"Failed to load resource: the server responded with a status of 4\d\d")
UI_PAGES = re.compile(r"^http://127\.0\.0\.1:\d+/(?!api/|assets/|v1/|auth/|favicon)[^?]*(\?.*)?$")
WATCH = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'}`);
});
"""


@dataclass
class Watched:
    """A page and the problems seen on it so far."""

    page: Page
    problems: list[str] = field(default_factory=list)
    expected: list[re.Pattern[str]] = field(default_factory=list)

    def expect_problem(self, pattern: str) -> None:
        """A problem the test itself causes (a provider made to fail answers 503) is not counted."""
        self.expected.append(re.compile(pattern))

    def assert_clean(self) -> None:
        violations: list[str] = self.page.evaluate("window.__cspViolations || []")
        unexpected = [p for p in self.problems if not any(e.search(p) for e in self.expected)]
        assert unexpected + violations == [], f"on {self.page.url}"

    def check_accessibility(self) -> None:
        """axe-core's WCAG A/AA rules on the page as shown: no violation."""
        # Evaluated through the debugging protocol, so the page's CSP does not apply to axe itself.
        self.page.evaluate(AXE.read_text() + "\n;undefined")
        found: list[dict[str, Any]] = self.page.evaluate(
            "axe.run(document, {runOnly: ['wcag2a', 'wcag2aa']}).then(r => r.violations.map("
            "v => ({id: v.id, help: v.help, nodes: v.nodes.map(n => n.target.join(' '))})))"
        )
        assert found == [], (
            f"accessibility problems on {self.page.url}:\n{json.dumps(found, indent=1)}"
        )

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


def _with_policy(route: Route) -> None:
    response = route.fetch()
    headers = dict(response.headers)
    headers.setdefault("content-security-policy", POLICY)
    route.fulfill(response=response, headers=headers)


def watch(context: BrowserContext) -> Watched:
    """A new page of `context` whose problems are collected."""
    page = context.new_page()
    watched = Watched(page)

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error" and not HANDLED_ANSWER.match(message.text):
            watched.problems.append(f"console: {message.text} at {message.location.get('url')}")

    def on_response(response: Response) -> None:
        if response.status >= 500:
            watched.problems.append(f"server error: {response.status} {response.url}")

    page.on("console", on_console)
    page.on("response", on_response)
    page.on("pageerror", lambda error: watched.problems.append(f"uncaught: {error}"))
    return watched


def new_context(browser: Browser) -> BrowserContext:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(WATCH)
    context.route(UI_PAGES, _with_policy)
    context.set_default_timeout(30_000)
    return context


def sign_in(watched: Watched, gateway_url: str, email: str) -> None:
    """Through the UI: ask for a link, open it from the mail, use it."""
    page = watched.page
    page.goto(gateway_url)
    page.get_by_label("Email address").fill(email)
    page.get_by_role("button", name="Email me a sign-in link").click()
    page.get_by_role("heading", name="Check your mail").wait_for()
    link = link_in(shared_server().wait_for(email)[-1])
    assert link.startswith(gateway_url), link
    page.goto(link)
    page.get_by_role("button", name="Sign in to Agent Studio").click()
    page.get_by_role("heading", name="Your agents").wait_for()


@pytest.fixture
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        pytest.fail("the browser tests need Debian's chromium: apt-get install -y chromium")
    assert AXE.exists(), "web/node_modules is missing: run `make install`"
    expect.set_options(timeout=30_000)  # a slow machine only makes a wait longer
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield launched
        launched.close()
