"""An agent's whole life in the browser: sign in through the mailed link, create, specify,
compile, test, publish twice and roll production back; every tab free of console errors and CSP
violations and accessible (axe-core), with a screenshot of each as a test artefact."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Browser, expect

from tests.support.browser import Watched, new_context, sign_in, watch
from tests.support.fixtures import Stack

pytestmark = pytest.mark.browser


def check(watched: Watched, name: str) -> None:
    watched.screenshot(name)
    watched.check_accessibility()
    watched.assert_clean()


def run_all_tests(watched: Watched, agent_url: str) -> None:
    page = watched.page
    page.get_by_role("link", name="Testing").click()
    expect(page).to_have_url(f"{agent_url}/testing")
    page.get_by_role("button", name="Run All Tests").click()
    expect(page.get_by_role("heading", name=re.compile("Pass Rate"))).to_contain_text(
        "100%", timeout=60_000
    )


def publish(watched: Watched, agent_url: str, number: int) -> None:
    page = watched.page
    page.get_by_role("link", name="Versions").click()
    expect(page).to_have_url(f"{agent_url}/versions")
    page.get_by_role("button", name="Publish", exact=True).click()
    expect(page.get_by_role("status").filter(has_text=f"Published Version {number}")).to_be_visible(
        timeout=60_000
    )
    expect(page.get_by_role("heading", name=f"Version {number}", exact=True)).to_be_visible()
    expect(page.get_by_text(f"Production serves Version {number}.")).to_be_visible()


def test_an_agent_from_sign_in_to_a_rolled_back_production(browser: Browser, stack: Stack) -> None:
    context = new_context(browser)
    watched = watch(context)
    page = watched.page
    email = f"ada-{uuid.uuid4().hex[:8]}@example.com"

    page.goto(stack.gateway_url)
    expect(page).to_have_url(f"{stack.gateway_url}/sign-in")
    check(watched, "sign-in")
    sign_in(watched, stack.gateway_url, email)
    expect(page.get_by_text(email)).to_be_visible()
    check(watched, "dashboard")

    page.get_by_label("Name").fill("Billing helper")
    page.get_by_role("button", name="Create agent").click()
    expect(page).to_have_url(re.compile(r"/agents/[0-9a-f-]{36}/specification$"))
    agent_url = page.url.removesuffix("/specification")
    page.get_by_label("Role").fill("billing support agent")
    page.get_by_label("Voice").fill("warm and precise")
    page.get_by_label("Problem").fill("Answer customers' questions about their invoices")
    page.get_by_label("Success criteria").fill("names the invoice number")
    page.get_by_role("button", name="Save specification").click()
    expect(page.get_by_text("Saved as revision 1.")).to_be_visible()
    expect(page.locator("meter#completeness")).not_to_have_attribute("value", "0")
    check(watched, "specification")

    page.get_by_role("link", name="Instructions").click()
    page.get_by_role("button", name="Compile").click()
    sections = page.locator(".instruction-section h2")
    expect(sections.first).to_have_text("System Backbone")
    expect(page.get_by_text("billing support agent").first).to_be_visible()
    check(watched, "instructions")

    page.get_by_role("link", name="Testing").click()
    page.locator("summary", has_text="Add a test case").click()
    page.get_by_label("Input (the user's message)").fill("Where is invoice 4711?")
    page.get_by_label("Value").fill("4711")
    page.get_by_role("button", name="Add case").click()
    expect(page.get_by_role("heading", name="Test cases (1)")).to_be_visible()
    run_all_tests(watched, agent_url)
    expect(page.locator(".result.passed")).to_have_count(1)
    check(watched, "testing")

    publish(watched, agent_url, 1)
    check(watched, "versions")

    page.get_by_role("link", name="Specification").click()
    page.get_by_label("Voice").fill("brief and friendly")
    page.get_by_role("button", name="Save specification").click()
    expect(page.get_by_text("Saved as revision 2.")).to_be_visible()
    run_all_tests(watched, agent_url)
    expect(page.get_by_text("Compared with the run behind production (Version 1)")).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="nothing regressed")).to_be_visible()
    publish(watched, agent_url, 2)

    diff = page.get_by_role("region", name="Compare versions")
    diff.get_by_role("button", name="Compare").click()
    expect(diff.locator(".diff .removed")).to_contain_text("warm and precise")
    expect(diff.locator(".diff .added")).to_contain_text("brief and friendly")

    page.get_by_role("button", name="Roll production back to Version 1").click()
    expect(page.get_by_text("Production serves Version 1.")).to_be_visible()
    expect(page.get_by_role("heading", name="Production history").locator("..")).to_contain_text(
        "Version 2 → Version 1"
    )
    check(watched, "versions-rolled-back")

    page.reload()  # the tab is in the address: a reload lands on the same stage
    expect(page.get_by_text("Production serves Version 1.")).to_be_visible()
    watched.assert_clean()
    context.close()
