"""A repository's policies in the console, in a real browser against a live server:
the repository policy's editor (an invalid policy's message, a valid one saved),
the simulator (allowed, denied, the draft's explicit deny; with and without
JavaScript), and the lifecycle policy's editor and preview over pushed images.
Screenshots at desk and phone widths."""

from __future__ import annotations

import json
import secrets

import pytest

from tests.browser.conftest import DESKTOP, PHONE, shoot, sign_in
from tests.e2e import images
from tests.e2e.conftest import need, run_isolated

# Run beside the SQLite pass in the PostgreSQL one, which ends sooner: the two passes take about as long then.
pytestmark = [pytest.mark.e2e, pytest.mark.database_independent(pass_="postgres")]
expect = pytest.importorskip("playwright.sync_api").expect

PULL = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]


def permissions_url(name: str) -> str:
    return f"/console/repositories/{name}/-/permissions"


def lifecycle_url(name: str) -> str:
    return f"/console/repositories/{name}/-/lifecycle"


def test_repository_policy_editor_and_simulator(console, console_account, berth, artifacts):
    name = f"web/app-{secrets.token_hex(2)}"
    berth.create_repository(console_account.account_id, name)
    friend = berth.create_account("Policy Friend")
    page = console(viewport=DESKTOP)
    page.goto(permissions_url(name))
    assert page.get_by_role("heading", name="Repository policy").is_visible()
    assert page.locator("#policy-empty").is_visible()
    shoot(page, artifacts, "console-permissions-empty")

    # The example names an account that does not exist: the parser says so, nothing is saved.
    page.get_by_role("button", name="Put the example in the editor").click()
    assert "AllowPullFromAnotherAccount" in page.locator("#id_policy_text").input_value()
    page.get_by_role("button", name="Save policy").click()
    error = page.locator("#policy-error")
    error.wait_for()
    assert "principal 'arn:berth:iam::111122223333:root' does not exist" in error.inner_text()
    assert "In statement 1" in error.inner_text()
    assert page.locator("#policy-empty").is_visible()  # still no policy
    shoot(page, artifacts, "console-permissions-invalid")

    # A valid one is saved.
    valid = {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "FriendPulls", "Effect": "Allow", "Principal": {"AWS": friend.account_id}, "Action": PULL}
        ],
    }
    page.locator("#id_policy_text").fill(json.dumps(valid))
    page.get_by_role("button", name="Save policy").click()
    page.get_by_text(f"Saved the repository policy of {name}.").wait_for()
    assert '"FriendPulls"' in page.locator("#id_policy_text").input_value()
    assert page.locator("#policy-empty").count() == 0

    # The simulator, through the JSON endpoint (the page does not reload).
    page.evaluate("window.notReloaded = true")
    page.get_by_label("Principal").fill(friend.account_id)
    page.get_by_label("Action").select_option("ecr:BatchGetImage")
    page.get_by_label("the saved policy").check()
    page.locator("#simulate").click()
    verdict = page.locator("#simulation .simulation__verdict strong")
    expect(verdict).to_have_text("Allowed")
    assert 'Sid "FriendPulls"' in page.locator("#simulation").inner_text()
    page.get_by_label("Action").select_option("ecr:PutImage")
    page.locator("#simulate").click()
    expect(verdict).to_have_text("Denied")
    assert "implicit deny" in page.locator("#simulation").inner_text()
    assert page.evaluate("window.notReloaded") is True

    # A draft with an explicit deny, simulated before it is saved.
    draft = dict(valid)
    draft["Statement"] = [
        *valid["Statement"],
        {"Sid": "NoLayers", "Effect": "Deny", "Principal": "*", "Action": "ecr:GetDownloadUrlForLayer"},
    ]
    page.locator("#id_policy_text").fill(json.dumps(draft, indent=2))
    page.get_by_label("Action").select_option("ecr:GetDownloadUrlForLayer")
    page.get_by_label("the text in the editor (unsaved draft)").check()
    page.locator("#simulate").click()
    expect(page.locator("#simulation .badge")).to_have_text("explicit deny")
    assert 'draft policy: Sid "NoLayers"' in page.locator("#simulation").inner_text()
    shoot(page, artifacts, "console-permissions")

    phone = console(viewport=PHONE)
    phone.goto(permissions_url(name))
    phone.get_by_label("Principal").fill("*")
    phone.locator("#simulate").click()
    expect(phone.locator("#simulation .simulation__verdict strong")).to_have_text("Denied")
    shoot(phone, artifacts, "console-permissions")


