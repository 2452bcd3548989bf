"""The pages around the lifecycle: starters, search, errors next to their field, API tokens, the
command palette and signing out; each free of console errors and CSP violations, and accessible."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.support.browser import Watched
from tests.support.fake_openai import FakeOpenAI
from tests.support.fixtures import Stack

pytestmark = pytest.mark.browser


def create(watched: Watched, name: str, starter: str | None = None) -> str:
    page = watched.page
    page.get_by_role("link", name="Agent Studio").click()
    page.get_by_label("Name").fill(name)
    if starter:
        page.get_by_label("Start from").select_option(starter)
    page.get_by_role("button", name="Create agent").click()
    expect(page).to_have_url(re.compile(r"/agents/[0-9a-f-]{36}/specification$"))
    return page.url.removesuffix("/specification")


def test_a_starter_agent_comes_with_a_spec_and_cases_and_the_list_finds_it(
    signed_in: Watched,
) -> None:
    page = signed_in.page
    agent_url = create(signed_in, "Order desk", starter="support")
    expect(page.get_by_label("Role")).to_have_value("customer support agent")
    page.get_by_role("link", name="Testing").click()
    expect(page.get_by_role("heading", name="Test cases (2)")).to_be_visible()
    create(signed_in, "Invoice reader")

    page.get_by_role("link", name="Agent Studio").click()
    cards = page.get_by_role("list", name="Agents").get_by_role("listitem")
    expect(cards).to_have_count(2)
    page.get_by_label("Search agents").fill("order")
    expect(cards).to_have_count(1)
    expect(cards.first).to_contain_text("Order desk")
    expect(cards.first).to_contain_text("Completeness")
    signed_in.screenshot("dashboard-search")
    signed_in.check_accessibility()
    cards.first.get_by_role("link", name="Order desk").click()
    expect(page).to_have_url(f"{agent_url}/specification")


def test_a_refused_save_names_the_field_beside_it_and_keeps_every_edit(
    signed_in: Watched,
) -> None:
    page = signed_in.page
    create(signed_in, "Strict output")
    page.get_by_label("Role").fill("a role worth keeping")
    page.get_by_label("JSON Schema (optional)").fill("[1, 2]")
    page.get_by_role("button", name="Save specification").click()

    field = page.locator(".field", has=page.get_by_label("JSON Schema (optional)"))
    expect(field.locator(".error")).to_contain_text("Not saved")
    expect(page.get_by_label("JSON Schema (optional)")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Role")).to_have_value("a role worth keeping")
    expect(page.get_by_text("Revision 0")).to_be_visible()
    signed_in.check_accessibility()

    page.get_by_label("JSON Schema (optional)").fill('{"type": "object"}')
    page.get_by_role("button", name="Save specification").click()
    expect(page.get_by_text("Saved as revision 1.")).to_be_visible()
    expect(field.locator(".error")).to_have_count(0)


def test_an_api_token_is_shown_once_listed_and_revoked(signed_in: Watched, stack: Stack) -> None:
    page = signed_in.page
    page.get_by_role("link", name="API tokens").click()
    expect(page).to_have_url(f"{stack.gateway_url}/tokens")
    page.get_by_label("Name", exact=True).fill("ci deploys")
    page.get_by_role("button", name="Create token").click()
    shown = page.get_by_role("region", name="New token").locator("pre").inner_text()
    assert shown.startswith("sas_")
    me = page.request.get(
        f"{stack.gateway_url}/api/v1/me", headers={"Authorization": f"Bearer {shown}"}
    )
    assert me.status == 200
    signed_in.screenshot("tokens")
    signed_in.check_accessibility()

    page.get_by_role("button", name="Done").click()
    page.get_by_role("button", name="Revoke ci deploys").click()
    page.get_by_role("button", name="Revoke ci deploys now").click()
    expect(page.get_by_role("button", name="Revoke ci deploys")).to_have_count(0)
    refused = page.request.get(
        f"{stack.gateway_url}/api/v1/me", headers={"Authorization": f"Bearer {shown}"}
    )
    assert refused.status == 401


def test_the_command_palette_reaches_an_agents_tab_by_keyboard(signed_in: Watched) -> None:
    page = signed_in.page
    agent_url = create(signed_in, "Palette target")
    page.get_by_role("link", name="Agent Studio").click()

    page.keyboard.press("Control+k")
    palette = page.get_by_role("dialog", name="Command palette")
    expect(palette).to_be_visible()
    page.keyboard.type("palette target: versions")
    expect(palette.get_by_role("option")).to_have_count(1)
    signed_in.check_accessibility()
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{agent_url}/versions")
    expect(palette).to_be_hidden()


def test_signing_out_ends_the_session_and_pages_ask_to_sign_in_again(
    signed_in: Watched, stack: Stack
) -> None:
    page = signed_in.page
    agent_url = create(signed_in, "Left behind")
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{stack.gateway_url}/sign-in")

    page.goto(f"{agent_url}/testing")
    expect(page).to_have_url(f"{stack.gateway_url}/sign-in")
    assert page.request.get(f"{stack.gateway_url}/api/v1/me").status == 401


def test_the_coachs_draft_goes_into_the_editor_only_when_accepted(signed_in: Watched) -> None:
    page = signed_in.page
    create(signed_in, "Coached")
    persona = page.locator("#block-persona")
    persona.get_by_role("button", name="Ask the coach about Persona").click()
    draft = page.get_by_role("region", name="Coach's draft for Persona")
    expect(draft).to_be_visible()
    drafted = draft.locator("pre").inner_text()
    assert '"role"' in drafted
    expect(page.get_by_label("Role")).to_have_value("")  # nothing changes until accepted
    signed_in.check_accessibility()

    draft.get_by_role("button", name="Put the draft in the editor").click()
    expect(draft).to_be_hidden()
    expect(page.get_by_label("Role")).not_to_have_value("")
    expect(page.get_by_text("Revision 0")).to_be_visible()  # still the person's to save


def test_the_workspace_fits_a_phone_screen(signed_in: Watched) -> None:
    page = signed_in.page
    agent_url = create(signed_in, "Pocket agent")
    page.set_viewport_size({"width": 390, "height": 844})
    for tab in ("specification", "instructions", "testing", "versions"):
        page.goto(f"{agent_url}/{tab}")
        expect(page.get_by_role("navigation", name="Stages")).to_be_visible()
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{tab} is {overflow}px wider than a phone"
    signed_in.screenshot("phone-versions")
    signed_in.check_accessibility()


SUITE = """
tests:
  - description: names the invoice
    vars: {input: "Where is invoice 31?"}
    assert:
      - type: icontains
        value: "31"
      - type: javascript
        value: output.length < 500
  - description: never matches
    vars: {input: "hello"}
    assert:
      - type: icontains
        value: "zzz-not-in-any-answer"
