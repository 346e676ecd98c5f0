"""In a real browser against a live `berth serve`: the console's IAM pages. A root
user writes a policy (refused first, with the parser's message), creates a user,
attaches the policy, creates the user's access key (its secret shown once: a
reload shows it no more), creates a role with a trust policy, manages its own
keys and deletes the user with a typed confirmation; every page is photographed
at a desk's and a phone's width."""

from __future__ import annotations

import json

import pytest

from tests.browser.conftest import DESKTOP, PHONE, shoot

# What the browser sees and runs; the views' queries are tested on both databases in apps/.
pytestmark = [pytest.mark.e2e, pytest.mark.database_independent]


def statements(*statements) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)}, indent=2)


PULL = statements(
    {
        "Effect": "Allow",
        "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
        "Resource": "*",
    }
)


def test_users_policies_keys_and_roles_in_the_browser(console, console_account, artifacts):
    page = console(viewport=DESKTOP)
    account_id = console_account.account_id

    # A policy: an unknown action is refused with the parser's message, nothing stored; then a valid one.
    page.goto("/console/iam/policies")
    page.get_by_label("Policy name").fill("pull-images")
    page.get_by_label("Policy document").fill(PULL.replace("ecr:BatchGetImage", "ecr:BatchGetImages"))
    page.get_by_role("button", name="Create policy").click()
    error = page.locator("#id_document-errors")
    assert "ecr:BatchGetImages" in error.inner_text()
    shoot(page, artifacts, "console-iam-policy-refused")
    page.get_by_label("Policy document").fill("{ not json")
    assert "Not JSON yet" in page.locator(".iam-json-status").inner_text()  # iam.js checks as one types
    page.get_by_label("Policy document").fill(PULL)
    assert "Well-formed JSON" in page.locator(".iam-json-status").inner_text()
    page.get_by_role("button", name="Create policy").click()
    page.wait_for_url("**/console/iam/policies/pull-images")
    assert "ecr:GetDownloadUrlForLayer" in page.locator("#policy-document").inner_text()

    # A user, with the policy attached and an access key whose secret is shown once.
    page.goto("/console/iam/users")
    page.get_by_label("User name").fill("ci-bot")
    page.get_by_role("button", name="Create user").click()
    page.wait_for_url("**/console/iam/users/ci-bot")
    assert f"iam::{account_id}:user/ci-bot" in page.locator("#user-arn").inner_text()
    page.get_by_label("Policy", exact=True).select_option(label="pull-images")
    page.get_by_role("button", name="Attach policy").click()
    assert "pull-images" in page.locator("#attached-policies").inner_text()
    page.get_by_role("button", name="Create access key").click()
    box = page.locator(".secret-once")
    assert box.is_visible() and "only time" in box.inner_text()
    key_id = page.locator("#secret-key-id").inner_text()
    secret = page.locator("#secret-value").inner_text()
    assert key_id.startswith("BKIA") and len(secret) >= 30
    assert page.locator(".secret-once .copy-button").count() >= 2
    shoot(page, artifacts, "console-iam-user-secret")
    page.reload()
    assert page.locator(".secret-once").count() == 0 and secret not in page.content()
    assert key_id in page.locator("#keys").inner_text()
    page.locator(f"#key-{key_id}").get_by_role("button", name="Deactivate").click()
    assert "inactive" in page.locator(f"#key-{key_id}").inner_text()

    # A role: a malformed trust policy is refused with the parser's message; then the account's own.
    page.goto("/console/iam/roles")
    page.get_by_label("Role name").fill("deployer")
    page.get_by_label("Trust policy").fill('{"Version": "2012-10-17", "Statement": [')
    page.get_by_role("button", name="Create role").click()
    assert "malformed JSON" in page.locator("#id_trust_policy-errors").inner_text()
    trust = statements(
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:berth:iam::{account_id}:user/ci-bot"},
            "Action": "sts:AssumeRole",
        }
    )
    page.get_by_label("Trust policy").fill(trust)
    page.get_by_role("button", name="Create role").click()
    page.wait_for_url("**/console/iam/roles/deployer")
    assert "ci-bot" in page.get_by_role("textbox", name="Trust policy").input_value()
    page.get_by_label("Policy", exact=True).select_option(label="pull-images")
    page.get_by_role("button", name="Attach policy").click()
    assert "pull-images" in page.locator("#attached-policies").inner_text()

    # The policy's page names what it is attached to, and refuses to delete it while it is.
    page.goto("/console/iam/policies/pull-images")
    assert "ci-bot" in page.locator("#attached").inner_text() and "deployer" in page.locator("#attached").inner_text()
    delete = page.locator("#delete")
    assert delete.get_by_role("button").is_disabled()  # console.js: the name must be typed first
    delete.get_by_label("Type").fill("pull-images")
    delete.get_by_role("button").click()
    assert "still attached" in page.locator("#delete-refused").inner_text()

    # The signed-in user's own keys: Getting started's form, a secret once, and a login password.
    page.goto("/console/iam/access-keys")
    page.get_by_role("button", name="Create access key").click()
    own_key = page.locator("#secret-key-id").inner_text()
    assert own_key.startswith("BKIA") and own_key != key_id
    page.reload()
    assert page.locator(".secret-once").count() == 0 and own_key in page.locator("#keys").inner_text()
    row = page.locator(f"#key-{own_key}")
    row.get_by_text("Delete…").click()
    confirm = row.get_by_role("button", name="Delete key")
    assert confirm.is_disabled()
    row.get_by_label("Type").fill(own_key)
    shoot(page, artifacts, "console-iam-access-key-delete")
    confirm.click()
    assert f"Access key {own_key} deleted" in page.locator(".messages").inner_text()
    assert page.locator(f"#key-{own_key}").count() == 0
    page.get_by_role("button", name="Get a login password").click()
    assert page.locator("#secret-value").inner_text().startswith("blp1.")
    page.reload()
    assert page.locator(".secret-once").count() == 0

    # Deleting the user takes its name typed.
    page.goto("/console/iam/users/ci-bot")
    danger = page.locator("#delete")
    assert danger.get_by_role("button").is_disabled()
    danger.get_by_label("Type").fill("ci-bot")
    danger.get_by_role("button").click()
    page.wait_for_url("**/console/iam/users")
    assert "ci-bot" not in page.locator("#users").inner_text()

    # Every page, at both widths.
    pages = {
        "console-iam-users": "/console/iam/users",
        "console-iam-user": f"/console/iam/users/{console_account.username}",
        "console-iam-roles": "/console/iam/roles",
        "console-iam-role": "/console/iam/roles/deployer",
        "console-iam-policies": "/console/iam/policies",
        "console-iam-policy": "/console/iam/policies/pull-images",
        "console-iam-builtin-policy": "/console/iam/policies/BerthRegistryReadOnly",
        "console-iam-access-keys": "/console/iam/access-keys",
    }
    phone = console(viewport=PHONE)
    for browser_page in (page, phone):
        for name, url in pages.items():
            response = browser_page.goto(url)
            assert response.status == 200, url
            assert browser_page.locator("h1").is_visible()
            # Nothing wider than the screen but the tables' own scrolling.
            overflow = browser_page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 1, (url, overflow)
            shoot(browser_page, artifacts, name)
