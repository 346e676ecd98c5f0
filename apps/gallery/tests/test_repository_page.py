"""The repository page: the pull box before the about text, the tags tab (copy per row,
size per platform, pulls per tag, filter and sort that keep the tab), the pull
sparkline, and every gallery page's query budget."""

from __future__ import annotations

import hashlib
import re
from datetime import date, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from apps.accounts.models import Alias
from apps.registry.content import media_types as mt
from apps.registry.models import Manifest, ManifestChild, Tag

from .. import selectors
from ..models import GalleryEntry, PullCount
from ..templatetags.gallery import sparkline
from .conftest import add_tag
from .test_views import parsed_elements


@pytest.fixture
def acme(make_tenant):
    return make_tenant("acme").account


@pytest.fixture
def alias(acme) -> str:
    return Alias.objects.get(account=acme).name


@pytest.fixture
def client() -> Client:
    return Client()


def _manifest(repository, label: str, *, total_size: int | None, platforms: list, media_type=mt.OCI_MANIFEST):
    return Manifest.objects.create(
        repository=repository,
        digest="sha256:" + hashlib.sha256(f"{repository.pk}-{label}".encode()).hexdigest(),
        media_type=media_type,
        size=100,
        content=b"{}",
        config_media_type=mt.OCI_CONFIG if media_type == mt.OCI_MANIFEST else "",
        total_size=total_size,
        platforms=platforms,
    )


def add_index(repository, tag: str, children: list[tuple[dict, int | None]]) -> Tag:
    """A multi-platform tag: an index whose total is the sum of its children, as
    registry.image_details records it."""
    parts = [
        _manifest(repository, f"{tag}-{n}", total_size=size, platforms=[platform])
        for n, (platform, size) in enumerate(children)
    ]
    index = _manifest(
        repository,
        f"{tag}-index",
        total_size=sum(size or 0 for _, size in children),
        platforms=[platform for platform, _ in children],
        media_type=mt.OCI_INDEX,
    )
    for part in parts:
        ManifestChild.objects.create(parent=index, child=part)
    return Tag.objects.create(repository=repository, name=tag, manifest=index)


def rows(body: str) -> list[str]:
    """The tag names of the tags table, in order."""
    return re.findall(r'<th scope="row"><span class="tag-cell"><a [^>]*>([^<]+)</a>', body)


# -- phone order ---------------------------------------------------------------------------


def test_the_pull_box_comes_before_the_about_text_in_the_page(client, acme, alias, publish):
    publish(acme, "app", about="# App\n\n" + "Long text. " * 200)
    body = client.get(f"/{alias}/app").content.decode()
    pull, tabs, about, details = (
        body.index('id="pull-title"'),
        body.index('class="tabs"'),
        body.index('id="about-title"'),
        body.index('id="details-title"'),
    )
    # The order a screen reader and the keyboard follow: the pull box, the sections, then the details.
    assert pull < tabs < about < details


# -- the tags tab --------------------------------------------------------------------------


def test_each_row_has_a_copy_button_with_its_own_pull_command(client, acme, alias, publish, settings):
    settings.BERTH_PUBLIC_URL = "https://r.example.test"
    publish(acme, "app", tags=("v1", "v2"))
    body = client.get(f"/{alias}/app?tab=tags").content.decode()
    buttons = [attrs for tag, attrs in parsed_elements(body) if tag == "button" and "data-copy-text" in attrs]
    assert {b["data-copy-text"] for b in buttons} == {
        f"docker pull r.example.test/{alias}/app:v1",
        f"docker pull r.example.test/{alias}/app:v2",
    }
    assert all("hidden" in b and b["aria-label"].startswith("Copy the pull command for v") for b in buttons)


def test_a_helm_chart_has_versions_with_helm_commands(client, acme, alias, publish, settings):
    settings.BERTH_PUBLIC_URL = "https://r.example.test"
    publish(acme, "charts/web", tags=("1.2.0",), config_media_type=mt.HELM_CONFIG, platforms=[])
    body = client.get(f"/{alias}/charts/web?tab=tags").content.decode()
    assert "Versions <span" in body and "Image tags" not in body
    assert '<th scope="col">Version</th>' in body and "Filter versions" in body
    assert f'data-copy-text="helm pull oci://r.example.test/{alias}/charts/web --version 1.2.0"' in body
    assert "1.2\xa0KiB" in body  # no platform: the chart's size alone
    assert "Versions" in client.get(f"/{alias}/charts/web").content.decode()


