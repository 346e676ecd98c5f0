"""The console's audit trail in a browser, against the live Berth: the account's
events after real work (a repository created, an image pushed, a refused delete),
filtered by event name, errors only and writes, a record opened with its place in
the chain, and "Verify now" walking the chain through the worker; at a desk's and
a phone's width."""

from __future__ import annotations

import time

import pytest

from tests.browser.conftest import DESKTOP, PHONE, shoot
from tests.e2e import images
from tests.e2e.conftest import need, run_isolated

pytestmark = [pytest.mark.e2e, pytest.mark.database_independent]

DEADLINE_SECONDS = 60
# The page fits the phone's width (nothing scrolls sideways but the tables' own boxes),
# and, when it does not, what sticks out.
FITS = "document.documentElement.scrollWidth <= window.innerWidth + 1"
WIDER = (
    "[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > window.innerWidth + 1"
    " && !(e.parentElement && e.parentElement.closest('.table-scroll, pre')))"
    ".slice(0, 8).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))"
)


def reload_until(page, holds, what: str) -> None:
    """Reload until ``holds()``: the audit writer moves spooled reads into the trail every second."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not holds():
        if time.monotonic() > deadline:
            raise AssertionError(f"the page never showed {what}")
        time.sleep(0.5)
        page.reload()


def test_the_audit_trail_in_the_console(console, console_account, berth, artifacts, tmp_path):
    from playwright.sync_api import expect

    need("skopeo")
    account = console_account
    berth.create_repository(account.account_id, "team/app")
    image = images.build_oci_image(tmp_path / "image", tag="v1")
    run_isolated(
        ["skopeo", "copy", "--dest-tls-verify=false", "--dest-creds", account.creds,
         f"oci:{image.path}:v1", f"docker://{berth.host}/{account.account_id}/team/app:v1"],
        tmp_path / "skopeo",
    )  # fmt: skip
    # a pull by an outsider with no credentials: refused, and recorded as such
    run_isolated(
        ["skopeo", "inspect", "--tls-verify=false", "--no-creds",
         f"docker://{berth.host}/{account.account_id}/team/app:v1"],
        tmp_path / "skopeo-anonymous", check=False,
    )  # fmt: skip

    page = console(viewport=DESKTOP)
    page.goto("/console/audit")
    rows = page.locator("#audit-events tbody tr")
    reload_until(page, lambda: "PutImage" in page.inner_text("body"), "the push's PutImage")
    expect(page.locator("#audit-events")).to_contain_text("CreateRepository")
    expect(page.locator("#audit-events")).to_contain_text("team/app")
    shoot(page, artifacts, "console-audit")

    # writes only: no read events (the console's own LookupEvents included)
    page.get_by_label("Kind").select_option("writes")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#audit-events")).not_to_contain_text("LookupEvents")
    expect(page.locator("#audit-events")).to_contain_text("PutImage")

    # one event name
    page.get_by_label("Event name").fill("PutImage")
    page.get_by_role("button", name="Filter").click()
    assert set(page.locator("#audit-events .event-name").all_inner_texts()) == {"PutImage"}
    shoot(page, artifacts, "console-audit-filtered")

    # errors only: the refused anonymous pull (once the audit writer moved it in)
    page.goto("/console/audit?errors=on")
    reload_until(page, lambda: rows.count() > 0, "a failed request")
    for outcome in page.locator("#audit-events .outcome-error").all_inner_texts():
        assert outcome and outcome != "OK"
    assert page.locator("#audit-events .badge--public").count() == 0

    # a record: the CloudTrail JSON and its place in the chain
    page.goto("/console/audit?event_name=PutImage")
    rows.first.locator("td").first.get_by_role("link").click()
    expect(page.locator("#event-record")).to_contain_text('"eventName": "PutImage"')
    expect(page.locator("#event-record")).to_contain_text(image.manifest_digest)
    expect(page.locator("#hash-check")).to_contain_text("Holds")
    expect(page.locator("#link-check")).to_contain_text("Holds")
    shoot(page, artifacts, "console-audit-event")
    event_path = page.url.removeprefix(berth.url)

    # verify now: the worker walks the chain, the page shows the result
    page.goto("/console/audit")
    page.get_by_role("button", name="Verify now").click()
    expect(page.locator(".messages")).to_contain_text("verif")
    reload_until(page, lambda: "Intact" in page.locator("#chain-verdict").inner_text(), "an intact chain")
    shoot(page, artifacts, "console-audit-verified")

    phone = console(viewport=PHONE)
    for path, name in (
        ("/console/audit", "console-audit"),
        ("/console/audit?event_name=PutImage&kind=writes", "console-audit-filtered"),
        (event_path, "console-audit-event"),
    ):
        phone.goto(path)
        shoot(phone, artifacts, name)
        assert phone.evaluate(FITS), (path, phone.evaluate(WIDER))
