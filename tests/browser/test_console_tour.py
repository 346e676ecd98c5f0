"""Every console page a signed-in publisher reaches by following links, in a real
browser at a desk's and a phone's width: each answers 200, none makes the phone
scroll sideways (a wide table scrolls in its own box), every page has one h1, and
every link the console draws leads somewhere (no 404, no 500)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.browser.conftest import DESKTOP, PHONE, shoot
from tests.e2e import images
from tests.e2e.conftest import need, run_isolated

# Run beside the SQLite pass in the PostgreSQL one, which ends sooner: the two passes take about as long then.
pytestmark = [pytest.mark.e2e, pytest.mark.database_independent(pass_="postgres")]

# Pages the tour does not open: sign-out, the gallery and the API (tested elsewhere),
# downloads, and every address that would change something by a GET (none should).
SKIPPED_PREFIXES = ("/accounts/logout", "/api/", "/admin/", "/static/", "/search")


def console_links(page) -> list[str]:
    hrefs = page.eval_on_selector_all("a[href]", "links => links.map(a => a.getAttribute('href'))")
    found = []
    for href in hrefs:
        parts = urlsplit(href)
        if parts.scheme or parts.netloc or not parts.path.startswith("/console"):
            continue
        if parts.path.endswith(".csv") or parts.path.startswith(SKIPPED_PREFIXES):
            continue
        found.append(parts.path + (f"?{parts.query}" if parts.query else ""))
    return found


@pytest.fixture
def account_with_images(berth, console_account, tmp_path):
    """The console account with a private and a public repository holding an image."""
    need("skopeo")
    image = images.build_oci_image(tmp_path / "image", tag="v1")
    berth.create_repository(console_account.account_id, "tour/public-app", public=True)
    for name in ("tour/private-app", "tour/public-app"):
        run_isolated(
            [
                "skopeo",
                "copy",
                "--dest-tls-verify=false",
                "--dest-creds",
                console_account.creds,
                f"oci:{image.path}:v1",
                f"docker://{berth.host}/{console_account.account_id}/{name}:v1",
            ],
            tmp_path / "skopeo",
        )
    return console_account


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_every_console_page_reached_by_links_renders_and_fits(console, account_with_images, artifacts, viewport):
    page = console(viewport=viewport)
    queue, seen, failures = ["/console", "/console/repositories/tour/public-app"], set(), []
    while queue and len(seen) < 80:
        path = queue.pop(0)
        if path in seen:
            continue
        seen.add(path)
        response = page.goto(path)
        status = response.status if response is not None else 0
        if status != 200:
            failures.append(f"{path}: HTTP {status}")
            continue
        if page.locator("h1").count() != 1:
            failures.append(f"{path}: {page.locator('h1').count()} h1 elements")
        overflow = page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth")
        if overflow > 1:
            failures.append(f"{path}: the page scrolls sideways by {overflow}px at {viewport['width']}px")
        slug = path.strip("/").replace("/", "_").replace("?", "_") or "console"
        if viewport is PHONE:  # each area's own tests photograph its pages at both widths
            shoot(page, artifacts, f"tour-{slug}"[:120])
        queue.extend(link for link in console_links(page) if link not in seen)
    assert len(seen) >= 12, f"the tour reached only {sorted(seen)}"
    assert failures == [], "\n".join(failures)
