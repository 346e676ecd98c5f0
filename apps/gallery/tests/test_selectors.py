"""The gallery's search rows and reads: what is listed, how search finds and ranks it."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from apps.accounts.models import Alias
from apps.accounts.registries import add_alias, put_registry_catalog_data
from apps.accounts.services import set_publisher_verified, suspend_account
from apps.audit.events import Actor
from apps.registry import services as registry_services
from apps.registry.content import media_types as mt
from apps.repositories import services as repository_services
from apps.repositories.models import Visibility

from .. import selectors
from ..models import GalleryEntry, Kind, PullCount
from ..selectors import SearchFilters, Sort
from .conftest import add_tag

on_postgresql = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL full-text search")


def names(results) -> list[str]:
    return [entry.name for entry in results.page.object_list]


def find(query: str = "", **filters) -> list[str]:
    return names(selectors.search(SearchFilters(query=query, **filters)))


@pytest.fixture
def acme(make_tenant):
    return make_tenant("acme").account


@pytest.fixture
def other(make_tenant):
    return make_tenant("other").account


# -- the rows ---------------------------------------------------------------------------


def test_a_public_repository_gets_a_row_and_a_private_one_none(acme, publish):
    publish(acme, "web/nginx", description="A web server")
    publish(acme, "secret-thing", visibility=Visibility.PRIVATE)
    assert list(GalleryEntry.objects.values_list("name", flat=True)) == ["web/nginx"]


def test_the_row_follows_visibility_and_keeps_the_pull_total(acme, publish, committed):
    repository = publish(acme, "tool")
    PullCount.objects.create(repository=repository, tag="latest", day=timezone.now().date(), count=7)
    with committed():
        repository_services.update_repository(
            repository=repository, visibility=Visibility.PRIVATE, actor=Actor.staff("operator")
        )
    assert not GalleryEntry.objects.exists()
    with committed():
        repository_services.update_repository(
            repository=repository, visibility=Visibility.PUBLIC, actor=Actor.staff("operator")
        )
    assert GalleryEntry.objects.get().pull_count == 7


def test_a_repository_made_private_is_not_listed_before_its_row_goes(acme, publish):
    """Until the change has reached the gallery (a process killed in between leaves
    it to the sweeper), the row is there, and not shown."""
    repository = publish(acme, "tool")
    repository_services.update_repository(
        repository=repository, visibility=Visibility.PRIVATE, actor=Actor.staff("operator")
    )
    assert GalleryEntry.objects.exists()
    assert find("tool") == [] and selectors.popular() == []


def test_the_row_summarizes_tags_platforms_and_catalog_data(acme, publish):
    repository = publish(
        acme,
        "multi",
        description="Many platforms",
        operating_systems=["Linux"],
        architectures=["ARM 64", "Sparc"],
        tags=("v1",),
        platforms=[{"os": "windows", "architecture": "amd64"}],
    )
    add_tag(repository, "latest", platforms=[{"os": "linux", "architecture": "arm", "variant": "v7"}])
    entry = GalleryEntry.objects.get()
    assert entry.tag_count == 2
    assert entry.default_tag == "latest"
    assert entry.operating_systems == "|Linux|Windows|"
    # Catalog badges outside the recognised ones are not facets.
    assert entry.architectures == "|ARM|ARM 64|x86-64|"
    assert entry.last_pushed_at is not None


@pytest.mark.parametrize(
    ("options", "kind"),
    [
        ({}, Kind.IMAGE),
        ({"config_media_type": mt.HELM_CONFIG}, Kind.HELM_CHART),
        ({"config_media_type": "application/vnd.example.config+json"}, Kind.ARTIFACT),
        ({"artifact_type": "application/vnd.example.sbom"}, Kind.ARTIFACT),
        ({"media_type": mt.OCI_INDEX, "config_media_type": ""}, Kind.IMAGE),
    ],
)
def test_the_kind_is_the_default_tags(acme, publish, options, kind):
    publish(acme, "thing", **options)
    assert GalleryEntry.objects.get().kind == kind


def test_deleting_the_last_tag_and_the_repository_update_the_row(acme, publish, committed):
    repository = publish(acme, "gone")
    with committed():
        registry_services.delete_tag(repository=repository, tag="latest", actor=Actor.staff("alice"))
    assert GalleryEntry.objects.get().tag_count == 0
    registry_services.delete_repository(actor=Actor.system("test"), repository=repository, force=True)
    assert not GalleryEntry.objects.exists()


def test_refresh_gallery_rebuilds_missing_rows(acme, publish):
    publish(acme, "one")
    publish(acme, "two")
    GalleryEntry.objects.all().delete()
    out = StringIO()
    call_command("refresh_gallery", stdout=out)
    assert out.getvalue().strip() == "refreshed 2 public repositories"
    assert GalleryEntry.objects.count() == 2


# -- search -----------------------------------------------------------------------------


@pytest.fixture
def catalog_of_three(acme, other, publish):
    publish(acme, "web/nginx", description="High performance web server and reverse proxy")
    publish(acme, "postgres", description="The relational database", about="Runs **PostgreSQL** clusters")
    publish(other, "redis-tools", description="Command line helpers for caches")
    return acme, other


def test_search_finds_by_name(catalog_of_three):
    assert find("nginx") == ["web/nginx"]
    assert find("redis") == ["redis-tools"]


def test_search_finds_by_alias(catalog_of_three):
    acme, _ = catalog_of_three
    alias = Alias.objects.get(account=acme).name
    assert sorted(find(alias)) == ["postgres", "web/nginx"]


def test_search_finds_by_a_word_of_the_description_or_about_text(catalog_of_three):
    assert find("reverse") == ["web/nginx"]
    assert find("caches") == ["redis-tools"]
    assert find("clusters") == ["postgres"]


def test_every_word_must_match(catalog_of_three):
    assert find("web proxy") == ["web/nginx"]
    assert find("web database") == []


def test_a_name_match_ranks_above_a_description_match(acme, other, publish):
    publish(acme, "proxy-helper", description="helps")
    publish(other, "gateway", description="A small proxy in front of services")
    assert find("proxy") == ["proxy-helper", "gateway"]


def test_pulls_break_ties_in_relevance(acme, other, publish):
    publish(acme, "alpha-cache", description="cache")
    busy = publish(other, "beta-cache", description="cache")
    GalleryEntry.objects.filter(repository=busy).update(pull_count=50)
    assert find("cache") == ["beta-cache", "alpha-cache"]


def test_an_empty_query_lists_everything_by_pulls(catalog_of_three):
    GalleryEntry.objects.filter(name="postgres").update(pull_count=9)
    assert find("")[0] == "postgres"
    assert len(find("")) == 3


@pytest.mark.parametrize(
    ("query", "count"),
    [
        ("zzzqqqxxx", 0),
        ("'\"; drop table", 0),
        ("a" * 500, 0),
        # No word in it at all: no query, so everything is listed.
        ("!!!", 3),
        ("%", 3),
        ("_", 3),
        ("\x00", 3),
    ],
)
def test_nonsense_finds_nothing_or_lists_everything_without_error(catalog_of_three, query, count):
    results = selectors.search(SearchFilters.from_params({"q": query}))
    assert results.page.paginator.count == count


def test_a_small_typo_still_finds_the_repository(catalog_of_three):
    # PostgreSQL: trigram word similarity; SQLite: the bounded difflib pass over names.
    results = selectors.search(SearchFilters(query="postgress"))
    assert names(results) == ["postgres"]
    assert results.similar
    assert find("reddis") == ["redis-tools"]
    assert find("postgrse") == ["postgres"]
    assert find("ngimz") == []  # two letters wrong in five: not a typo of nginx
    assert not selectors.search(SearchFilters(query="zzzqqqxxx")).similar


def test_a_typo_keeps_the_filters(acme, publish):
    publish(acme, "postgres")
    publish(acme, "charts/postgres", tags=("1.0.0",), config_media_type=mt.HELM_CONFIG)
    assert sorted(find("postgress")) == ["charts/postgres", "postgres"]
    assert find("postgress", kind=Kind.HELM_CHART) == ["charts/postgres"]
    assert find("postgress", kind=Kind.ARTIFACT) == []


@pytest.mark.skipif(connection.vendor == "postgresql", reason="SQLite's typo pass in Python")
def test_sqlite_typo_pass_every_term_and_its_bounds(acme, other, publish, monkeypatch):
    publish(acme, "kafka-broker")
    busy = publish(other, "kafka-connect")
    GalleryEntry.objects.filter(repository=busy).update(pull_count=10)
    # every term must be in a name word or close to one; ranked by closeness, then pulls
    assert find("kafak brokr") == ["kafka-broker"]
    assert find("kafak") == ["kafka-connect", "kafka-broker"]
    assert find("kafak", sort=Sort.PULLS) == ["kafka-connect", "kafka-broker"]
    assert find("kafak zzzzzz") == []
    # the pass reads at most MAX_FUZZY_CANDIDATES names, the most pulled first
    monkeypatch.setattr(selectors, "MAX_FUZZY_CANDIDATES", 1)
    assert find("kafak") == ["kafka-connect"]
    # and returns at most MAX_SIMILAR_RESULTS, saying there were more
    monkeypatch.setattr(selectors, "MAX_FUZZY_CANDIDATES", 100)
    monkeypatch.setattr(selectors, "MAX_SIMILAR_RESULTS", 1)
    results = selectors.search(SearchFilters(query="kafak"))
    assert names(results) == ["kafka-connect"] and results.page.paginator.capped


def test_a_capped_search_counts_its_matches_up_to_a_limit(acme, publish, monkeypatch):
    for n in range(6):
        publish(acme, f"tool{n}")
    monkeypatch.setattr(selectors, "MAX_RESULTS", 2)
    paginator = selectors.search(SearchFilters(query="tool")).page.paginator
    assert (paginator.count, paginator.capped, paginator.total, paginator.total_capped) == (2, True, 6, False)
    monkeypatch.setattr(selectors, "MAX_COUNTED", 4)
    paginator = selectors.search(SearchFilters(query="tool")).page.paginator
    assert (paginator.total, paginator.total_capped) == (4, True)
    monkeypatch.setattr(selectors, "MAX_RESULTS", 100)
    paginator = selectors.search(SearchFilters(query="tool")).page.paginator
    assert (paginator.count, paginator.capped, paginator.total) == (6, False, 6)


def test_filters_narrow_by_os_architecture_kind_and_verification(acme, other, publish, committed):
    publish(acme, "linux-arm", operating_systems=["Linux"], architectures=["ARM 64"], platforms=[])
    publish(acme, "windows-x86", platforms=[{"os": "windows", "architecture": "386"}])
    publish(other, "chart", config_media_type=mt.HELM_CONFIG, platforms=[])
    with committed():
        set_publisher_verified(account=other, verified=True, actor=Actor.staff("operator"))
    assert find(operating_system="Linux") == ["linux-arm"]
    assert find(operating_system="Windows") == ["windows-x86"]
    assert find(architecture="x86") == ["windows-x86"]
    assert find(architecture="ARM 64") == ["linux-arm"]
    assert find(kind=Kind.HELM_CHART) == ["chart"]
    assert sorted(find(kind=Kind.IMAGE)) == ["linux-arm", "windows-x86"]
    assert find(verified_only=True) == ["chart"]


def test_unknown_filter_values_are_dropped():
    filters = SearchFilters.from_params({"q": "  x  y ", "os": "Plan9", "arch": "z80", "kind": "vm", "sort": "bogus"})
    assert filters == SearchFilters(query="x y")


def test_sort_by_last_update(acme, publish):
    old = publish(acme, "old-one")
    publish(acme, "new-one")
    GalleryEntry.objects.filter(repository=old).update(last_updated_at=timezone.now() - timedelta(days=3))
    assert find(sort=Sort.UPDATED) == ["new-one", "old-one"]
    GalleryEntry.objects.filter(repository=old).update(pull_count=3)
    assert find(sort=Sort.PULLS) == ["old-one", "new-one"]


@pytest.mark.parametrize(
    ("asked", "shown"), [(1, 1), (2, 2), (3, 3), (0, 3), (-1, 3), (99, 3), ("x", 1), ("", 1), (None, 1)]
)
def test_pages_of_results_and_bad_page_numbers(acme, publish, asked, shown):
    for n in range(5):
        publish(acme, f"repo{n}")
    results = selectors.search(SearchFilters(), page_number=asked, per_page=2)
    assert results.page.number == shown
    assert results.page.paginator.count == 5


def test_private_and_suspended_repositories_never_match(acme, other, publish):
    publish(acme, "hidden-gem", description="secret", visibility=Visibility.PRIVATE)
    publish(other, "suspended-gem", description="secret")
    suspend_account(
        account=other, reason="abuse", actor=Actor.staff("operator")
    )  # not delivered: the standing is read, not copied
    assert find("gem") == []
    assert find("secret") == []
    assert find("") == []
    assert selectors.popular() == [] and selectors.recently_updated() == []


def test_the_display_name_is_searchable_only_for_verified_publishers(acme, publish, committed):
    publish(acme, "tool")
    with committed():
        put_registry_catalog_data(actor=Actor.system("test"), account=acme, display_name="Initech Software")
    assert find("initech") == []
    with committed():
        set_publisher_verified(account=acme, verified=True, actor=Actor.staff("operator"))
    assert find("initech") == ["tool"]


def test_results_carry_the_primary_alias_and_any_alias_finds_them(acme, publish, committed):
    publish(acme, "tool")
    with committed():
        add_alias(alias=Alias(account=acme, name="initech"), primary=True)
    results = selectors.search(SearchFilters(query="initech"))
    assert [entry.alias for entry in results.page.object_list] == ["initech"]
    default = Alias.objects.get(account=acme, is_default=True).name
    assert find(default) == ["tool"]


# -- home and publisher -----------------------------------------------------------------


def test_home_sections(acme, other, publish, committed):
    publish(acme, "quiet")
    loud = publish(other, "loud")
    GalleryEntry.objects.filter(repository=loud).update(pull_count=100)
    with committed():
        put_registry_catalog_data(actor=Actor.system("test"), account=other, display_name="Loud Corp")
        set_publisher_verified(account=other, verified=True, actor=Actor.staff("operator"))
    assert [e.name for e in selectors.popular()] == ["loud", "quiet"]
    assert {e.name for e in selectors.recently_updated()} == {"loud", "quiet"}
    [publisher] = selectors.verified_publishers()
    assert (publisher.display_name, publisher.repository_count) == ("Loud Corp", 1)


def test_publisher_page_through_any_alias_shows_only_public_repositories(acme, publish, committed):
    publish(acme, "open")
    publish(acme, "closed", visibility=Visibility.PRIVATE)
    with committed():
        add_alias(alias=Alias(account=acme, name="initech"), primary=True)
    default = Alias.objects.get(account=acme, is_default=True).name
    page = selectors.publisher_page(default)
    assert page.alias == "initech"
    assert [e.name for e in page.page.object_list] == ["open"]
    assert page.page.paginator.count == 1
    assert selectors.publisher_page("nobody-here") is None


def test_pull_series_by_tag_and_day(acme, publish):
    repository = publish(acme, "tool")
    today = timezone.now().date()
    PullCount.objects.create(repository=repository, tag="latest", day=today - timedelta(days=1), count=2)
    PullCount.objects.create(repository=repository, tag="latest", day=today, count=5)
    PullCount.objects.create(repository=repository, tag="", day=today, count=1)
    PullCount.objects.create(repository=repository, tag="v1", day=today - timedelta(days=40), count=9)
    series = selectors.pull_series(repository, since=today - timedelta(days=30))
    assert series == {"": [(today, 1)], "latest": [(today - timedelta(days=1), 2), (today, 5)]}


def test_verifying_through_the_staff_service_updates_the_rows(acme, publish, committed):
    publish(acme, "tool")
    with committed():
        put_registry_catalog_data(actor=Actor.system("test"), account=acme, display_name="Initech Software")
        set_publisher_verified(account=acme, verified=True, actor=Actor.staff("operator"))
    assert find("initech", verified_only=True) == ["tool"]
    with committed():
        set_publisher_verified(account=acme, verified=False, actor=Actor.staff("operator"))
    assert find(verified_only=True) == [] and find("initech") == []
