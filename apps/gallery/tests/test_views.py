"""The gallery's pages as a browser gets them."""

from __future__ import annotations

import io
import re
from html.parser import HTMLParser

import pytest
from django.test import Client
from PIL import Image

from apps.accounts.models import Alias
from apps.accounts.registries import add_alias, put_registry_catalog_data
from apps.accounts.services import set_publisher_verified, suspend_account
from apps.audit.events import Actor
from apps.registry.content import media_types as mt
from apps.repositories import catalog
from apps.repositories.models import Visibility

from ..models import GalleryEntry
from .conftest import add_tag


@pytest.fixture
def acme(make_tenant):
    return make_tenant("acme").account


@pytest.fixture
def alias(acme) -> str:
    return Alias.objects.get(account=acme).name


@pytest.fixture
def client() -> Client:
    return Client()


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs) -> None:
        self.found.append((tag, dict(attrs)))


def parsed_elements(body: str) -> list[tuple[str, dict]]:
    """Every element a browser would build from ``body``, with its attributes."""
    parser = _Elements()
    parser.feed(body)
    return parser.found


def title(response) -> str:
    return re.search(r"<title>(.*?)</title>", response.content.decode(), re.S).group(1).strip()


def meta_description(response) -> str:
    return re.search(r'<meta name="description" content="(.*?)">', response.content.decode(), re.S).group(1)


def test_home_has_its_sections_title_and_description(client, acme, publish):
    publish(acme, "web/nginx", description="Web server")
    response = client.get("/")
    assert response.status_code == 200
    assert title(response) == "Berth gallery — public container images and Helm charts"
    assert meta_description(response)
    body = response.content.decode()
    assert "web/nginx" in body and "Popular" in body and "Recently updated" in body
    assert 'href="#main"' in body  # skip link


def test_an_empty_gallery_home_says_so(client, db):
    response = client.get("/")
    assert response.status_code == 200
    assert "No public repositories yet" in response.content.decode()


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?q=",
        "?q=zzzqqq",
        "?page=abc",
        "?page=-5",
        "?page=99999",
        "?q=x&os=Nope&sort=bogus",
        "?q=" + "a" * 5000,
        "?q=%27%22%3C%3E",
        "?q=a+b+c+d+e+f+g+h+i+j+k+l",
    ],
)
def test_search_never_errors(client, acme, publish, query):
    publish(acme, "tool")
    response = client.get("/search" + query)
    assert response.status_code == 200
    assert "Search" in title(response)


def test_search_page_lists_matches_and_helps_when_none(client, acme, publish):
    publish(acme, "web/nginx", description="Reverse proxy")
    response = client.get("/search", {"q": "proxy"})
    body = response.content.decode()
    assert "1 result for “proxy”" in body and "web/nginx" in body
    assert title(response) == "“proxy” — Search — Berth gallery"
    response = client.get("/search", {"q": "nothing-like-it", "os": "Linux"})
    body = response.content.decode()
    assert "No public repository matches" in body and "Search again without filters" in body


def test_counts_stop_at_the_cap(client, acme, publish, monkeypatch):
    from .. import selectors

    monkeypatch.setattr(selectors, "MAX_RESULTS", 3)
    for n in range(5):
        publish(acme, f"tool{n}")
    body = client.get("/search", {"q": "tool"}).content.decode()
    assert "5 results for “tool”" in body
    assert "Showing the first 3 of 5 — refine your search or use the filters." in body
    assert body.count('class="card"') == 3
    assert client.get("/search").content.decode().count('class="card"') == 3
    # Past MAX_COUNTED the count says "more than".
    monkeypatch.setattr(selectors, "MAX_COUNTED", 4)
    body = client.get("/search", {"q": "tool", "kind": "helm"}).content.decode()
    assert "0 results" in body and "Showing the first" not in body  # no Helm chart: not capped
    body = client.get("/search", {"q": "tool"}).content.decode()
    assert "More than 4 results for “tool”" in body
    assert "Showing the first 3 of more than 4 — refine your search" in body


def test_a_search_under_the_cap_says_nothing_about_it(client, acme, publish):
    publish(acme, "tool")
    body = client.get("/search", {"q": "tool"}).content.decode()
    assert "1 result for “tool”" in body and "Showing the first" not in body


def test_search_form_controls_are_labelled(client, db):
    body = client.get("/search").content.decode()
    for control_id in ("search-q", "filter-os", "filter-arch", "filter-kind", "filter-verified", "filter-sort"):
        assert f'for="{control_id}"' in body and f'id="{control_id}"' in body