def test_the_simulator_works_without_javascript(new_context, console_account, berth):
    name = f"web/nojs-{secrets.token_hex(2)}"
    berth.create_repository(console_account.account_id, name)
    context = new_context(viewport=DESKTOP, java_script_enabled=False)
    sign_in(context, console_account)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(permissions_url(name))
    draft = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": console_account.account_id}, "Action": PULL}],
    }
    page.locator("#id_policy_text").fill(json.dumps(draft))
    page.get_by_label("Principal").fill(f"arn:berth:iam::{console_account.account_id}:root")
    page.get_by_label("the text in the editor (unsaved draft)").check()
    page.locator("#simulate").click()
    page.locator("#simulation").wait_for()
    assert "Allowed" in page.locator("#simulation .simulation__verdict").inner_text()
    assert json.loads(page.locator("#id_policy_text").input_value()) == draft  # the draft is kept, not saved
    assert page.locator("#policy-empty").is_visible()
    # What needs the script is not offered without it.
    assert not page.get_by_role("button", name="Format JSON").is_visible()
    assert not page.get_by_role("button", name="Put the example in the editor").is_visible()


@pytest.fixture
def pushed(berth, console_account, tmp_path):
    """A repository of the console's account with images v1, v2, v3 (pushed in that order)."""
    need("skopeo")
    name = f"web/releases-{secrets.token_hex(2)}"
    berth.create_repository(console_account.account_id, name)
    for tag in ("v1", "v2", "v3"):
        image = images.build_oci_image(tmp_path / tag, tag=tag)
        run_isolated(
            [
                "skopeo",
                "copy",
                "--dest-tls-verify=false",
                "--dest-creds",
                console_account.creds,
                f"oci:{image.path}:{tag}",
                f"docker://{berth.host}/{console_account.account_id}/{name}:{tag}",
            ],
            tmp_path / "skopeo",
        )
    return name


def test_lifecycle_policy_editor_and_preview(console, pushed, artifacts):
    page = console(viewport=DESKTOP)
    page.goto(lifecycle_url(pushed))
    assert page.locator("#policy-empty").is_visible()
    assert "No preview yet" in page.locator("#lifecycle-preview").inner_text()
    shoot(page, artifacts, "console-lifecycle-empty")

    rule = {
        "rulePriority": 1,
        "description": "keep the newest release",
        "selection": {"tagStatus": "tagged", "countType": "imageCountMoreThan", "countNumber": 1},
        "action": {"type": "expire"},
    }
    page.locator("#id_lifecycle_policy_text").fill(json.dumps({"rules": [rule]}, indent=2))
    page.get_by_role("button", name="Save policy").click()
    page.locator("#policy-error").get_by_text(
        "Must specify tagPrefixList or tagPatternList when tagStatus=TAGGED."
    ).wait_for()
    assert page.locator("#policy-empty").is_visible()  # nothing stored

    # The rule builder writes the rule into the (emptied) editor.
    page.locator("#id_lifecycle_policy_text").fill("")
    page.locator("#rule-builder summary").click()
    page.get_by_label("Description").fill("keep the newest release")
    page.get_by_label("Images").select_option("tagged")
    page.get_by_label("Prefixes or patterns (comma-separated)").fill("v")
    page.get_by_label("When").select_option("imageCountMoreThan")
    page.get_by_label("N", exact=True).fill("1")
    page.get_by_role("button", name="Add the rule to the editor").click()
    rule["selection"]["tagPrefixList"] = ["v"]
    assert json.loads(page.locator("#id_lifecycle_policy_text").input_value()) == {"rules": [rule]}
    page.get_by_role("button", name="Preview", exact=True).click()
    summary = page.locator("#preview-summary")
    summary.wait_for()
    assert "2 images would expire" in summary.inner_text() and "a draft policy" in summary.inner_text()
    rows = page.locator(".preview-table tbody tr")
    assert rows.count() == 2
    assert [rows.nth(n).locator(".tag").inner_text() for n in range(2)] == ["v1", "v2"]
    assert "keep the newest release" in page.locator(".preview-rules").text_content()
    assert '"tagPrefixList"' in page.locator("#id_lifecycle_policy_text").input_value()  # the draft is back
    shoot(page, artifacts, "console-lifecycle-preview")

    page.get_by_role("button", name="Save policy").click()
    page.get_by_text(f"Saved the lifecycle policy of {pushed}").wait_for()
    assert "under the saved policy" in page.locator("#preview-summary").inner_text()
    shoot(page, artifacts, "console-lifecycle")

    phone = console(viewport=PHONE)
    phone.goto(lifecycle_url(pushed))
    assert phone.locator(".preview-table tbody tr").count() == 2
    shoot(phone, artifacts, "console-lifecycle")
