"""The public gallery in a real browser against a live server: search, filters,
publisher and repository pages, the pull command pulling with skopeo, and what must
never show (a private repository, script from Markdown)."""

from __future__ import annotations

import json
import re
import time

import pytest

from tests.e2e import images
from tests.e2e.conftest import need, run_isolated

# What the browser sees and runs; the views' queries are tested on both databases in apps/.
pytestmark = [pytest.mark.e2e, pytest.mark.database_independent]

DESCRIPTION = "A friendly hummingbird web server for tiny sites"
ABOUT = (
    "# Hummingbird\n\nServes **static** files.\n\n<script>window.pwned = 1</script>\n\n"
    '<img src=x onerror="window.pwned = 2">\n\n[docs](javascript:window.pwned=3)'
)


def shell(berth, code: str) -> None:
    berth.cli("shell", "-c", code)


@pytest.fixture(scope="module")
def gallery(berth, tmp_path_factory):
    """A publisher with a public image (catalog data set) and a private one (created by its push)."""
    need("skopeo")
    tmp = tmp_path_factory.mktemp("gallery")
    publisher = berth.create_account("Gallery Publisher")
    image = images.build_oci_image(tmp / "image", tag="v1")
    secret = images.build_oci_image(tmp / "secret", tag="v1")
    berth.create_repository(publisher.account_id, "birds/hummingbird", public=True)
    for layout, name in ((image, "birds/hummingbird"), (secret, "secret-stash")):
        run_isolated(
            [
                "skopeo",
                "copy",
                "--dest-tls-verify=false",
                "--dest-creds",
                publisher.creds,
                f"oci:{layout.path}:v1",
                f"docker://{berth.host}/{publisher.account_id}/{name}:v1",
            ],
            tmp / "skopeo",
        )
    shell(
        berth,
        (
            "from apps.repositories.models import Repository; from apps.repositories import catalog; "
            "from apps.audit.events import Actor; "
            f"r = Repository.objects.get(account_id='{publisher.account_id}', name='birds/hummingbird'); "
            f"catalog.put_repository_catalog_data(repository=r, description={DESCRIPTION!r}, about_markdown={ABOUT!r}, "
            "usage_markdown='Run it with `docker run`.', operating_systems=['Linux'], architectures=['x86-64'], "
            "actor=Actor.system('test'))"
        ),
    )
    return publisher


def result_names(page) -> list[str]:
    return page.locator(".results .card__title a").all_inner_texts()


def test_home_lists_the_public_repository(page, gallery, artifacts):
    page.goto("/")
    assert page.title().startswith("Berth gallery")
    assert page.get_by_role("link", name="birds/hummingbird").first.is_visible()
    assert "secret-stash" not in page.content()
    page.screenshot(path=str(artifacts / "home.png"), full_page=True)


@pytest.mark.parametrize("how", ["alias", "name", "description word"])
def test_search_finds_the_repository(page, gallery, how, artifacts):
    query = {"alias": gallery.alias, "name": "hummingbird", "description word": "friendly"}[how]
    page.goto("/")
    page.get_by_label("Search by publisher, name or description").fill(query)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/search\?q="))
    assert result_names(page) == ["birds/hummingbird"]
    if how == "description word":
        page.screenshot(path=str(artifacts / "search.png"), full_page=True)


def test_filters_narrow_the_results(page, gallery):
    page.goto("/search?q=hummingbird")
    assert result_names(page) == ["birds/hummingbird"]
    # Choosing a filter submits the form by itself (progressive script).
    with page.expect_navigation():
        page.get_by_label("Kind").select_option("helm")
    assert "kind=helm" in page.url
    assert result_names(page) == []
    assert "No public repository matches" in page.content()
    with page.expect_navigation():
        page.get_by_label("Kind").select_option("image")
    with page.expect_navigation():
        page.get_by_label("Operating system").select_option("Linux")
    assert result_names(page) == ["birds/hummingbird"]
    with page.expect_navigation():
        page.get_by_label("Operating system").select_option("Windows")
    assert result_names(page) == []


