"""The public gallery in a real browser against a live server: search, filters,
publisher and repository pages, the pull command pulling with skopeo, and what must
never show (a private repository, script from Markdown); the phone layout (pull box
above the about text, filters folded), the tags tab's filter, sort and copy buttons
staying on the tab, per-platform sizes of a multi-arch tag, and the pull sparkline.
Screenshots at 1280 and 390 pixels wide go to tests/browser/artifacts."""

from __future__ import annotations

import json
import re
import time

import pytest

from tests.browser.conftest import DESKTOP, PHONE, shoot
from tests.e2e import images
from tests.e2e.conftest import need, run_isolated

# What the browser sees and runs; the views' queries are tested on both databases in apps/.
pytestmark = [pytest.mark.e2e, pytest.mark.database_independent]

DESCRIPTION = "A friendly hummingbird web server for tiny sites"
ABOUT = (
    "# Hummingbird\n\nServes **static** files.\n\n<script>window.pwned = 1</script>\n\n"
    '<img src=x onerror="window.pwned = 2">\n\n[docs](javascript:window.pwned=3)\n\n'
    + "## Configuration\n\n"
    + "A long paragraph about configuring the server, as READMEs have. " * 30
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
    # A second public repository: a single-platform tag and a multi-arch one (an index of two platforms).
    berth.create_repository(publisher.account_id, "birds/swift", public=True)
    single = images.build_oci_image(tmp / "swift-single", tag="v1")
    multi = images.build_multiarch_index(tmp / "swift-multi", tag="v1")
    for layout, tag, extra in ((single, "1.0-slim", []), (multi, "2.0", ["--all"])):
        run_isolated(
            [
                "skopeo",
                "copy",
                *extra,
                "--dest-tls-verify=false",
                "--dest-creds",
                publisher.creds,
                f"oci:{layout.path}:v1",
                f"docker://{berth.host}/{publisher.account_id}/birds/swift:{tag}",
            ],
            tmp / "skopeo",
        )
    shell(
        berth,
        (
            "from datetime import timedelta; from django.utils import timezone; "
            "from apps.gallery.models import PullCount; from apps.repositories.models import Repository; "
            f"r = Repository.objects.get(account_id='{publisher.account_id}', name='birds/swift'); "
            "today = timezone.now().date(); "
            "PullCount.objects.create(repository=r, tag='2.0', day=today, count=1234); "
            "PullCount.objects.create(repository=r, tag='1.0-slim', day=today - timedelta(days=3), count=66); "
            "from apps.gallery.models import GalleryEntry; "
            "GalleryEntry.objects.filter(repository=r).update(pull_count=1300)"
        ),
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
    # the alias finds every repository of the publisher
    found = sorted(result_names(page))
    assert found == (["birds/hummingbird"] if how != "alias" else ["birds/hummingbird", "birds/swift"])
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
    assert "2 public repositories" in page.content()
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
    assert row.locator("th a").inner_text() == "v1"
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
    page.wait_for_url(re.compile(r"#main$"), timeout=10_000)


def test_readable_on_a_phone(new_context, gallery):
    page = new_context(viewport={"width": 375, "height": 740}, is_mobile=True).new_page()
    page.set_default_timeout(15_000)
    page.goto(f"/{gallery.alias}/birds/hummingbird")
    # Nothing wider than the screen: no sideways scrolling.
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    # The pull command stays on one line (it scrolls in its box) instead of breaking inside a word.
    lines = page.locator(".copy-box code").first.evaluate(
        "code => Math.round(code.getBoundingClientRect().height / parseFloat(getComputedStyle(code).lineHeight || 20))"
    )
    assert lines <= 2  # one line of text, plus the box's padding


def tag_rows(page) -> list[str]:
    return page.locator(".tags-table tbody th a").all_inner_texts()


def test_on_a_phone_the_pull_box_comes_before_the_about_text(new_context, gallery, artifacts):
    page = new_context(viewport=PHONE, is_mobile=True).new_page()
    page.set_default_timeout(15_000)
    page.goto(f"/{gallery.alias}/birds/hummingbird")
    pull = page.locator("#pull-command").bounding_box()
    about = page.locator(".prose").bounding_box()
    assert pull["y"] + pull["height"] < about["y"]
    assert pull["y"] + pull["height"] < PHONE["height"]  # the command is on the first screen
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    # The keyboard reaches the pull box's copy button before the section tabs.
    order = page.evaluate(
        """() => [...document.querySelectorAll('a[href], button:not([hidden])')]
              .filter(e => e.closest('.repo-layout'))
              .map(e => e.classList.contains('copy-button') ? 'copy' : e.closest('.tabs') ? 'tab' : 'other')"""
    )
    assert order.index("copy") < order.index("tab")
    shoot(page, artifacts, "gallery-repository")
    wide = new_context(viewport=DESKTOP).new_page()
    wide.goto(f"/{gallery.alias}/birds/hummingbird")
    pull = wide.locator(".repo-pull").bounding_box()
    about = wide.locator(".prose").bounding_box()
    assert pull["x"] > about["x"] + about["width"] and abs(pull["y"] - about["y"]) < 80  # beside the text
    shoot(wide, artifacts, "gallery-repository")


def test_on_a_phone_the_filters_fold_and_results_start_on_the_first_screen(new_context, gallery, artifacts):
    from playwright.sync_api import expect

    page = new_context(viewport=PHONE, is_mobile=True).new_page()
    page.set_default_timeout(15_000)
    # by the publisher's alias: other tests on this server publish birds of their own
    page.goto(f"/search?q={gallery.alias}")
    expect(page.get_by_label("Operating system")).to_be_hidden()
    first = page.locator(".results .card").first.bounding_box()
    assert first["y"] < PHONE["height"] / 2
    shoot(page, artifacts, "gallery-search")
    page.locator("summary", has_text="Filters").click()
    expect(page.get_by_label("Operating system")).to_be_visible()
    with page.expect_navigation():
        page.get_by_label("Kind").select_option("image")
    assert "kind=image" in page.url
    assert page.locator("summary .count").inner_text() == "1"  # the folded summary says a filter is on
    assert sorted(result_names(page)) == ["birds/hummingbird", "birds/swift"]

    wide = new_context(viewport=DESKTOP).new_page()
    wide.goto("/search?q=birds")
    expect(wide.get_by_label("Operating system")).to_be_visible()  # a sidebar, unfolded
    expect(wide.locator("summary")).to_be_hidden()
    shoot(wide, artifacts, "gallery-search")

    # Without JavaScript: a wide screen still shows the filters unfolded (CSS), a phone folds them.
    for viewport, shown in ((DESKTOP, True), (PHONE, False)):
        plain = new_context(viewport=viewport, java_script_enabled=False).new_page()
        plain.goto("/search?q=birds")
        assert plain.get_by_label("Operating system").is_visible() is shown, viewport
    plain.locator("summary", has_text="Filters").click()
    expect(plain.get_by_label("Operating system")).to_be_visible()


def test_tags_tab_filter_sort_and_choice_stay_on_the_tab(new_context, berth, gallery, artifacts):
    from playwright.sync_api import expect

    page = new_context(viewport=DESKTOP).new_page()
    page.set_default_timeout(15_000)
    page.goto(f"/{gallery.alias}/birds/swift")
    with page.expect_navigation():  # reading the rows before the tab has loaded would read the old page's
        page.get_by_role("link", name=re.compile("Image tags")).click()
    assert "tab=tags" in page.url
    assert tag_rows(page) == ["2.0", "1.0-slim"]  # newest first

    with page.expect_navigation():
        page.get_by_label("Sort by").select_option("name")
    assert "tab=tags" in page.url and "sort=name" in page.url
    assert tag_rows(page) == ["1.0-slim", "2.0"]
    with page.expect_navigation():
        page.get_by_label("Sort by").select_option("pulls")
    assert tag_rows(page) == ["2.0", "1.0-slim"]
    assert page.locator(".tags-table tbody tr").first.locator("td.num").inner_text() == "1.2K"

    page.get_by_label("Filter image tags").fill("slim")
    with page.expect_navigation():
        page.get_by_label("Filter image tags").press("Enter")
    assert "tab=tags" in page.url and "filter=slim" in page.url and "sort=pulls" in page.url
    assert tag_rows(page) == ["1.0-slim"]
    expect(page.get_by_role("link", name="Image tags")).to_have_attribute("aria-current", "page")
    with page.expect_navigation():
        page.get_by_role("link", name="Show all").click()
    assert tag_rows(page) == ["2.0", "1.0-slim"] and "tab=tags" in page.url

    # Choosing a tag shows its pull command and stays on the tab.
    with page.expect_navigation():
        page.get_by_role("link", name="1.0-slim", exact=True).click()
    assert "tab=tags" in page.url
    assert page.locator("#pull-command").inner_text().endswith("/birds/swift:1.0-slim")

    # The multi-arch tag lists each platform with its own size (once the worker measured them).
    deadline = time.monotonic() + 30
    while True:
        page.goto(f"/{gallery.alias}/birds/swift?tab=tags&tag=2.0")
        sizes = page.locator(".tags-table tbody tr").first.locator(".platform-sizes li").all_inner_texts()
        if len(sizes) == 2 and all("iB" in size for size in sizes) or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert [size.split()[0] for size in sizes] == ["linux/amd64", "linux/arm64/v8"]
    assert all(re.search(r"\d B|KiB|MiB", size) for size in sizes)
    shoot(page, artifacts, "gallery-tags")

    phone = new_context(viewport=PHONE, is_mobile=True).new_page()
    phone.goto(f"/{gallery.alias}/birds/swift?tab=tags")
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]  # the table scrolls in its box
    shoot(phone, artifacts, "gallery-tags")


def test_each_tags_copy_button_copies_its_pull_command(new_context, berth, gallery):
    from playwright.sync_api import expect

    page = new_context(permissions=["clipboard-read", "clipboard-write"], viewport=DESKTOP).new_page()
    page.set_default_timeout(15_000)
    page.goto(f"/{gallery.alias}/birds/swift?tab=tags&sort=name")
    button = page.get_by_role("button", name="Copy the pull command for 2.0")
    button.click()
    expect(button).to_have_text("Copied")
    assert (
        page.evaluate("navigator.clipboard.readText()") == f"docker pull {berth.host}/{gallery.alias}/birds/swift:2.0"
    )


def test_the_pull_sparkline_summarises_the_last_30_days(page, gallery):
    page.goto(f"/{gallery.alias}/birds/swift")
    sparkline = page.locator("svg.sparkline")
    assert sparkline.is_visible()
    assert sparkline.get_attribute("aria-label") == "1,300 pulls in the last 30 days, at most 1,234 a day"
    assert sparkline.get_attribute("role") == "img"
    assert page.get_by_role("img", name=re.compile("pulls in the last 30 days")).count() == 1
