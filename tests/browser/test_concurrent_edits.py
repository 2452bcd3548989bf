"""Two tabs editing one spec: the second save finds the first, shows both versions side by side,
and the merge it saves keeps both people's work."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Browser, expect

from tests.support.browser import new_context, sign_in, watch
from tests.support.fixtures import Stack

pytestmark = pytest.mark.browser


def test_two_tabs_saving_one_spec_lose_neither_persons_work(browser: Browser, stack: Stack) -> None:
    context = new_context(browser)
    first = watch(context)
    sign_in(first, stack.gateway_url, f"grace-{uuid.uuid4().hex[:8]}@example.com")
    first.page.get_by_label("Name").fill("Shared agent")
    first.page.get_by_role("button", name="Create agent").click()
    expect(first.page).to_have_url(re.compile(r"/specification$"))
    second = watch(context)
    second.page.goto(first.page.url)
    expect(second.page.get_by_text("Revision 0")).to_be_visible()

    first.page.get_by_label("Role").fill("the first person's role")
    first.page.get_by_role("button", name="Save specification").click()
    expect(first.page.get_by_text("Saved as revision 1.")).to_be_visible()

    second.page.get_by_label("Problem").fill("the second person's problem")
    second.page.get_by_role("button", name="Save specification").click()
    conflict = second.page.get_by_role("region", name="Someone else saved this specification first")
    expect(conflict).to_be_visible()
    expect(conflict).to_contain_text("the second person's problem")  # theirs, the Mission block
    expect(conflict).to_contain_text("the first person's role")  # the saved one, the Persona block
    second.screenshot("specification-conflict")
    second.check_accessibility()
    conflict.get_by_role("button", name="Save the merge").click()
    expect(second.page.get_by_text("Saved as revision 2.")).to_be_visible()
    expect(conflict).to_be_hidden()

    for watched in (first, second):
        watched.page.reload()
        expect(watched.page.get_by_label("Role")).to_have_value("the first person's role")
        expect(watched.page.get_by_label("Problem")).to_have_value("the second person's problem")
        watched.assert_clean()
    context.close()
