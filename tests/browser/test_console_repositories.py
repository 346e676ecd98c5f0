"""The console's getting-started and repository pages in a real browser against a
live server: the commands shown push for real, a repository is created, found by
search, changed and deleted with its typed confirmation, each page photographed at
a desk's width and a phone's."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import DESKTOP, PHONE, shoot
from tests.e2e import images
from tests.e2e.conftest import need, run_isolated

# What the browser sees and runs; the views' queries are tested on both databases in apps/.
pytestmark = [pytest.mark.e2e, pytest.mark.database_independent]


def push(berth, account, reference: str, tmp) -> None:
    """Push a small OCI image to ``reference`` (host/namespace/name:tag) with skopeo."""
    layout = images.build_oci_image(tmp / "image", tag="v1")
    run_isolated(
        [
            "skopeo",
            "copy",
            "--dest-tls-verify=false",
            "--dest-creds",
            account.creds,
            f"oci:{layout.path}:v1",
            f"docker://{reference}",
        ],
        tmp / "skopeo",
    )


def test_getting_started_shows_commands_that_push(console, console_account, berth, artifacts, tmp_path):
    need("skopeo")
    page = console(DESKTOP)
    page.goto("/console")
    assert page.locator("#account-id").inner_text() == console_account.account_id
    assert page.locator("#cmd-login").inner_text() == f"docker login {berth.host} -u {console_account.username}"
    assert page.locator("#aliases li", has_text="primary").locator("code").inner_text() == console_account.alias
    assert (
        page.locator("#cmd-push-public").inner_text() == f"docker push {berth.host}/{console_account.alias}/my-tool:1.0"
    )
    assert page.get_by_role("button", name="Create your first access key").is_visible()
    shoot(page, artifacts, "console-overview-empty")

    # The private push command, as shown, pushes (the repository is created by the push).
    command = page.locator("#cmd-push-private").inner_text()
    reference = command.removeprefix("docker push ")
    assert reference == f"{berth.host}/{console_account.account_id}/my-app:1.0"
    push(berth, console_account, reference, tmp_path)
    page.reload()
    assert page.locator("#repository-count").inner_text() == "1"
    assert page.locator("#image-count").inner_text() == "1"
    shoot(page, artifacts, "console-overview")

    phone = console(PHONE)
    phone.goto("/console")
    assert phone.locator("#cmd-login").is_visible()
    shoot(phone, artifacts, "console-overview")


def test_create_find_change_and_delete_a_repository(console, console_account, berth, artifacts, tmp_path):
    need("skopeo")
    page = console(DESKTOP)

    # Create, with exclusion filters (shown only with the settings that take them).
    page.goto("/console/new-repository")
    filters = page.get_by_label("Exclusion filters")
    assert not filters.is_visible()
    page.get_by_label("Repository name").fill("Shop/API")
    page.get_by_label("Immutable, except tags matching a filter").check()
    assert filters.is_visible()
    filters.fill("latest\ndev-*")
    page.get_by_label("Scan images for vulnerabilities when they are pushed").check()
    page.get_by_label("Resource tags").fill("team=shop\ncost-center=42")
    page.get_by_role("button", name="Create repository").click()
    assert "invalid repository name" in page.locator("#id_name-errors").inner_text()
    shoot(page, artifacts, "console-new-repository-error")
    assert page.get_by_label("Exclusion filters").input_value() == "latest\ndev-*"
    page.get_by_label("Repository name").fill("shop/api")
    shoot(page, artifacts, "console-new-repository")
    page.get_by_role("button", name="Create repository").click()
    page.wait_for_url(re.compile(r".*/console/repositories/shop/api$"))

    phone = console(PHONE)
    phone.goto("/console/new-repository")
    shoot(phone, artifacts, "console-new-repository")

    # A second repository, with an image, to find among and to delete with force.
    berth.create_repository(console_account.account_id, "shop/web")
    push(berth, console_account, f"{berth.host}/{console_account.account_id}/shop/web:v1", tmp_path)
    berth.create_repository(console_account.account_id, "tools/cli", public=True)

    # Find it by search, ignoring case.
    page.goto("/console/repositories")
    assert page.locator("tr[data-repository]").count() == 3
    page.get_by_label("Find by name").fill("API")
    page.locator("form.filters-bar").get_by_role("button", name="Search").click()
    page.wait_for_url("**/console/repositories?q=API")
    rows = page.locator("tr[data-repository]")
    assert rows.count() == 1 and rows.first.get_attribute("data-repository") == "shop/api"
    assert "Immutable, except" in rows.first.inner_text() and "dev-*" in rows.first.inner_text()
    page.goto("/console/repositories")
    web = page.locator('tr[data-repository="shop/web"]')
    assert web.locator('[data-label="Images"]').inner_text() == "1"
    assert "KiB" in web.locator('[data-label="Size"]').inner_text()
    shoot(page, artifacts, "console-repositories")
    phone.goto("/console/repositories")
    assert phone.locator('tr[data-repository="shop/web"]').is_visible()
    shoot(phone, artifacts, "console-repositories")

    # Change its settings: public, mutable (the filters go), scan on push off.
    page.goto("/console/repositories/shop/api/-/settings")
    assert page.get_by_label("Exclusion filters").input_value() == "latest\ndev-*"
    shoot(page, artifacts, "console-repository-settings")
    page.get_by_role("radio", name=re.compile(r"^Public")).check()
    page.get_by_label("Mutable", exact=True).check()
    assert not page.get_by_label("Exclusion filters").is_visible()
    page.get_by_label("Scan images for vulnerabilities when they are pushed").uncheck()
    page.get_by_label("Resource tags").fill("team=storefront")
    page.get_by_role("button", name="Save settings").click()
    page.wait_for_url("**/console/repositories/shop/api/-/settings")
    assert "Saved the settings of shop/api" in page.locator(".messages").inner_text()
    assert (
        page.get_by_role("radio", name=re.compile(r"^Public")).is_checked()
        and page.get_by_label("Mutable", exact=True).is_checked()
    )
    assert page.get_by_label("Resource tags").input_value() == "team=storefront"
    assert page.locator(".repository-title .badge").inner_text() == "Public"
    phone.goto("/console/repositories/shop/api/-/settings")
    shoot(phone, artifacts, "console-repository-settings")

    # Delete it: the button wakes only when the name is typed.
    page.get_by_role("link", name="Delete repository…").click()
    page.wait_for_url("**/console/repositories/shop/api/-/delete")
    button = page.get_by_role("button", name="Delete repository")
    assert button.is_disabled()
    page.get_by_label("Type shop/api to confirm").fill("shop/ap")
    assert button.is_disabled()
    shoot(page, artifacts, "console-repository-delete")
    page.get_by_label("Type shop/api to confirm").fill("shop/api")
    assert button.is_enabled()
    button.click()
    page.wait_for_url("**/console/repositories")
    assert "Deleted the repository shop/api." in page.locator(".messages").inner_text()
    assert page.locator('tr[data-repository="shop/api"]').count() == 0

    # One with images goes only with them.
    page.goto("/console/repositories/shop/web/-/delete")
    assert "holds 1 image" in page.locator("#holds-images").inner_text()
    phone.goto("/console/repositories/shop/web/-/delete")
    shoot(phone, artifacts, "console-repository-delete")
    page.get_by_label("Type shop/web to confirm").fill("shop/web")
    page.get_by_role("button", name="Delete repository").click()
    assert "still holds images" in page.locator("#id_force-errors").inner_text()
    page.get_by_label("Type shop/web to confirm").fill("shop/web")
    page.get_by_label("Delete its images too").check()
    page.get_by_role("button", name="Delete repository").click()
    page.wait_for_url("**/console/repositories")
    assert "Deleted the repository shop/web and its images." in page.locator(".messages").inner_text()
    assert [row.get_attribute("data-repository") for row in page.locator("tr[data-repository]").all()] == ["tools/cli"]