def test_an_index_shows_each_platforms_size_not_their_sum(client, acme, alias, publish):
    repository = publish(acme, "app", tags=())
    add_index(
        repository,
        "multi",
        [
            ({"os": "linux", "architecture": "amd64"}, 10 * 1024 * 1024),
            ({"os": "linux", "architecture": "arm64", "variant": "v8"}, 9 * 1024 * 1024),
            ({"os": "unknown", "architecture": "unknown"}, 1024),  # a build attestation: not a platform
        ],
    )
    body = client.get(f"/{alias}/app?tab=tags").content.decode()
    cell = re.search(r'<ul class="platform-sizes">(.*?)</ul>', body, re.S).group(1)
    assert re.findall(r'<span class="chip">([^<]+)</span> <span class="size">([^<]+)</span>', cell) == [
        ("linux/amd64", "10.0\xa0MiB"),
        ("linux/arm64/v8", "9.0\xa0MiB"),
    ]
    assert "19.0\xa0MiB" not in body and "unknown" not in cell


def test_an_index_whose_children_are_not_measured_yet_lists_its_platforms(acme, publish):
    repository = publish(acme, "app", tags=())
    add_index(repository, "multi", [({"os": "linux", "architecture": "amd64"}, None)])
    Manifest.objects.filter(media_type=mt.OCI_MANIFEST).update(platforms=[])  # details not recorded yet
    entry = GalleryEntry.objects.get(repository=repository)
    (tag,) = selectors.tags_page(entry).object_list
    assert [(item.platform, item.size) for item in tag.platform_sizes] == [
        ({"os": "linux", "architecture": "amd64"}, None)
    ]


def test_pulls_per_tag_come_from_the_gallerys_counters(client, acme, alias, publish):
    repository = publish(acme, "app", tags=("v1", "v2"))
    today = timezone.now().date()
    PullCount.objects.create(repository=repository, tag="v1", day=today, count=1500)
    PullCount.objects.create(repository=repository, tag="v1", day=today - timedelta(days=400), count=200)
    PullCount.objects.create(repository=repository, tag="", day=today, count=7)  # by digest: no tag's
    entry = GalleryEntry.objects.get(repository=repository)
    pulls = {tag.name: tag.pulls for tag in selectors.tags_page(entry).object_list}
    assert pulls == {"v1": 1700, "v2": 0}
    body = client.get(f"/{alias}/app?tab=tags").content.decode()
    assert '<td class="num" title="1,700 pulls">1.7K</td>' in body
    assert '<td class="num" title="0 pulls">0</td>' in body


@pytest.fixture
def four_tags(acme, publish):
    repository = publish(acme, "app", tags=())
    add_tag(repository, "b-small", total_size=100)
    add_tag(repository, "a-large", total_size=5000)
    add_index(
        repository,
        "c-multi",
        [({"os": "linux", "architecture": "amd64"}, 3000), ({"os": "linux", "architecture": "arm64"}, 2000)],
    )
    add_tag(repository, "d-newest", total_size=None)
    today = timezone.now().date()
    for tag, count in (("b-small", 30), ("c-multi", 20), ("a-large", 10)):
        PullCount.objects.create(repository=repository, tag=tag, day=today, count=count)
    return repository


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("newest", ["d-newest", "c-multi", "a-large", "b-small"]),
        ("name", ["a-large", "b-small", "c-multi", "d-newest"]),
        # the largest download first (an index: its largest platform, 3000, not the 5000 sum); unmeasured last
        ("size", ["a-large", "c-multi", "b-small", "d-newest"]),
        ("pulls", ["b-small", "c-multi", "a-large", "d-newest"]),
        ("bogus", ["d-newest", "c-multi", "a-large", "b-small"]),
    ],
)
def test_tags_sort(client, alias, four_tags, sort, expected):
    Tag.objects.filter(repository=four_tags, name="d-newest").update(updated_at=timezone.now() + timedelta(seconds=3))
    Tag.objects.filter(repository=four_tags, name="c-multi").update(updated_at=timezone.now() + timedelta(seconds=2))
    Tag.objects.filter(repository=four_tags, name="a-large").update(updated_at=timezone.now() + timedelta(seconds=1))
    response = client.get(f"/{alias}/app", {"tab": "tags", "sort": sort})
    assert response.status_code == 200
    assert rows(response.content.decode()) == expected


