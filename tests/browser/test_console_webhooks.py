"""The console's webhook pages in a browser, against a live Berth and its worker
that may reach a receiver on 127.0.0.1 (BERTH_WEBHOOK_ALLOWED_NETWORKS, as
tests/e2e/test_webhooks.py): a refused private address, a webhook created (its
secret shown once), a skopeo push delivered to the live receiver and seen in the
delivery log with its CloudEvent, a redelivery, a new secret, the settings, and
the deletion behind its typed word; every page at a desk's and a phone's width."""

from __future__ import annotations

import re
import time

import pytest

from apps.webhooks.tests.receiver import Receiver
from tests.browser.conftest import DESKTOP, PHONE, shoot
from tests.e2e import images
from tests.e2e.conftest import BerthServer, need, run_isolated
from tests.live_database import server_database

# Run beside the SQLite pass in the PostgreSQL one, which ends sooner: the two passes take about as long then.
pytestmark = [pytest.mark.e2e, pytest.mark.database_independent(pass_="postgres")]

DEADLINE_SECONDS = 60
# The page fits the phone's width (nothing scrolls sideways but the tables' own boxes),
# and, when it does not, what sticks out.
FITS = "document.documentElement.scrollWidth <= window.innerWidth + 1"
WIDER = (
    "[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > window.innerWidth + 1"
    " && !(e.parentElement && e.parentElement.closest('.table-scroll, pre')))"
    ".slice(0, 8).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))"
)


@pytest.fixture(scope="module")
def berth(tmp_path_factory):
    """This module's own live server: webhooks may reach 127.0.0.0/8 (the receiver)."""
    data_dir = tmp_path_factory.mktemp("console-webhooks") / "data"
    data_dir.mkdir()
    with server_database(data_dir) as database_url:
        server = BerthServer(data_dir, database_url)
        server.env["BERTH_WEBHOOK_ALLOWED_NETWORKS"] = "127.0.0.0/8"
        server.env["BERTH_WEBHOOK_RETRY_BASE_SECONDS"] = "0.5"
        try:
            server.start()
            yield server
        finally:
            server.stop()


@pytest.fixture
def receiver():
    running = Receiver()
    running.url = running.start()
    yield running
    running.stop()


def push(berth, account, tmp_path, tag: str) -> str:
    need("skopeo")
    image = images.build_oci_image(tmp_path / f"image-{tag}", tag=tag)
    run_isolated(
        ["skopeo", "copy", "--dest-tls-verify=false", "--dest-creds", account.creds,
         f"oci:{image.path}:{tag}", f"docker://{berth.host}/{account.account_id}/app:{tag}"],
        tmp_path / f"skopeo-{tag}",
    )  # fmt: skip
    return image.manifest_digest


