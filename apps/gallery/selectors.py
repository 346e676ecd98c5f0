"""Every read the gallery makes. Each one starts from `listed()`: the rows of public
repositories of accounts in good standing, so nothing private or suspended can
reach a page, a count or a search result."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from django.contrib.postgres.search import SearchQuery, SearchRank, TrigramWordSimilarity
from django.core.paginator import Page, Paginator
from django.db import connection
from django.db.models import Case, Count, F, IntegerField, Q, QuerySet, Sum, Value, When

from apps.accounts.models import Account, Alias, PublisherLogo
from apps.registry.models import Tag
from apps.repositories.models import (
    RECOGNISED_ARCHITECTURES,
    RECOGNISED_OPERATING_SYSTEMS,
    Repository,
    RepositoryCatalogData,
    Visibility,
)

from .models import GalleryEntry, Kind, PullCount

RESULTS_PER_PAGE = 20
# Results are counted up to here ("1000+"): a page past the 50th of a common word is
# never wanted, and counting every match of one would cost more than the page.
MAX_RESULTS = 1000
# A typo's look-alikes: the closest few pages are all anyone reads.
MAX_SIMILAR_RESULTS = 100
TAGS_PER_PAGE = 25
QUERY_MAX_LENGTH = 200
QUERY_MAX_TERMS = 8
_TERM = re.compile(r"[^\W_]+")


class Sort:
    RELEVANCE = "relevance"
    PULLS = "pulls"
    UPDATED = "updated"
    CHOICES = ((RELEVANCE, "Relevance"), (PULLS, "Most pulls"), (UPDATED, "Last updated"))


# Text fields a term is looked for in, and how much a match weighs (SQLite's ranking).
_FIELD_WEIGHTS = (("title", 8), ("aliases", 8), ("publisher_name", 4), ("description", 2), ("about_text", 1))


def listed() -> QuerySet[GalleryEntry]:
    """Rows exist for public repositories only, but one follows its repository being
    made private only once that has committed (apps.gallery.subscribers): the
    visibility is checked here too, as are the account's standing and a take-down by
    staff, which no row holds."""
    return GalleryEntry.objects.filter(
        account__suspended_at__isnull=True,
        repository__visibility=Visibility.PUBLIC,
        repository__taken_down_at__isnull=True,
    )


def primary_aliases(account_ids) -> dict[str, str]:
    """The alias each account shows in URLs: its primary one, else its default one."""
    shown: dict[str, str] = {}
    rows = Alias.objects.filter(Q(is_primary=True) | Q(is_default=True), account_id__in=set(account_ids))
    for alias in rows.order_by("-is_primary"):
        shown.setdefault(alias.account_id, alias.name)
    return shown


def with_aliases(entries) -> list[GalleryEntry]:
    """The entries with `.alias` set to their publisher's shown alias (one query)."""
    entries = list(entries)
    aliases = primary_aliases(entry.account_id for entry in entries)
    for entry in entries:
        entry.alias = aliases.get(entry.account_id, "")
    return entries


# -- search -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SearchFilters:
    """What a search asks for, already cleaned: unknown values are dropped, never errors."""

    query: str = ""
    operating_system: str = ""
    architecture: str = ""
    kind: str = ""
    verified_only: bool = False
    sort: str = Sort.RELEVANCE

    @classmethod
    def from_params(cls, params) -> SearchFilters:
        def choice(name: str, allowed) -> str:
            value = params.get(name, "")
            return value if value in allowed else ""

        return cls(
            query=" ".join(params.get("q", "").split())[:QUERY_MAX_LENGTH],
            operating_system=choice("os", RECOGNISED_OPERATING_SYSTEMS),
            architecture=choice("arch", RECOGNISED_ARCHITECTURES),
            kind=choice("kind", Kind.values),
            verified_only=params.get("verified") in ("1", "on", "true"),
            sort=choice("sort", [value for value, _ in Sort.CHOICES]) or Sort.RELEVANCE,
        )

    @property
    def terms(self) -> list[str]:
        return _TERM.findall(self.query.lower())[:QUERY_MAX_TERMS]

    @property
    def narrowed(self) -> bool:
        return bool(self.operating_system or self.architecture or self.kind or self.verified_only)


@dataclass
class SearchResults:
    page: Page
    filters: SearchFilters
    # True when nothing matched the words and these are names that look like them (a typo).
    similar: bool = False


def _filtered(filters: SearchFilters) -> QuerySet[GalleryEntry]:
    entries = listed()
    if filters.operating_system:
        entries = entries.filter(operating_systems__contains=f"|{filters.operating_system}|")
    if filters.architecture:
        entries = entries.filter(architectures__contains=f"|{filters.architecture}|")
    if filters.kind:
        entries = entries.filter(kind=filters.kind)
    if filters.verified_only:
        entries = entries.filter(verified=True)
    return entries


