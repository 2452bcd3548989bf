"""With no AI provider configured, the offline stand-in answers a run's cases: the page labels
those results as its work, not the agent's, free of console errors and CSP violations, and
accessible."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from tests.support.browser import new_context, sign_in, watch
from tests.support.fixtures import Stack, running_stack

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def offline_stack(
    postgres_url: str, nats_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    with running_stack(
        postgres_url,
        nats_url,
        tmp_path_factory.mktemp("logs"),
        ("compiler", "test-runner", "publisher", "gateway"),
        {"AI_PROVIDER": "offline", "RATE_LIMIT_SIGN_IN": "1000/minute"},
    ) as running:
        yield running


def test_results_written_by_the_offline_stand_in_are_labelled(
    browser: Browser, offline_stack: Stack
) -> None:
    context = new_context(browser)
    watched = watch(context)
    page = watched.page
    sign_in(watched, offline_stack.gateway_url, f"off-{uuid.uuid4().hex[:8]}@example.com")
    page.get_by_label("Name").fill("No model here")
    page.get_by_role("button", name="Create agent").click()
    expect(page).to_have_url(re.compile(r"/specification$"))
    page.get_by_label("Role").fill("billing agent")
    page.get_by_role("button", name="Save specification").click()
    expect(page.get_by_text("Saved as revision 1.")).to_be_visible()
    page.get_by_role("link", name="Testing").click()
    page.locator("summary", has_text="Add a test case").click()
    page.get_by_label("Input (the user's message)").fill("Where is invoice 9?")
    page.get_by_label("Value").fill("invoice")
    page.get_by_role("button", name="Add case").click()
    page.get_by_role("button", name="Run All Tests").click()
    expect(page.get_by_role("heading", name=re.compile("Pass Rate"))).to_contain_text("%")

    result = page.locator(".result").first
    expect(result.locator(".badge.offline")).to_have_text("offline stand-in")
    result.locator("summary").click()
    expect(result.locator(".notice")).to_contain_text("Written by the offline stand-in")
    watched.screenshot("testing-offline")
    watched.check_accessibility()
    watched.assert_clean()
    context.close()