def test_tags_filter_by_a_part_of_the_name(client, alias, four_tags):
    body = client.get(f"/{alias}/app", {"tab": "tags", "filter": "-L", "sort": "name"}).content.decode()
    assert rows(body) == ["a-large"]  # case does not matter
    assert "1 tag containing “-L”" in body
    body = client.get(f"/{alias}/app", {"tab": "tags", "filter": "e", "sort": "name"}).content.decode()
    assert rows(body) == ["a-large", "d-newest"]
    assert "There is no tag" not in body  # a filter is no claim that such a tag exists
    body = client.get(f"/{alias}/app", {"tab": "tags", "filter": "zzz"}).content.decode()
    assert rows(body) == [] and "No tag contains “zzz”" in body
    assert client.get(f"/{alias}/app", {"tab": "tags", "filter": "x" * 5000}).status_code == 200


def test_choosing_a_filter_sort_or_tag_stays_on_the_tags_tab(client, alias, four_tags, settings):
    settings.BERTH_PUBLIC_URL = "https://r.example.test"
    body = client.get(f"/{alias}/app", {"tab": "tags", "tag": "a-large", "sort": "pulls"}).content.decode()
    elements = parsed_elements(body)
    # The filter and sort form sends the tab along.
    assert ("input", {"type": "hidden", "name": "tab", "value": "tags"}) in elements
    assert 'aria-current="page">Image tags' in body
    # A row's link chooses its tag and stays on the tab, with the sort kept: the pull box shows that tag,
    # and the list stays whole (choosing is no filter).
    links = [a["href"] for tag, a in elements if tag == "a" and "tag=" in a.get("href", "") and a["href"][0] == "?"]
    assert "?tab=tags&sort=pulls&tag=a-large#pull-title" in links
    assert f"docker pull r.example.test/{alias}/app:a-large" in body.split('id="pull-command">')[1]
    assert len(rows(body)) == 4 and "Show all" not in body
    # With a filter, choosing a tag keeps the filter too.
    body = client.get(f"/{alias}/app", {"tab": "tags", "filter": "a-", "sort": "pulls"}).content.decode()
    links = [a["href"] for tag, a in parsed_elements(body) if tag == "a" and a.get("href", "").startswith("?")]
    assert "?tab=tags&filter=a-&sort=pulls&tag=a-large#pull-title" in links
    assert "Show all" in body  # back to every tag


def test_pages_of_tags_keep_the_filter_and_sort(client, acme, alias, publish):
    repository = publish(acme, "app", tags=())
    for n in range(30):
        add_tag(repository, f"v{n}")
    body = client.get(f"/{alias}/app", {"tab": "tags", "filter": "v", "sort": "name"}).content.decode()
    assert "Page 1 of 2" in body and "?tab=tags&amp;filter=v&amp;sort=name&amp;page=2" in body
    body = client.get(f"/{alias}/app", {"tab": "tags"}).content.decode()
    assert "?tab=tags&amp;page=2" in body  # the defaults are left out of the address


# -- the pull sparkline --------------------------------------------------------------------


def test_daily_pulls_fill_every_day_and_add_up_the_tags(acme, publish):
    repository = publish(acme, "app")
    today = date(2026, 3, 31)
    for tag, day, count in (
        ("latest", today, 5),
        ("v1", today, 2),
        ("", today - timedelta(days=3), 4),
        ("latest", today - timedelta(days=29), 1),
        ("latest", today - timedelta(days=30), 100),  # before the window
        ("latest", today + timedelta(days=1), 100),  # after it (a clock ahead)
    ):
        PullCount.objects.create(repository=repository, tag=tag, day=day, count=count)
    history = selectors.daily_pulls(GalleryEntry.objects.get(repository=repository), today=today)
    assert len(history.days) == 30
    assert history.days[0] == (today - timedelta(days=29), 1)
    assert history.days[-1] == (today, 7)
    assert history.days[-4] == (today - timedelta(days=3), 4)
    assert (history.total, history.peak) == (12, 7)


