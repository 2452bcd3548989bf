"""A test run in the browser beyond its Pass Rate: cancelling it while it runs, its JUnit download,
the pass-rate trend across runs; a refused sign-in link read as a page; the UI's assets arriving
compressed. Each page free of console errors and CSP violations, and accessible."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Browser, Response, expect

from tests.support.browser import Watched, new_context, sign_in, watch
from tests.support.fake_openai import FakeOpenAI
from tests.support.fixtures import Stack
from tests.support.mail import link_in, shared_server

pytestmark = pytest.mark.browser


def agent_with_cases(watched: Watched, name: str, inputs: list[str]) -> str:
    page = watched.page
    page.get_by_label("Name").fill(name)
    page.get_by_role("button", name="Create agent").click()
    expect(page).to_have_url(re.compile(r"/agents/[0-9a-f-]{36}/specification$"))
    agent_url = page.url.removesuffix("/specification")
    page.get_by_label("Role").fill("billing agent")
    page.get_by_role("button", name="Save specification").click()
    expect(page.get_by_text("Saved as revision 1.")).to_be_visible()
    page.get_by_role("link", name="Testing").click()
    for n, text in enumerate(inputs, start=1):
        if not page.get_by_label("Input (the user's message)").is_visible():
            page.locator("summary", has_text="Add a test case").click()  # stays open after
        page.get_by_label("Input (the user's message)").fill(text)
        page.get_by_label("Value").fill(text.split()[-1].rstrip("?"))
        page.get_by_role("button", name="Add case").click()
        expect(page.get_by_role("heading", name=f"Test cases ({n})")).to_be_visible()
    return agent_url


def test_a_running_run_is_cancelled_from_the_page_and_shown_cancelled(
    signed_in: Watched, provider: FakeOpenAI
) -> None:
    page = signed_in.page
    agent_with_cases(signed_in, "Cancelled run", ["Where is invoice 11?", "Where is invoice 12?"])
    provider.respond(times=20, latency=4.0)  # every answer is slow: the run is still running

    page.get_by_role("button", name="Run All Tests").click()
    expect(page.locator("label[for=run-progress]")).to_contain_text("(running)")
    signed_in.check_accessibility()
    page.get_by_role("button", name="Cancel the run").click()

    expect(page.get_by_role("heading", name=re.compile("Pass Rate"))).to_be_visible()
    expect(page.locator("#run-heading ~ .status")).to_contain_text("· cancelled")
    expect(page.get_by_role("button", name="Run All Tests")).to_be_enabled()
    expect(page.get_by_role("table").get_by_role("cell", name="cancelled")).to_have_count(1)
    signed_in.screenshot("testing-cancelled")
    signed_in.check_accessibility()


def test_runs_make_a_trend_and_a_run_downloads_as_junit(signed_in: Watched) -> None:
    page = signed_in.page
    agent_with_cases(signed_in, "Trending", ["Where is invoice 7?"])
    for _ in range(2):
        page.get_by_role("button", name="Run All Tests").click()
        expect(page.get_by_role("button", name="Run All Tests")).to_be_enabled()
        expect(page.get_by_role("heading", name=re.compile("Pass Rate"))).to_contain_text("100%")

    trend = page.get_by_role("region", name="Pass rate across runs")
    table = trend.get_by_role("table", name="Pass rate of each run, newest first")
    expect(table.locator("tbody tr")).to_have_count(2)
    expect(table.locator("tbody tr").first).to_contain_text("100%")
    expect(trend.locator("svg.trend circle")).to_have_count(2)
    # Drawn by the stylesheet, not inline styles (the CSP would block those).
    assert trend.locator("svg.trend polyline").get_attribute("style") is None
    signed_in.screenshot("testing-trend")
    signed_in.check_accessibility()

    with page.expect_download() as download:
        page.get_by_role("link", name="Download JUnit XML").click()
    path = download.value.path()
    xml = path.read_text(encoding="utf-8")
    assert download.value.suggested_filename.startswith("run-")
    assert '<testsuites name="Agent Studio" tests="1" failures="0" errors="0"' in xml


def test_a_used_sign_in_link_opened_again_says_so_and_sends_a_new_one(
    browser: Browser, stack: Stack
) -> None:
    email = f"again-{uuid.uuid4().hex[:8]}@example.com"
    first = new_context(browser)
    sign_in(watch(first), stack.gateway_url, email)
    used_link = link_in(shared_server().wait_for(email)[-1])
    first.close()

    context = new_context(browser)
    watched = watch(context)
    page = watched.page
    page.goto(used_link)
    watched.check_accessibility()  # the link's own page, served by the gateway
    page.get_by_role("button", name="Sign in to Agent Studio").click()

    expect(page).to_have_url(f"{stack.gateway_url}/sign-in?link=used")
    refusal = page.get_by_role("alert")
    expect(refusal).to_contain_text("That link did not sign you in")
    expect(refusal).to_contain_text("already used")
    watched.screenshot("sign-in-link-used")
    watched.check_accessibility()
    page.get_by_label("Email address").fill(email)
    page.get_by_role("button", name="Email me a sign-in link").click()
    expect(page.get_by_role("heading", name="Check your mail")).to_be_visible()
    watched.assert_clean()
    context.close()


def test_the_uis_assets_arrive_compressed_and_cached_for_a_year(
    browser: Browser, stack: Stack
) -> None:
    context = new_context(browser)
    watched = watch(context)
    assets: list[Response] = []
    watched.page.on("response", lambda r: assets.append(r) if "/assets/" in r.url else None)
    watched.page.goto(f"{stack.gateway_url}/sign-in")
    expect(watched.page.get_by_role("heading", name="Sign in to Agent Studio")).to_be_visible()

    assert {a.url.rsplit(".", 1)[1] for a in assets} == {"js", "css"}
    for asset in assets:
        headers = asset.all_headers()
        assert headers["content-encoding"] in ("br", "gzip"), asset.url
        assert headers["vary"] == "Accept-Encoding"
        assert headers["cache-control"] == "public, max-age=31536000, immutable"
    watched.assert_clean()  # decoded and run: no console error
    context.close()
