"""Browser fixtures: headless Debian Chromium driven by Playwright, against the live
`berth` server of tests/e2e (started once per session)."""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path

import pytest

from tests.e2e.conftest import berth, in_ci, server_tracebacks_fail_the_test  # noqa: F401  (the live server fixtures)

CHROMIUM = os.environ.get("BERTH_TEST_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


@pytest.fixture(scope="session")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    if not shutil.which(CHROMIUM):
        message = f"Chromium is not installed at {CHROMIUM}"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            yield launched
        finally:
            launched.close()


class CspWatch:
    """Collects the Content-Security-Policy violations Chromium reports on the console
    of the pages of the contexts it watches."""

    def __init__(self) -> None:
        self.violations: list[str] = []

    def attach(self, context) -> None:
        context.on("console", self._seen)

    def _seen(self, message) -> None:
        if "Content Security Policy" in message.text:
            where = message.page.url if message.page is not None else "?"
            self.violations.append(f"{where}: {message.text}")


@pytest.fixture
def new_context(browser, berth):  # noqa: F811
    """Makes browser contexts on the live server; the test fails if a page of any of
    them broke the Content-Security-Policy (a script, style or image it refused)."""
    watch = CspWatch()
    contexts = []

    def make(**options):
        context = browser.new_context(base_url=berth.url, **options)
        watch.attach(context)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()
    assert watch.violations == [], "\n".join(watch.violations)


@pytest.fixture
def page(new_context):
    opened = new_context(viewport={"width": 1280, "height": 900}).new_page()
    opened.set_default_timeout(15_000)
    return opened


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where screenshots go (gitignored)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


# Viewports every console page is photographed at (issue 18): a desk and a phone.
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def console_account(berth):  # noqa: F811
    """A fresh account on the live server, with its root user's credentials
    (tests.e2e.conftest.Account: account_id, alias, username, password)."""
    return berth.create_account(f"console-{secrets.token_hex(3)}")


def sign_in(context, account) -> None:
    """Signs ``account``'s root user in on a browser context, through the sign-in page."""
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto("/accounts/login?next=/console")
    page.get_by_label("Email or user name").fill(account.username)
    page.get_by_label("Password").fill(account.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/console")
    page.close()


@pytest.fixture
def console(new_context, console_account):
    """``console(viewport=DESKTOP)``: a page signed in as ``console_account``'s root user."""

    def open_page(viewport=DESKTOP):
        context = new_context(viewport=viewport)
        sign_in(context, console_account)
        opened = context.new_page()
        opened.set_default_timeout(15_000)
        return opened

    return open_page


def shoot(page, artifacts: Path, name: str) -> None:  # noqa: F811
    """A full-page screenshot as a test artefact, at the page's width (name-1280.png, name-390.png)."""
    page.screenshot(path=artifacts / f"{name}-{page.viewport_size['width']}.png", full_page=True)