def test_the_sparkline_is_an_svg_with_a_summary_and_no_style(client, acme, alias, publish):
    repository = publish(acme, "app")
    today = timezone.now().date()
    PullCount.objects.create(repository=repository, tag="latest", day=today, count=1234)
    PullCount.objects.create(repository=repository, tag="latest", day=today - timedelta(days=1), count=66)
    body = client.get(f"/{alias}/app").content.decode()
    svg = re.search(r"<svg class=\"sparkline\".*?</svg>", body, re.S).group(0)
    assert 'role="img"' in svg and 'aria-label="1,300 pulls in the last 30 days, at most 1,234 a day"' in svg
    assert "<title>1,300 pulls in the last 30 days, at most 1,234 a day</title>" in svg
    assert "style" not in svg
    points = re.search(r'<polyline class="sparkline__line" points="([^"]+)"', svg).group(1).split()
    assert len(points) == 30
    # the busiest day (today, the last point) reaches the top; a day without pulls lies on the baseline
    assert points[-1].endswith(",2.0") and points[0].endswith(",30.0")
    assert "last 30 days (UTC): <strong>1,300</strong>" in body


def test_a_sparkline_without_pulls_is_a_flat_line():
    history = selectors.PullHistory([(date(2026, 1, n), 0) for n in range(1, 31)])
    svg = str(sparkline(history))
    assert 'aria-label="0 pulls in the last 30 days"' in svg
    points = re.search(r'<polyline class="sparkline__line" points="([^"]+)"', svg).group(1).split()
    assert {point.split(",")[1] for point in points} == {"30.0"}


# -- query budgets -------------------------------------------------------------------------


@pytest.fixture
def busy_gallery(acme, make_tenant, publish):
    """Enough of everything that a query per row would show."""
    other = make_tenant("other").account
    for n in range(12):
        publish(acme if n % 2 else other, f"tool{n}", description="a tool")
    repository = publish(acme, "app", tags=())
    for n in range(8):
        add_tag(repository, f"v{n}")
        add_index(
            repository,
            f"m{n}",
            [({"os": "linux", "architecture": "amd64"}, 10), ({"os": "linux", "architecture": "arm64"}, 20)],
        )
        PullCount.objects.create(repository=repository, tag=f"v{n}", day=timezone.now().date(), count=n)
    return repository


@pytest.mark.parametrize(
    ("path", "budget"),
    [
        ("/", 5),
        ("/search", 3),
        ("/search?q=tool", 3),
        ("/search?q=tol", 4),  # a typo: the exact pass, then the look-alikes
        ("/{alias}", 5),
        ("/{alias}/app", 5),
        ("/{alias}/app?tab=usage", 5),
        ("/{alias}/app?tag=v3", 6),
        ("/{alias}/app?tab=tags", 7),
        ("/{alias}/app?tab=tags&tag=m3&sort=size", 7),  # a tag's name: the page has it
        ("/{alias}/app?tab=tags&filter=m&sort=size", 7),  # a filter: part of names
        ("/{alias}/app?tab=tags&sort=pulls&page=2", 7),
    ],
)
def test_every_page_stays_within_its_query_budget(
    client, alias, busy_gallery, django_assert_max_num_queries, path, budget
):
    with django_assert_max_num_queries(budget):
        response = client.get(path.format(alias=alias))
    assert response.status_code == 200


def test_a_capped_search_costs_one_query_more(client, busy_gallery, django_assert_max_num_queries, monkeypatch):
    monkeypatch.setattr(selectors, "MAX_RESULTS", 3)
    with django_assert_max_num_queries(4):
        body = client.get("/search?q=tool").content.decode()
    assert "Showing the first 3 of 12" in body