"""


def test_an_imported_suite_reports_what_was_dropped_and_a_refused_publish_can_be_forced(
    signed_in: Watched,
) -> None:
    page = signed_in.page
    agent_url = create(signed_in, "Gatekept")
    page.get_by_label("Role").fill("billing agent for {{company}}")
    variables = page.locator("#block-variables")
    variables.get_by_role("button", name="Add variable").click()
    variables.get_by_label("Name (variable 1)").fill("company")
    variables.get_by_label("Description (variable 1)").fill("who the agent works for")
    page.get_by_role("button", name="Save specification").click()
    expect(page.get_by_text("Saved as revision 1.")).to_be_visible()

    page.get_by_role("link", name="Testing").click()
    page.locator("summary", has_text="Import a promptfoo suite").click()
    page.get_by_label(re.compile("promptfoo YAML")).fill(SUITE)
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.get_by_text("Imported 2 case(s), skipped 0.")).to_be_visible()
    expect(page.get_by_text(re.compile(r"Test 1: imported — dropped javascript"))).to_be_visible()
    expect(page.get_by_role("heading", name="Test cases (2)")).to_be_visible()
    page.get_by_role("button", name="Run All Tests").click()
    expect(page.get_by_role("heading", name=re.compile("Pass Rate"))).to_contain_text("50%")
    failed = page.locator(".result").first
    expect(failed).to_have_class(re.compile("failed"))
    expect(failed).to_contain_text("never matches")
    signed_in.screenshot("testing-failures-first")
    signed_in.check_accessibility()

    page.get_by_role("link", name="Versions").click()
    expect(page).to_have_url(f"{agent_url}/versions")
    page.get_by_role("button", name="Publish", exact=True).click()
    refusal = page.get_by_role("alert").filter(has_text="The test gate refused this version")
    expect(refusal).to_contain_text("below")
    signed_in.check_accessibility()
    refusal.get_by_label(re.compile("Publish anyway: why")).fill(
        "known flaky upstream; fix tomorrow"
    )
    refusal.get_by_role("button", name="Publish anyway").click()
    expect(page.get_by_role("heading", name="Version 1", exact=True)).to_be_visible()
    expect(page.get_by_text("forced: known flaky upstream; fix tomorrow")).to_be_visible()
    snippet = page.get_by_role("region", name="Call the published agent")
    agent_id = agent_url.rsplit("/", 1)[1]
    expect(snippet).to_contain_text(f'model="agent:{agent_id}"')
    expect(snippet).to_contain_text(
        'extra_body={"variables": {"company": "<who the agent works for>"}}'
    )


def test_lint_warnings_sit_beside_the_fields_they_concern(signed_in: Watched) -> None:
    page = signed_in.page
    create(signed_in, "Linted")
    page.get_by_label("Role").fill("support agent for {{company}}")
    page.get_by_label("Must", exact=True).fill("answer in English")
    page.get_by_label("Must not", exact=True).fill("answer in English")
    page.get_by_role("button", name="Save specification").click()
    expect(page.get_by_text("Saved as revision 1.")).to_be_visible()

    must_not = page.locator(".field", has=page.get_by_label("Must not", exact=True))
    expect(must_not.locator(".warnings")).to_contain_text("contradicts")
    expect(page.get_by_label("Must not", exact=True)).to_have_attribute("aria-invalid", "true")
    variables = page.locator("#block-variables")
    expect(variables.locator(".warnings")).to_contain_text("company")
    signed_in.screenshot("specification-warnings")
    signed_in.check_accessibility()

    variables.get_by_role("button", name="Add variable").click()
    variables.get_by_label("Name (variable 1)").fill("company")
    variables.get_by_label("Description (variable 1)").fill("who the agent works for")
    page.get_by_label("Must not", exact=True).fill("promise refunds")
    page.get_by_role("button", name="Save specification").click()
    expect(page.get_by_text("Saved as revision 2.")).to_be_visible()
    expect(page.locator(".warnings", has_text="company")).to_have_count(0)
    expect(page.locator(".warnings", has_text="contradicts")).to_have_count(0)
    criteria = page.locator(".field", has=page.get_by_label("Success criteria"))
    expect(criteria.locator(".warnings")).to_contain_text("no success criteria")


def test_an_unavailable_coach_is_said_so_and_the_editor_keeps_working(
    signed_in: Watched, provider: FakeOpenAI
) -> None:
    page = signed_in.page
    create(signed_in, "Uncoached")
    provider.fail(500, times=4)  # every attempt of one coach call (AI_MAX_ATTEMPTS)
    signed_in.expect_problem(r"503.*/spec/coach|/spec/coach.*503")

    page.get_by_role("button", name="Ask the coach about Workflow").click()
    notice = page.locator("#block-workflow .notice")
    expect(notice).to_contain_text("The coach is unavailable for now")
    expect(page.get_by_role("region", name="Coach's draft for Workflow")).to_have_count(0)
    signed_in.check_accessibility()

    page.get_by_label("Steps").fill("Read the question\nAnswer it")
    page.get_by_role("button", name="Save specification").click()
    expect(page.get_by_text("Saved as revision 1.")).to_be_visible()


def test_an_agent_is_renamed_given_its_gate_and_deleted_from_its_settings(
    signed_in: Watched, stack: Stack
) -> None:
    page = signed_in.page
    create(signed_in, "Draft name")
    page.locator("summary", has_text="Agent settings").click()
    page.get_by_label("Agent name").fill("Final name")
    page.get_by_label("Pass rate a version needs to publish (%)").fill("80")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_text("Settings saved.")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_have_text("Final name")
    page.get_by_role("link", name="Versions").click()
    expect(page.get_by_text("pass rate at least 80%")).to_be_visible()
    signed_in.check_accessibility()

    page.get_by_role("button", name="Delete this agent").click()  # the settings stay open
    page.get_by_role("button", name="Delete Final name for good").click()
    expect(page).to_have_url(f"{stack.gateway_url}/")
    expect(page.get_by_role("link", name="Final name")).to_have_count(0)


def test_an_unknown_address_says_so_and_leads_back(signed_in: Watched, stack: Stack) -> None:
    page = signed_in.page
    page.goto(f"{stack.gateway_url}/no/such/page")
    expect(page.get_by_role("heading", name="Nothing here")).to_be_visible()
    signed_in.check_accessibility()
    page.get_by_role("link", name="Go to your agents").click()
    expect(page.get_by_role("heading", name="Your agents")).to_be_visible()


def test_a_regression_against_production_is_named_in_the_run_and_by_the_gate(
    signed_in: Watched, provider: FakeOpenAI
) -> None:
    page = signed_in.page
    agent_url = create(signed_in, "Regressing")
    page.get_by_label("Role").fill("billing agent")
    page.get_by_role("button", name="Save specification").click()
    expect(page.get_by_text("Saved as revision 1.")).to_be_visible()
    page.locator("summary", has_text="Agent settings").click()
    page.get_by_label("Pass rate a version needs to publish (%)").fill("0")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_text("Settings saved.")).to_be_visible()

    page.get_by_role("link", name="Testing").click()
    page.locator("summary", has_text="Add a test case").click()
    page.get_by_label("Case description").fill("names the invoice")
    page.get_by_label("Input (the user's message)").fill("Where is invoice 4711?")
    page.get_by_label("Value").fill("4711")
    page.get_by_role("button", name="Add case").click()
    page.get_by_role("button", name="Run All Tests").click()
    expect(page.get_by_role("heading", name=re.compile("Pass Rate"))).to_contain_text("100%")
    page.get_by_role("link", name="Versions").click()
    page.get_by_role("button", name="Publish", exact=True).click()
    expect(page.get_by_text("Production serves Version 1.")).to_be_visible()

    provider.respond("Sorry, I cannot look that up.")  # the next answer misses the number
    page.get_by_role("link", name="Testing").click()
    page.get_by_role("button", name="Run All Tests").click()
    expect(page.get_by_role("heading", name=re.compile("Pass Rate"))).to_contain_text("0%")
    expect(
        page.get_by_role("status").filter(has_text="1 regressed: names the invoice")
    ).to_be_visible()

    page.get_by_role("link", name="Versions").click()
    expect(page).to_have_url(f"{agent_url}/versions")
    page.get_by_role("button", name="Publish", exact=True).click()
    refusal = page.get_by_role("alert").filter(has_text="The test gate refused this version")
    expect(refusal.get_by_role("listitem")).to_have_text(["names the invoice"])
    expect(page.get_by_text("Production serves Version 1.")).to_be_visible()
    signed_in.check_accessibility()
