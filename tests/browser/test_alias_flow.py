"""In a real browser against a live `berth serve`: a publisher signs up, lands on the
console, cannot ask for an alias until it follows the link mailed to it (read from
the server's mail files: tests/live_server_settings.py), then asks for a custom
alias, staff approve it in the admin console, and the gallery's publisher page
answers at the new alias (and still at the old one)."""

from __future__ import annotations

import re
import secrets
import subprocess
import time
from pathlib import Path

import pytest
from PIL import Image

from tests.e2e.conftest import BERTH_BIN, CMD_TIMEOUT

# What the browser sees and runs; the views' queries are tested on both databases in apps/.
pytestmark = [pytest.mark.e2e, pytest.mark.database_independent]


def create_staff_user(server, username: str, password: str) -> None:
    subprocess.run(
        [str(BERTH_BIN), "createsuperuser", "--username", username, "--email", f"{username}@example.com", "--noinput"],
        env={**server.env, "DJANGO_SUPERUSER_PASSWORD": password},
        cwd=str(server.data_dir),
        check=True,
        capture_output=True,
        timeout=CMD_TIMEOUT,
    )


def mailed_link(server, to: str, path_prefix: str) -> str:
    """The path of the link to ``path_prefix`` in the newest mail to ``to`` (waits up to 10 s)."""
    folder = Path(server.data_dir) / "mail"
    pattern = re.compile(rf"https?://[^/\s]+({re.escape(path_prefix)}\S*)")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for message in sorted(folder.glob("*.log"), key=lambda path: path.stat().st_mtime, reverse=True):
            text = message.read_text()
            if f"To: {to}" in text and (found := pattern.search(text)):
                return found.group(1)
        time.sleep(0.2)
    raise AssertionError(f"no mail to {to} with a link to {path_prefix} in {folder}")


def test_sign_up_verify_the_email_request_an_alias_set_a_profile_staff_approve_it_and_the_gallery_shows_it(
    berth, new_context, artifacts, tmp_path
):
    suffix = secrets.token_hex(3)
    email, password = f"publisher-{suffix}@example.com", f"harbour-lantern-{secrets.token_hex(6)}"
    new_alias = f"shipyard-{suffix}"

    publisher = new_context()
    page = publisher.new_page()
    page.goto("/accounts/signup")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_label("Password again").fill(password)
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url("**/console")  # the console's getting started page
    page.goto("/accounts/settings")
    assert "Verify your email." in page.locator("#verify-email").inner_text()
    assert page.locator("#alias-request-needs-verified-email").is_visible()
    assert page.get_by_role("button", name="Request alias").count() == 0
    page.screenshot(path=artifacts / "account-settings-unverified.png", full_page=True)
    page.goto(mailed_link(berth, email, "/accounts/verify-email/"))
    page.wait_for_url("**/accounts/settings")
    assert "your email is verified" in page.locator(".messages").inner_text()
    assert page.locator("#verify-email").count() == 0
    account_id = page.locator(".facts dd code").first.inner_text()
    default_alias = page.locator(".alias-list code").first.inner_text()
    assert len(account_id) == 12 and account_id.isdigit()
    berth.create_repository(account_id, "tools/cli", public=True)

    page.get_by_role("textbox", name="Alias").fill("berth-official")
    page.get_by_role("button", name="Request alias").click()
    assert "it names the platform" in page.locator(".field--invalid").inner_text()
    page.get_by_role("textbox", name="Alias").fill(new_alias)
    page.get_by_role("button", name="Request alias").click()
    assert "pending" in page.locator("#pending-request").inner_text()
    page.screenshot(path=artifacts / "account-settings-pending.png", full_page=True)

    # The publisher's profile: a bio and a logo the gallery shows.
    logo = tmp_path / "logo.png"
    Image.new("RGB", (120, 120), (30, 100, 170)).save(logo)
    page.get_by_label("Bio").fill("Tools for shipyards.\nMade in the harbour.")
    page.get_by_label("Logo", exact=True).set_input_files(str(logo))
    page.get_by_role("button", name="Save profile").click()
    assert "Your publisher profile is saved." in page.locator(".messages").inner_text()
    assert page.locator(".profile-logo img").evaluate("image => image.complete && image.naturalWidth") == 120
    page.screenshot(path=artifacts / "account-settings-profile.png", full_page=True)

    staff_name, staff_password = f"staff-{suffix}", secrets.token_urlsafe(16)
    create_staff_user(berth, staff_name, staff_password)
    staff = new_context()
    console = staff.new_page()
    console.goto("/admin/")
    console.get_by_label("Username").fill(staff_name)
    console.get_by_label("Password").fill(staff_password)
    console.get_by_role("button", name="Log in").click()
    assert new_alias in console.locator("#pending-alias-requests").inner_text()
    console.screenshot(path=artifacts / "admin-index.png", full_page=True)

    console.goto("/admin/accounts/aliasrequest/")
    row = console.locator("#result_list tbody tr", has_text=new_alias)
    row.locator("input.action-select").check()
    console.locator("select[name=action]").select_option("approve")
    console.get_by_role("button", name="Go").click()
    console.get_by_label("Reason").fill("Welcome aboard.")
    console.get_by_role("button", name="Approve").click()
    assert "1 request(s) approved" in console.locator(".messagelist").inner_text()

    page.goto("/accounts/settings")
    primary = page.locator(".alias-list li", has_text="primary")
    assert primary.locator("code").inner_text() == new_alias
    assert "Approved" in page.locator(".requests").inner_text()

    for alias in (new_alias, default_alias):
        response = page.goto(f"/{alias}")
        assert response.status == 200, alias
        assert new_alias in page.locator("h1").inner_text()
        assert "tools/cli" in page.locator("main").inner_text()
        assert "Made in the harbour." in page.locator("#publisher-bio").inner_text()
        assert page.locator("img.publisher-logo").evaluate("image => image.complete && image.naturalWidth") == 120
    page.screenshot(path=artifacts / "publisher-new-alias.png", full_page=True)
    publisher.close()
    staff.close()