def _full_text(entries: QuerySet, terms: list[str]) -> QuerySet:
    """PostgreSQL: every term as a word prefix (names, aliases, publisher) or as an
    English word (description, about), ranked by the stored document's weights."""
    prefixes = SearchQuery(" & ".join(f"{term}:*" for term in terms), config="simple", search_type="raw")
    words = SearchQuery(" ".join(terms), config="english", search_type="plain")
    query = prefixes | words
    return entries.filter(search_document=query).annotate(rank=SearchRank(F("search_document"), query))


def _substring(entries: QuerySet, terms: list[str]) -> QuerySet:
    """Other databases: every term somewhere in the text fields, ranked by the fields it is in."""
    rank = Value(0, output_field=IntegerField())
    for term in terms:
        entries = entries.filter(
            Q(title__icontains=term)
            | Q(aliases__icontains=term)
            | Q(publisher_name__icontains=term)
            | Q(description__icontains=term)
            | Q(about_text__icontains=term)
        )
        for name, weight in _FIELD_WEIGHTS:
            rank = rank + Case(When(**{f"{name}__icontains": term}, then=Value(weight)), default=Value(0))
    return entries.annotate(rank=rank)


def _similar_names(entries: QuerySet, query: str) -> QuerySet:
    """PostgreSQL: names with a word much like the query (pg_trgm's `%>`, served by the
    trigram index, at its default word_similarity threshold of 0.6: one wrong, missing
    or doubled letter in a name of six or more letters)."""
    return entries.filter(title__trigram_word_similar=query).annotate(rank=TrigramWordSimilarity(query, "title"))


def _ordered(entries: QuerySet, sort: str, *, ranked: bool) -> QuerySet:
    if sort == Sort.UPDATED:
        return entries.order_by("-last_updated_at", "name", "pk")
    if sort == Sort.RELEVANCE and ranked:
        return entries.order_by("-rank", "-pull_count", "name", "pk")
    return entries.order_by("-pull_count", "name", "pk")


def _page(entries: QuerySet, page_number, per_page: int, *, limit: int | None = None) -> Page:
    """One query finds the keys of the first ``limit`` matches in order (narrow rows
    sort fast, and counting comes free); a second reads the page's rows by key.
    ``page.paginator.capped`` says whether there were more than ``limit``."""
    limit = MAX_RESULTS if limit is None else limit
    keys = list(entries.values_list("pk", flat=True)[: limit + 1])
    paginator = Paginator(keys[:limit], per_page)
    paginator.capped = len(keys) > limit
    page = paginator.get_page(page_number)
    rows = GalleryEntry.objects.in_bulk(list(page.object_list))
    page.object_list = with_aliases(rows[pk] for pk in page.object_list if pk in rows)
    return page


def search(filters: SearchFilters, *, page_number=1, per_page: int = RESULTS_PER_PAGE) -> SearchResults:
    """A page of listed repositories matching ``filters``. No terms lists everything
    (by the sort asked for, pulls for relevance); a page number out of range gives
    the last page, one that is not a number the first."""
    entries = _filtered(filters)
    terms = filters.terms
    if not terms:
        return SearchResults(
            page=_page(_ordered(entries, filters.sort, ranked=False), page_number, per_page), filters=filters
        )
    if connection.vendor != "postgresql":
        matched = _ordered(_substring(entries, terms), filters.sort, ranked=True)
        return SearchResults(page=_page(matched, page_number, per_page), filters=filters)
    matched = _ordered(_full_text(entries, terms), filters.sort, ranked=True)
    page = _page(matched, page_number, per_page)
    if page.paginator.count:
        return SearchResults(page=page, filters=filters)
    similar = _ordered(_similar_names(entries, " ".join(terms)), filters.sort, ranked=True)
    page = _page(similar, page_number, per_page, limit=MAX_SIMILAR_RESULTS)
    return SearchResults(page=page, filters=filters, similar=bool(page.paginator.count))


# -- home -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Publisher:
    account_id: str
    alias: str
    display_name: str
    repository_count: int


def popular(*, limit: int = 8) -> list[GalleryEntry]:
    return with_aliases(listed().order_by("-pull_count", "name", "pk")[:limit])


def recently_updated(*, limit: int = 8) -> list[GalleryEntry]:
    return with_aliases(listed().order_by("-last_updated_at", "pk")[:limit])