def test_publisher_page(client, acme, alias, publish):
    publish(acme, "one")
    publish(acme, "two", visibility=Visibility.PRIVATE)
    response = client.get(f"/{alias}")
    assert response.status_code == 200
    body = response.content.decode()
    # The alias is random and may itself contain "one" or "two": look for the repositories' links.
    assert f'href="/{alias}/one"' in body and f'href="/{alias}/two"' not in body
    assert "1 public repository" in body
    assert title(response) == f"{alias} — Berth gallery"


def test_unknown_publisher_and_repository_are_404_pages(client, acme, alias, publish):
    publish(acme, "hidden", visibility=Visibility.PRIVATE)
    for path in (
        "/nobody-at-all",
        f"/{alias}/hidden",
        f"/{alias}/missing",
        f"/{acme.id}/hidden",
        f"/{alias}/hidden/-/logo",
    ):
        response = client.get(path)
        assert response.status_code == 404, path
    response = client.get(f"/{alias}/hidden")
    assert "Nothing here" in response.content.decode()
    assert "text/html" in response["Content-Type"]


def test_a_private_repository_never_shows(client, acme, alias, publish):
    publish(acme, "public-one", description="shared")
    publish(acme, "private-one", description="shared secret", visibility=Visibility.PRIVATE)
    pages = [
        client.get(p).content.decode() for p in ("/", "/search", "/search?q=shared", "/search?q=private", f"/{alias}")
    ]
    assert all("private-one" not in page for page in pages)
    assert "1 result for “shared”" in pages[2]
    assert "0 results for “private”" in pages[3]


def test_repository_page_shows_texts_facts_and_the_pull_command(client, acme, alias, publish, settings):
    settings.BERTH_PUBLIC_URL = "https://registry.example.test"
    publish(
        acme,
        "tools/curl",
        description="Transfers data",
        about="# Curl\n\nFetch **things**.",
        usage="Run `curl`.",
        architectures=["ARM 64"],
        operating_systems=["Linux"],
    )
    response = client.get(f"/{alias}/tools/curl")
    assert response.status_code == 200
    body = response.content.decode()
    assert title(response) == f"{alias}/tools/curl — Berth gallery"
    assert meta_description(response) == "Transfers data"
    assert "<h2>Curl</h2>" in body and "<strong>things</strong>" in body  # under the page's own h1
    assert f"docker pull registry.example.test/{alias}/tools/curl:latest" in body
    assert "ARM 64" in body and "Linux" in body
    usage = client.get(f"/{alias}/tools/curl?tab=usage").content.decode()
    assert "<code>curl</code>" in usage


def test_a_repository_page_redirects_from_a_trailing_slash_and_from_an_older_alias(
    client, acme, alias, publish, committed
):
    publish(acme, "tools/curl")
    response = client.get(f"/{alias}/tools/curl/?tab=tags")
    assert (response.status_code, response["Location"]) == (301, f"/{alias}/tools/curl?tab=tags")
    with committed():
        add_alias(alias=Alias(account=acme, name="initech"), primary=True)
    response = client.get(f"/{alias}/tools/curl?tab=tags")
    assert (response.status_code, response["Location"]) == (302, "/initech/tools/curl?tab=tags")
    assert client.get("/initech/tools/curl").status_code == 200
    response = client.get(f"/{alias}/?page=2")
    assert (response.status_code, response["Location"]) == (302, "/initech?page=2")


def test_a_repository_page_has_link_preview_tags(client, acme, alias, publish, settings):
    settings.BERTH_PUBLIC_URL = "https://registry.example.test"
    publish(acme, "tools/curl", description="Transfers data")
    body = client.get(f"/{alias}/tools/curl").content.decode()
    assert f'<meta property="og:url" content="https://registry.example.test/{alias}/tools/curl">' in body
    assert f'<meta property="og:title" content="{alias}/tools/curl">' in body
    assert '<meta property="og:description" content="Transfers data">' in body