def reload_until(page, holds, what: str) -> None:
    """Reload the page until ``holds()`` (the worker records a try after its answer)."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not holds():
        if time.monotonic() > deadline:
            raise AssertionError(f"the page never showed {what}")
        time.sleep(0.5)
        page.reload()


def test_webhooks_in_the_console(console, console_account, berth, receiver, artifacts, tmp_path):
    from playwright.sync_api import expect

    page = console(viewport=DESKTOP)
    page.goto("/console/webhooks")
    expect(page.locator("#no-webhooks")).to_be_visible()
    shoot(page, artifacts, "console-webhooks-empty")

    # a private address is a readable error on the form, nothing made
    page.click("#new-webhook")
    page.wait_for_url("**/console/webhooks/new")
    shoot(page, artifacts, "console-webhooks-new")
    page.get_by_label("Payload URL").fill("http://10.0.0.1/hook")
    page.get_by_role("button", name="Create webhook").click()
    expect(page.locator("#url-errors")).to_contain_text("10.0.0.0/8")
    shoot(page, artifacts, "console-webhooks-refused")

    # a real one: image.pushed only, then the secret once
    page.get_by_label("Payload URL").fill(receiver.url)
    page.locator('input[value="*"]').uncheck()
    page.locator('input[value="image.pushed"]').check()
    page.get_by_label("Description").fill("CI trigger")
    page.get_by_role("button", name="Create webhook").click()
    secret = page.locator("#webhook-secret").inner_text().strip()
    assert secret.startswith("whsec_")
    receiver.secret = secret
    expect(page.locator(".secret-once")).to_be_visible()
    shoot(page, artifacts, "console-webhooks-created")
    page.click("#to-webhook")
    webhook_url = page.url
    assert secret not in page.content()
    expect(page.locator("#no-deliveries")).to_be_visible()

    # a push reaches the receiver (first try refused with a 500), and shows in the log
    receiver.answers = [500]
    digest = push(berth, console_account, tmp_path, "v1")
    received = receiver.wait_for(2, timeout=DEADLINE_SECONDS)
    assert len(received) == 2 and all(one.verified for one in received), berth.log_tail()
    assert received[1].cloud_event["data"]["digest"] == digest
    rows = page.locator("#delivery-log tbody tr")
    reload_until(page, lambda: rows.count() and "Succeeded" in rows.first.inner_text(), "a succeeded delivery")
    row = rows.first
    expect(row).to_contain_text("image.pushed")
    expect(row).to_contain_text("200")
    assert re.search(r"\b2\b", row.locator("td").nth(5).inner_text())  # two tries
    shoot(page, artifacts, "console-webhook-log")

    # the delivery's own page: the CloudEvent sent
    row.locator("td").first.get_by_role("link").click()
    expect(page.locator("#cloud-event")).to_contain_text('"type": "berth.image.pushed"')
    expect(page.locator("#cloud-event")).to_contain_text(digest)
    shoot(page, artifacts, "console-webhook-delivery")

    # redeliver: the same CloudEvent again, as a new delivery in the log
    page.click("#redeliver")
    page.wait_for_url(webhook_url)
    again = receiver.wait_for(3, timeout=DEADLINE_SECONDS)
    assert len(again) == 3 and again[2].cloud_event["id"] == received[1].cloud_event["id"] and again[2].verified
    reload_until(page, lambda: rows.count() == 2 and "Succeeded" in rows.first.inner_text(), "the redelivery")
    expect(rows.first).to_contain_text("redelivery")

    # settings: inactive, more events
    page.locator('input[value="tag.moved"]').check()
    page.get_by_label("Active").uncheck()
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".messages")).to_contain_text("saved")
    expect(page.locator("h1 .badge")).to_have_text("Inactive")

    # a new secret, shown once
    page.get_by_role("button", name="Make a new secret").click()
    rotated = page.locator("#webhook-secret").inner_text().strip()
    assert rotated.startswith("whsec_") and rotated != secret

    # the list at both widths
    page.goto("/console/webhooks")
    expect(page.locator("#webhooks")).to_contain_text(receiver.url)
    expect(page.locator(".last-delivery").first).to_contain_text("Succeeded")
    shoot(page, artifacts, "console-webhooks")
    phone = console(viewport=PHONE)
    for path, name in (
        ("/console/webhooks", "console-webhooks"),
        ("/console/webhooks/new", "console-webhooks-new"),
        (webhook_url.removeprefix(berth.url), "console-webhook-log"),
    ):
        phone.goto(path)
        shoot(phone, artifacts, name)
        assert phone.evaluate(FITS), (path, phone.evaluate(WIDER))

    # deletion waits for the typed word
    page.goto(webhook_url)
    button = page.get_by_role("button", name="Delete webhook")
    expect(button).to_be_disabled()
    page.locator("#id_confirm").fill("delete")
    expect(button).to_be_enabled()
    button.click()
    page.wait_for_url("**/console/webhooks")
    expect(page.locator("#no-webhooks")).to_be_visible()