def verified_publishers(*, limit: int = 8) -> list[Publisher]:
    """The verified publishers with the most pulls (an index-only scan of the
    `gallery_entry_verified` index)."""
    rows = list(
        listed()
        .filter(verified=True)
        .values("account_id")
        .annotate(repositories=Count("account_id"), pulls=Sum("pull_count"))
        .order_by("-pulls", "-repositories", "account_id")[:limit]
    )
    account_ids = [row["account_id"] for row in rows]
    names = dict(Account.objects.filter(pk__in=account_ids).values_list("pk", "display_name"))
    aliases = primary_aliases(account_ids)
    return [
        Publisher(
            account_id=row["account_id"],
            alias=aliases.get(row["account_id"], ""),
            display_name=names.get(row["account_id"], ""),
            repository_count=row["repositories"],
        )
        for row in rows
    ]


# -- publisher and repository pages -----------------------------------------------------


@dataclass
class PublisherPage:
    account: Account
    alias: str  # the alias the publisher shows (primary, else default)
    page: Page

    @property
    def verified(self) -> bool:
        return self.account.verified

    @property
    def display_name(self) -> str:
        """Shown only for verified publishers, as ECR Public does."""
        return self.account.display_name if self.account.verified else ""

    @property
    def bio(self) -> str:
        """The publisher's own words (plain text), shown for every publisher, as a
        repository's catalog data is."""
        return self.account.bio

    @property
    def has_logo(self) -> bool:
        return self.account.has_logo


def account_by_alias(alias: str) -> Account | None:
    """The account in good standing that ``alias`` (any of its aliases) names."""
    found = Alias.objects.select_related("account").filter(name=alias).first()
    if found is None or found.account.suspended_at is not None:
        return None
    return found.account


def publisher_page(alias: str, *, page_number=1, per_page: int = RESULTS_PER_PAGE) -> PublisherPage | None:
    account = account_by_alias(alias)
    if account is None:
        return None
    entries = listed().filter(account=account).order_by("-pull_count", "name", "pk")
    page = _page(entries, page_number, per_page)
    return PublisherPage(account=account, alias=primary_aliases([account.pk])[account.pk], page=page)


def listed_entry(alias: str, name: str) -> GalleryEntry | None:
    """The listed repository `<alias>/<name>`, through any alias of its account."""
    account = account_by_alias(alias)
    if account is None:
        return None
    entry = listed().select_related("account").filter(account=account, name=name).first()
    if entry is not None:
        entry.alias = primary_aliases([account.pk])[account.pk]
    return entry


def catalog_texts(entry: GalleryEntry) -> RepositoryCatalogData | None:
    """The sanitized about and usage HTML (rendered and cleaned when they were put)."""
    return RepositoryCatalogData.objects.only("about_html", "usage_html").filter(repository_id=entry.pk).first()


def tags_page(entry: GalleryEntry, *, page_number=1, per_page: int = TAGS_PER_PAGE) -> Page:
    tags = (
        Tag.objects.filter(repository_id=entry.pk)
        .select_related("manifest", "manifest__gallery_scan")
        .only(
            "name",
            "updated_at",
            "manifest__digest",
            "manifest__media_type",
            "manifest__size",
            "manifest__total_size",
            "manifest__platforms",
            "manifest__config_media_type",
            "manifest__artifact_type",
            "manifest__gallery_scan__status",
            "manifest__gallery_scan__severity_counts",
        )
        .order_by("-updated_at", "name")
    )
    return Paginator(tags, per_page).get_page(page_number)


def tag_named(entry: GalleryEntry, name: str) -> Tag | None:
    return Tag.objects.filter(repository_id=entry.pk, name=name).only("name").first()


def logo_of(alias: str, name: str) -> RepositoryCatalogData | None:
    entry = listed_entry(alias, name)
    if entry is None or not entry.has_logo:
        return None
    return (
        RepositoryCatalogData.objects.only("logo", "logo_content_type", "logo_digest")
        .filter(repository_id=entry.pk, logo__isnull=False)
        .first()
    )


def publisher_logo_of(alias: str) -> PublisherLogo | None:
    """The logo of the publisher (in good standing) ``alias`` names, if it has one."""
    account = account_by_alias(alias)
    if account is None or not account.has_logo:
        return None
    return PublisherLogo.objects.filter(account=account).first()


# -- pull counts for publishers ---------------------------------------------------------


def pull_series(repository: Repository, *, since: date) -> dict[str, list[tuple[date, int]]]:
    """Pulls per day since ``since`` (inclusive), by tag ("" for pulls by digest),
    days in order: what a publisher charts. Days without pulls are absent."""
    series: dict[str, list[tuple[date, int]]] = {}
    rows = (
        PullCount.objects.filter(repository=repository, day__gte=since)
        .order_by("tag", "day")
        .values_list("tag", "day", "count")
    )
    for tag, day, count in rows:
        series.setdefault(tag, []).append((day, count))
    return series
