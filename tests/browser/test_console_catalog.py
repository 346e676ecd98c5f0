"""The catalog data editor in a real browser: the live preview follows the about
text as it is typed (the gallery's sanitizer: a <script> never arrives), a PNG logo
uploads and shows, the data reaches the gallery page; a private repository is told
why it has none. Screenshots at desktop and phone widths."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image

from .conftest import DESKTOP, PHONE, shoot

pytestmark = [pytest.mark.e2e, pytest.mark.database_independent]

ABOUT = "# Finch\n\nSings **loudly**.\n\n<script>window.pwned = 1</script>\n\n| a | b |\n|---|---|\n| 1 | 2 |"


@pytest.fixture
def finch(berth, console_account):
    berth.create_repository(console_account.account_id, "birds/finch", public=True)
    return "birds/finch"


def small_png(path):
    buffer = io.BytesIO()
    Image.new("RGB", (96, 96), (240, 160, 40)).save(buffer, format="PNG")
    path.write_bytes(buffer.getvalue())
    return path


def test_edit_the_catalog_data_with_a_live_preview_and_a_logo(console, console_account, finch, artifacts, tmp_path):
    dialogs = []
    page = console(viewport=DESKTOP)
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    response = page.goto(f"/console/repositories/{finch}/-/catalog")
    assert response.status == 200, page.content()[-3000:]
    assert page.get_by_role("link", name="Catalog data").get_attribute("aria-current") == "page"
    assert page.get_by_role("link", name="Open the gallery page").get_attribute("href") == (
        f"/{console_account.alias}/{finch}"
    )
    page.get_by_label("Description").fill("A small loud bird")
    about = page.get_by_label("About")
    about.fill(ABOUT)
    pane = page.locator("[data-preview-pane='about']")
    # The pane follows the text without a page load: the heading sits under the page's h1.
    pane.locator("h2", has_text="Finch").wait_for()
    assert pane.locator("strong").inner_text() == "loudly"
    assert pane.locator("table td").first.inner_text() == "1"
    assert pane.locator("script").count() == 0 and "window.pwned = 1" in pane.inner_text()
    about.press("End")
    about.type("\n\nMore *words*.")
    pane.locator("em", has_text="words").wait_for()
    assert page.evaluate("window.pwned") is None and dialogs == []

    page.get_by_label("Linux").check()
    page.get_by_label("ARM 64").check()
    page.get_by_label("Upload a logo").set_input_files(str(small_png(tmp_path / "finch.png")))
    page.get_by_role("button", name="Save catalog data").click()
    page.get_by_text(f"Catalog data of {finch} saved").wait_for()
    logo = page.get_by_role("img", name=f"The current logo of {finch}")
    assert page.evaluate("(image) => image.complete && image.naturalWidth", logo.element_handle()) == 96
    assert "PNG, 96×96 pixels" in page.content()
    assert page.get_by_label("Linux").is_checked() and page.get_by_label("ARM 64").is_checked()
    assert page.locator("[data-preview-pane='about'] h2").inner_text() == "Finch"
    shoot(page, artifacts, "console-catalog")

    # The gallery shows what was saved (its rows follow through domain events).
    gallery = page.context.new_page()
    for _ in range(20):
        gallery.goto(f"/{console_account.alias}/{finch}")
        if "A small loud bird" in gallery.content():
            break
        gallery.wait_for_timeout(250)
    assert gallery.locator(".prose h2", has_text="Finch").is_visible()
    assert gallery.evaluate("window.pwned") is None


def test_a_bad_logo_is_refused_and_the_preview_button_works_without_the_live_preview(
    console, finch, artifacts, tmp_path
):
    page = console(viewport=PHONE)
    page.goto(f"/console/repositories/{finch}/-/catalog")
    (tmp_path / "not.png").write_bytes(b"GIF89a, not a picture")
    page.get_by_label("Usage").fill("Run `finch --sing`")
    page.get_by_label("Upload a logo").set_input_files(str(tmp_path / "not.png"))
    page.get_by_role("button", name="Save catalog data").click()
    page.get_by_text("the logo is not a PNG or JPEG image").wait_for()
    assert page.get_by_text("Nothing was saved").is_visible()
    assert page.get_by_label("Usage").input_value() == "Run `finch --sing`"  # the draft is kept
    # The form's own Preview button (what a browser without script uses).
    page.get_by_role("button", name="Preview").click()
    page.get_by_text("This is a preview").wait_for()
    assert page.locator("[data-preview-pane='usage'] code").inner_text() == "finch --sing"
    shoot(page, artifacts, "console-catalog")


def test_a_private_repository_is_told_why_it_has_no_catalog_data(berth, console, console_account):
    berth.create_repository(console_account.account_id, "birds/secret")
    page = console(viewport=DESKTOP)
    response = page.goto("/console/repositories/birds/secret/-/catalog")
    assert response.status == 404
    assert page.get_by_role("heading", name="Catalog data is for public repositories").is_visible()
    assert re.search(r"/-/settings$", page.get_by_role("link", name="its settings").get_attribute("href"))
