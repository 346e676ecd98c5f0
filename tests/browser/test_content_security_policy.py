"""The pages that bring the most script of their own (Swagger UI, the admin) work in a
real browser under the Content-Security-Policy, and a violation is caught: every
browser test fails on one (the `new_context` fixture)."""

from __future__ import annotations

import secrets

import pytest

from .conftest import CspWatch
from .test_alias_flow import create_staff_user

# What the browser sees and runs; the views' queries are tested on both databases in apps/.
pytestmark = [pytest.mark.e2e, pytest.mark.database_independent]


def test_swagger_ui_renders_the_api_under_the_policy(new_context):
    page = new_context().new_page()
    page.goto("/api/docs/")
    # The operations come from the schema the start-up script (a file, not inline) fetched.
    page.locator(".opblock-summary-path", has_text="/api/v1/repositories").first.wait_for()
    page.locator(".opblock-summary", has_text="/api/v1/repositories").first.click()
    page.get_by_role("button", name="Try it out").first.wait_for()


def test_the_admin_works_under_the_policy(berth, new_context):
    name, password = f"csp-staff-{secrets.token_hex(3)}", secrets.token_urlsafe(16)
    create_staff_user(berth, name, password)
    berth.create_account("Listed In The Admin")
    page = new_context().new_page()
    page.goto("/admin/")
    page.get_by_label("Username").fill(name)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.goto("/admin/accounts/account/")
    # The changelist's own script: the select-all box ticks every row.
    page.locator("#action-toggle").check()
    assert page.locator("input.action-select").count() == page.locator("input.action-select:checked").count()


def test_a_violation_is_reported(browser, berth):
    """What the other tests rely on: Chromium reports a refused inline script on the console."""
    watch = CspWatch()
    context = browser.new_context(base_url=berth.url)
    watch.attach(context)
    try:
        page = context.new_page()
        page.goto("/")
        page.evaluate("document.body.append(Object.assign(document.createElement('script'), {textContent: '1'}))")
        page.wait_for_timeout(200)
    finally:
        context.close()
    assert watch.violations and "script-src" in watch.violations[0]
