"""In a real browser against a live `berth serve`: staff take a public repository
down in the admin console (a reason is required), its owner is mailed, the gallery
no longer shows it and an anonymous pull is refused; staff restore it and all of
it comes back. Screenshots of each step go to tests/browser/artifacts."""

from __future__ import annotations

import json
import secrets
import time
import urllib.error
import urllib.request

import pytest

from tests.browser.test_alias_flow import create_staff_user, mailed_link
from tests.e2e.conftest import _last_json

pytestmark = [pytest.mark.e2e, pytest.mark.database_independent]


def anonymous_tags_status(server, full_name: str) -> int:
    """The status of an anonymous `GET /v2/<name>/tags/list`, with the token docker would fetch."""
    with urllib.request.urlopen(f"{server.url}/token?service=berth-registry&scope=repository:{full_name}:pull") as got:
        token = json.load(got)["token"]
    request = urllib.request.Request(
        f"{server.url}/v2/{full_name}/tags/list", headers={"Authorization": f"Bearer {token}"}
    )
    try:
        with urllib.request.urlopen(request) as response:
            return response.status
    except urllib.error.HTTPError as refused:
        return refused.code


def test_staff_take_a_public_repository_down_and_restore_it(berth, new_context, artifacts):
    suffix = secrets.token_hex(3)
    owner_email = f"owner-{suffix}@example.com"
    created = berth.cli(
        "create_account", "--name", f"takedown-{suffix}", "--username", f"takedown-{suffix}",
        f"--password={secrets.token_urlsafe(18)}", f"--email={owner_email}", "--json",
    )  # fmt: skip
    account = _last_json(created.stdout)
    account_id = str(account.get("account_id") or account.get("id"))
    alias = account.get("alias")
    berth.create_repository(account_id, "miner", public=True)
    full_name = f"{alias}/miner"
    assert anonymous_tags_status(berth, full_name) == 200
    visitor = new_context(viewport={"width": 1280, "height": 900}).new_page()
    for _ in range(50):  # the gallery's row follows the repository's event
        if visitor.goto(f"/{full_name}").status == 200:
            break
        time.sleep(0.2)
    else:
        raise AssertionError(f"/{full_name} never reached the gallery")

    staff_name, staff_password = f"staff-{suffix}", secrets.token_urlsafe(16)
    create_staff_user(berth, staff_name, staff_password)
    console = new_context(viewport={"width": 1280, "height": 900}).new_page()
    console.set_default_timeout(15_000)
    console.goto("/admin/")
    console.get_by_label("Username").fill(staff_name)
    console.get_by_label("Password").fill(staff_password)
    console.get_by_role("button", name="Log in").click()

    console.goto(f"/admin/repositories/repository/?q={alias}")
    row = console.locator("#result_list tbody tr", has_text="miner")
    row.locator("input.action-select").check()
    console.locator("select[name=action]").select_option("take_down")
    console.get_by_role("button", name="Go").click()
    console.screenshot(path=artifacts / "admin-take-down-reason.png", full_page=True)
    console.get_by_role("button", name="Take down").click()  # no reason: the browser refuses to send it
    assert console.get_by_label("Reason").evaluate("field => field.validity.valueMissing")
    assert "Take repositories down" in console.locator("#content").inner_text()
    console.get_by_label("Reason").fill("Ships a crypto miner in its latest image.")
    console.get_by_role("button", name="Take down").click()
    assert "1 repository taken down" in console.locator(".messagelist").inner_text()
    assert "taken down" in console.locator("#result_list tbody tr", has_text="miner").inner_text()
    console.screenshot(path=artifacts / "admin-taken-down.png", full_page=True)

    # The owner is told why, nobody outside the account pulls it, and the gallery forgets it.
    settings_link = mailed_link(berth, owner_email, "/accounts/settings")
    assert settings_link == "/accounts/settings"
    assert anonymous_tags_status(berth, full_name) == 401
    assert visitor.goto(f"/{full_name}").status == 404
    visitor.goto(f"/{alias}")
    assert "miner" not in visitor.locator("main").inner_text()

    console.goto("/admin/repositories/repository/?taken_down_at__isempty=0")
    row = console.locator("#result_list tbody tr", has_text="miner")
    row.locator("input.action-select").check()
    console.locator("select[name=action]").select_option("restore")
    console.get_by_role("button", name="Go").click()
    assert "1 repository restored" in console.locator(".messagelist").inner_text()
    console.screenshot(path=artifacts / "admin-restored.png", full_page=True)
    assert anonymous_tags_status(berth, full_name) == 200
    assert visitor.goto(f"/{full_name}").status == 200