@pytest.mark.parametrize(
    "pasted, location",
    [
        ("registry.example.test/{alias}/tools/curl:8.1", "/{alias}/tools/curl?tag=8.1"),
        ("docker pull localhost:5000/{alias}/tools/curl", "/{alias}/tools/curl"),
        ("{alias}/tools/curl@sha256:" + "a" * 64, "/{alias}/tools/curl"),
        ("oci://127.0.0.1:5000/{alias}/tools/curl --version 1.0", "/{alias}/tools/curl"),
    ],
)
def test_a_pasted_image_address_finds_its_repository(client, acme, alias, publish, pasted, location):
    publish(acme, "tools/curl")
    response = client.get("/search", {"q": pasted.format(alias=alias)})
    assert (response.status_code, response["Location"]) == (302, location.format(alias=alias))


def test_an_address_of_no_listed_repository_is_searched_as_words(client, acme, alias, publish):
    publish(acme, "tools/curl")
    assert client.get("/search", {"q": f"{alias}/tools/wget:1"}).status_code == 200
    assert client.get("/search", {"q": "curl"}).status_code == 200


def test_the_pull_command_uses_the_request_host_without_a_public_url(client, acme, alias, publish, settings):
    settings.BERTH_PUBLIC_URL = ""
    settings.ALLOWED_HOSTS = ["berth.local"]
    publish(acme, "tool")
    body = client.get(f"/{alias}/tool", HTTP_HOST="berth.local:5000").content.decode()
    assert f"docker pull berth.local:5000/{alias}/tool:latest" in body


def test_a_helm_chart_gets_a_helm_pull_command(client, acme, alias, publish, settings):
    settings.BERTH_PUBLIC_URL = "https://r.example.test"
    publish(acme, "charts/web", tags=("1.2.0",), config_media_type=mt.HELM_CONFIG)
    body = client.get(f"/{alias}/charts/web").content.decode()
    assert f"helm pull oci://r.example.test/{alias}/charts/web --version 1.2.0" in body


def test_a_chosen_tag_or_else_latest_or_else_the_newest(client, acme, alias, publish, settings):
    settings.BERTH_PUBLIC_URL = "https://r.example.test"
    repository = publish(acme, "app", tags=("v1", "v2"))
    body = client.get(f"/{alias}/app").content.decode()
    assert f"{alias}/app:v2" in body  # the newest, with no latest
    add_tag(repository, "latest")
    assert f"{alias}/app:latest" in client.get(f"/{alias}/app").content.decode()
    assert f"{alias}/app:v1" in client.get(f"/{alias}/app?tag=v1").content.decode()
    body = client.get(f"/{alias}/app?tag=nope").content.decode()
    assert "There is no tag “nope”" in body and f"{alias}/app:latest" in body


def test_tags_tab_lists_tags_with_digest_size_and_platforms_paginated(client, acme, alias, publish):
    repository = publish(acme, "app", tags=())
    for n in range(30):
        add_tag(
            repository, f"v{n}", total_size=2048, platforms=[{"os": "linux", "architecture": "arm64", "variant": "v8"}]
        )
    page_one = client.get(f"/{alias}/app?tab=tags").content.decode()
    assert "linux/arm64/v8" in page_one and "2.0\xa0KiB" in page_one and "sha256:" in page_one
    assert "Page 1 of 2" in page_one and "tab=tags&amp;page=2" in page_one
    page_two = client.get(f"/{alias}/app?tab=tags&page=2").content.decode()
    assert page_two.count("<tr>") == 1 + 5  # header row and the last five tags
    assert client.get(f"/{alias}/app?tab=tags&page=banana").status_code == 200


def test_markdown_with_script_and_onerror_renders_inert(client, acme, alias, publish):
    publish(
        acme,
        "evil",
        about='<script>alert(1)</script>\n\n<img src=x onerror="alert(2)">\n\n'
        "![x](javascript:alert(3))\n\n[click](javascript:alert(4))",
        usage="<iframe src=//evil></iframe>",
        description='<b onmouseover="alert(5)">desc</b>',
    )
    about = client.get(f"/{alias}/evil").content.decode()
    usage = client.get(f"/{alias}/evil?tab=usage").content.decode()
    for body in (about, usage):
        elements = parsed_elements(body)
        # The page's own script is the only one, and no element carries an event handler.
        assert [attrs.get("src") for tag, attrs in elements if tag == "script"] == ["/static/gallery/site.js"]
        assert not [(tag, name) for tag, attrs in elements for name in attrs if name.startswith("on")]
        assert not [tag for tag, _ in elements if tag in ("iframe", "b")]
        assert not [v for _, attrs in elements for v in attrs.values() if (v or "").strip().startswith("javascript:")]
    assert "&lt;script&gt;" in about and "&lt;img src=x onerror=" in about  # shown as the text it is