def test_a_private_repository_never_shows(page, gallery):
    for query in ("secret-stash", "secret", "stash"):
        page.goto(f"/search?q={query}")
        assert result_names(page) == []
    page.goto(f"/{gallery.alias}")
    assert "secret-stash" not in page.content()
    response = page.goto(f"/{gallery.alias}/secret-stash")
    assert response.status == 404
    assert "Nothing here" in page.content()


def test_publisher_page(page, gallery, artifacts):
    page.goto(f"/{gallery.alias}")
    assert page.get_by_role("heading", level=1).inner_text().startswith(gallery.alias)
    assert "1 public repository" in page.content()
    page.screenshot(path=str(artifacts / "publisher.png"), full_page=True)


def test_repository_page_tags_and_a_pull_command_that_pulls(page, berth, gallery, artifacts, tmp_path):
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(f"/{gallery.alias}/birds/hummingbird")
    assert page.title() == f"{gallery.alias}/birds/hummingbird — Berth gallery"
    assert page.locator(
        ".prose h2", has_text="Hummingbird"
    ).is_visible()  # the about text's heading, under the page's h1
    # Markdown's script and event handler stayed text.
    assert page.evaluate("window.pwned") is None and dialogs == []
    command = page.locator("#pull-command").inner_text()
    assert command == f"docker pull {berth.host}/{gallery.alias}/birds/hummingbird:v1"
    page.screenshot(path=str(artifacts / "repository.png"), full_page=True)

    page.get_by_role("link", name=re.compile("Image tags")).click()
    row = page.locator(".tags-table tbody tr").first
    assert row.locator("th").inner_text() == "v1"
    assert "sha256:" in row.inner_text()

    # The command's reference pulls anonymously.
    reference = command.removeprefix("docker pull ")
    pulled = run_isolated(
        [
            "skopeo",
            "copy",
            "--src-tls-verify=false",
            "--src-no-creds",
            f"docker://{reference}",
            f"oci:{tmp_path / 'pulled'}:v1",
        ],
        tmp_path / "skopeo",
    )
    assert pulled.returncode == 0
    index = json.loads((tmp_path / "pulled" / "index.json").read_text())
    assert index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"] == "v1"

    # The pull is counted once the audit recorder flushes its batch (every second or so).
    deadline = time.monotonic() + 30
    while True:
        page.goto(f"/{gallery.alias}/birds/hummingbird")
        pulls = int(page.locator(".details dt:has-text('Pulls') + dd").inner_text())
        if pulls >= 1 or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert pulls >= 1


def test_the_copy_button_copies_the_pull_command(new_context, gallery):
    from playwright.sync_api import expect

    page = new_context(permissions=["clipboard-read", "clipboard-write"]).new_page()
    page.goto(f"/{gallery.alias}/birds/hummingbird")
    button = page.locator(".copy-button")
    button.click()
    expect(button).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == page.locator("#pull-command").inner_text()


def test_keyboard_reaches_the_content_through_the_skip_link(page, gallery):
    page.goto("/search")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    assert skip.evaluate("element => element === document.activeElement")
    page.keyboard.press("Enter")
    assert page.url.endswith("#main")


def test_readable_on_a_phone(new_context, gallery):
    page = new_context(viewport={"width": 375, "height": 740}, is_mobile=True).new_page()
    page.goto(f"/{gallery.alias}/birds/hummingbird")
    # Nothing wider than the screen: no sideways scrolling.
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    # The pull command stays on one line (it scrolls in its box) instead of breaking inside a word.
    lines = page.locator(".copy-box code").first.evaluate(
        "code => Math.round(code.getBoundingClientRect().height / parseFloat(getComputedStyle(code).lineHeight || 20))"
    )
    assert lines <= 2  # one line of text, plus the box's padding