def test_verified_badge_display_name_only_for_verified_publishers(client, acme, alias, publish, committed):
    publish(acme, "tool")
    with committed():
        put_registry_catalog_data(actor=Actor.system("test"), account=acme, display_name="Initech Software")
    for path in (f"/{alias}", f"/{alias}/tool", "/search"):
        body = client.get(path).content.decode()
        assert "Initech Software" not in body and 'class="verified"' not in body, path
    with committed():
        set_publisher_verified(account=acme, verified=True, actor=Actor.staff("operator"))
    for path in (f"/{alias}", f"/{alias}/tool", "/search", "/"):
        body = client.get(path).content.decode()
        assert 'class="verified"' in body, path
    assert "Initech Software" in client.get(f"/{alias}").content.decode()
    assert "Initech Software" in client.get("/").content.decode()  # the verified publishers section


def test_a_suspended_publisher_disappears(client, acme, alias, publish):
    publish(acme, "tool")
    suspend_account(account=acme, reason="abuse", actor=Actor.staff("operator"))
    assert client.get(f"/{alias}").status_code == 404
    assert client.get(f"/{alias}/tool").status_code == 404
    assert "0 results for “tool”" in client.get("/search?q=tool").content.decode()


def _png(side: int = 64) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (side, side), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_logo_is_public_for_listed_repositories_with_etag_and_caching(client, acme, alias, publish, committed):
    repository = publish(acme, "tool")
    assert client.get(f"/{alias}/tool/-/logo").status_code == 404
    data = _png()
    with committed():
        catalog.put_repository_catalog_data(actor=Actor.system("test"), repository=repository, logo=data)
    assert GalleryEntry.objects.get().has_logo
    response = client.get(f"/{alias}/tool/-/logo")
    assert response.status_code == 200
    assert response.content == data and response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "public" in response["Cache-Control"] and "max-age=3600" in response["Cache-Control"]
    etag = response["ETag"]
    again = client.get(f"/{alias}/tool/-/logo", HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304 and again["ETag"] == etag
    assert f'src="/{alias}/tool/-/logo"' in client.get(f"/{alias}/tool").content.decode()


def test_pages_answer_only_safe_methods(client, acme, alias, publish):
    publish(acme, "tool")
    assert client.post("/search").status_code == 405
    assert client.post(f"/{alias}/tool").status_code == 405
    assert client.head(f"/{alias}/tool").status_code == 200


def test_the_gallery_routes_do_not_shadow_the_registry_api(client, db):
    assert client.get("/v2/").status_code in (200, 401)
    assert client.get("/api/v1/nothing").status_code in (401, 403, 404)


def test_search_filters_fold_behind_a_filters_disclosure(client, acme, publish):
    publish(acme, "tool")
    body = client.get("/search", {"q": "tool"}).content.decode()
    details = re.search(
        r'<details class="filter-disclosure">\s*<summary[^>]*>(.*?)</summary>(.*?)</details>', body, re.S
    )
    assert details is not None  # folded (no `open`): on a phone the results come first
    assert details.group(1).strip() == "Filters"
    for control_id in ("filter-os", "filter-arch", "filter-kind", "filter-verified", "filter-sort"):
        assert f'id="{control_id}"' in details.group(2)
    assert 'id="search-q"' not in details.group(2)  # the search box itself stays out
    body = client.get("/search", {"q": "tool", "os": "Linux", "verified": "1"}).content.decode()
    summary = re.search(r"<summary[^>]*>(.*?)</summary>", body, re.S).group(1)
    assert '<span class="count" aria-label="2 in use">2</span>' in summary


def test_capped_look_alikes_say_they_are_the_closest_without_counting_them(
    client, acme, publish, monkeypatch, django_assert_max_num_queries
):
    from .. import selectors

    for name in ("postgres", "postgres-operator", "charts/postgres"):
        publish(acme, name)
    monkeypatch.setattr(selectors, "MAX_SIMILAR_RESULTS", 2)
    with django_assert_max_num_queries(4):  # the exact pass, the look-alikes, the page's rows, their aliases
        body = client.get("/search", {"q": "postgress"}).content.decode()
    assert "More than 2 results for “postgress”" in body
    assert "Showing the 2 closest names — refine your search or use the filters." in body
    assert "Nothing matched those words exactly" in body
    assert body.count('class="card"') == 2
