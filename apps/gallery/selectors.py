"""Every read the gallery makes. Each one starts from `listed()`: the rows of public
repositories of accounts in good standing, so nothing private or suspended can
reach a page, a count or a search result."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from difflib import SequenceMatcher

from django.contrib.postgres.search import SearchQuery, SearchRank, TrigramWordSimilarity
from django.core.paginator import Page, Paginator
from django.db import connection
from django.db.models import Case, Count, F, IntegerField, Max, OuterRef, Q, QuerySet, Subquery, Sum, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from apps.accounts.models import Account, Alias, PublisherLogo
from apps.registry.content.media_types import INDEXES
from apps.registry.models import ManifestChild, Tag
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
# A search with more matches than that still says how many there are, counted up to here.
MAX_COUNTED = 10_000
# A typo's look-alikes: the closest few pages are all anyone reads.
MAX_SIMILAR_RESULTS = 100
# SQLite's typo pass reads the names of at most this many repositories (the most pulled
# first), and takes a word as a look-alike of a term from this similarity on (difflib's
# ratio: one wrong letter in a word of five letters is 0.8, of six 0.83).
MAX_FUZZY_CANDIDATES = 20_000
FUZZY_CUTOFF = 0.8
TAGS_PER_PAGE = 25
TAG_FILTER_MAX_LENGTH = 128
PULL_HISTORY_DAYS = 30
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
        return bool(self.narrowing_count)

    @property
    def narrowing_count(self) -> int:
        """How many filters are in use (the sort is not one)."""
        return sum(map(bool, (self.operating_system, self.architecture, self.kind, self.verified_only)))


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


def _page(entries: QuerySet, page_number, per_page: int, *, limit: int | None = None, count: bool = True) -> Page:
    """One query finds the keys of the first ``limit`` matches in order (narrow rows
    sort fast, and counting comes free); a second reads the page's rows by key.
    ``page.paginator.capped`` says whether there were more than ``limit``; then a
    third counts them (unless ``count`` is false), up to MAX_COUNTED
    (``paginator.total``, ``paginator.total_capped``)."""
    limit = MAX_RESULTS if limit is None else limit
    keys = list(entries.values_list("pk", flat=True)[: limit + 1])
    total = len(keys)
    if total > limit:
        total = entries.order_by().values("pk")[: MAX_COUNTED + 1].count() if count else limit
    return _page_of_keys(keys, page_number, per_page, limit=limit, total=total)


def _page_of_keys(keys: list, page_number, per_page: int, *, limit: int, total: int) -> Page:
    paginator = Paginator(keys[:limit], per_page)
    paginator.capped = len(keys) > limit
    paginator.total = min(total, MAX_COUNTED) if paginator.capped else total
    paginator.total_capped = paginator.capped and total > MAX_COUNTED
    page = paginator.get_page(page_number)
    rows = GalleryEntry.objects.in_bulk(list(page.object_list))
    page.object_list = with_aliases(rows[pk] for pk in page.object_list if pk in rows)
    return page


def _similar_names_in_python(entries: QuerySet, terms: list[str], sort: str) -> list[int]:
    """SQLite (no trigram index): a bounded pass in Python over the names of the
    filtered repositories, the first MAX_FUZZY_CANDIDATES in ``sort`` order (most
    pulled, or last updated). A repository matches when every term is in a word of
    its name or close to one (difflib's ratio, at least FUZZY_CUTOFF); relevance is
    the mean closeness, then that order. The keys of the best MAX_SIMILAR_RESULTS + 1."""
    order = ("-last_updated_at", "pk") if sort == Sort.UPDATED else ("-pull_count", "pk")
    rows = list(entries.order_by(*order).values_list("pk", "title")[:MAX_FUZZY_CANDIDATES])
    # every word of the names, by length, with the rows (positions) it is in
    positions: dict[str, list[int]] = defaultdict(list)
    for position, (_, title) in enumerate(rows):
        for word in set(title.split()):
            positions[word].append(position)
    by_length: dict[int, list[str]] = defaultdict(list)
    for word in positions:
        by_length[len(word)].append(word)
    closeness: list[dict[str, float]] = []
    for term in terms:
        matcher = SequenceMatcher(b=term, autojunk=False)
        close: dict[str, float] = {}
        for length, words in by_length.items():
            if length >= len(term):
                close.update((word, 1.0) for word in words if term in word)
            # ratio = 2 * matches / (both lengths): a length too far off can never reach the cutoff
            if 2 * min(length, len(term)) < FUZZY_CUTOFF * (length + len(term)):
                continue
            for word in words:
                if word in close:
                    continue
                matcher.set_seq1(word)
                if matcher.quick_ratio() >= FUZZY_CUTOFF and (ratio := matcher.ratio()) >= FUZZY_CUTOFF:
                    close[word] = ratio
        if not close:
            return []
        closeness.append(close)
    # a row's score for a term is its closest word's: only rows with a close word of every term match
    best: dict[int, list[float]] = {}
    for n, close in enumerate(closeness):
        for word, ratio in close.items():
            for position in positions[word]:
                scores = best.setdefault(position, [0.0] * len(closeness))
                scores[n] = max(scores[n], ratio)
    found = [
        (-sum(scores) if sort == Sort.RELEVANCE else 0, position, rows[position][0])
        for position, scores in best.items()
        if all(scores)
    ]
    found.sort()
    return [pk for *_, pk in found[: MAX_SIMILAR_RESULTS + 1]]


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
        page = _page(matched, page_number, per_page)
        if page.paginator.count:
            return SearchResults(page=page, filters=filters)
        keys = _similar_names_in_python(entries, terms, filters.sort)
        total = min(len(keys), MAX_SIMILAR_RESULTS)
        page = _page_of_keys(keys, page_number, per_page, limit=MAX_SIMILAR_RESULTS, total=total)
        return SearchResults(page=page, filters=filters, similar=bool(page.paginator.count))
    matched = _ordered(_full_text(entries, terms), filters.sort, ranked=True)
    page = _page(matched, page_number, per_page)
    if page.paginator.count:
        return SearchResults(page=page, filters=filters)
    similar = _ordered(_similar_names(entries, " ".join(terms)), filters.sort, ranked=True)
    # look-alikes are ranked by closeness and only the closest are shown: how many more
    # there are says nothing useful, and counting them would cost as much again
    page = _page(similar, page_number, per_page, limit=MAX_SIMILAR_RESULTS, count=False)
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


class TagSort:
    NEWEST = "newest"
    NAME = "name"
    SIZE = "size"
    PULLS = "pulls"
    CHOICES = ((NEWEST, "Newest"), (NAME, "Name"), (SIZE, "Size"), (PULLS, "Most pulls"))


@dataclass(frozen=True)
class TagFilters:
    """The tags tab's filter (a substring of the tag's name, the GET `tag`) and sort,
    already cleaned: an unknown sort is the default, never an error."""

    text: str = ""
    sort: str = TagSort.NEWEST

    @classmethod
    def from_params(cls, params) -> TagFilters:
        sort = params.get("sort", "")
        return cls(
            text=params.get("filter", "").strip()[:TAG_FILTER_MAX_LENGTH],
            sort=sort if sort in dict(TagSort.CHOICES) else TagSort.NEWEST,
        )


@dataclass(frozen=True)
class PlatformSize:
    """One platform of a tag and what pulling it downloads (None: not measured yet)."""

    platform: dict
    size: int | None


_TAG_ORDER = {
    TagSort.NEWEST: ("-updated_at", "name"),
    TagSort.NAME: ("name",),
    TagSort.SIZE: (F("pull_size").desc(nulls_last=True), "name"),
    TagSort.PULLS: ("-pulls", "-updated_at", "name"),
}


def tags_page(
    entry: GalleryEntry, filters: TagFilters | None = None, *, page_number=1, per_page: int = TAGS_PER_PAGE
) -> Page:
    """A page of the repository's tags, filtered and sorted as asked, each with
    `.pulls` (all-time pulls under that tag, from the gallery's counters),
    `.pull_size` (what one pull downloads: an index's largest platform) and
    `.platform_sizes` (a PlatformSize per platform; an index's from its children).
    Two queries (the count and the page), three when the page has an index."""
    filters = filters or TagFilters()
    pulls = (
        PullCount.objects.filter(repository_id=OuterRef("repository_id"), tag=OuterRef("name"))
        .values("tag")
        .annotate(total=Sum("count"))
        .values("total")
    )
    largest_child = (
        ManifestChild.objects.filter(parent_id=OuterRef("manifest_id"))
        .values("parent_id")
        .annotate(largest=Max("child__total_size"))
        .values("largest")
    )
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
        .annotate(
            pulls=Coalesce(Subquery(pulls), 0),
            pull_size=Case(
                When(manifest__media_type__in=INDEXES, then=Subquery(largest_child)),
                default=F("manifest__total_size"),
            ),
        )
        .order_by(*_TAG_ORDER[filters.sort])
    )
    if filters.text:
        tags = tags.filter(name__icontains=filters.text)
    page = Paginator(tags, per_page).get_page(page_number)
    page.object_list = list(page.object_list)
    _attach_platform_sizes(page.object_list)
    return page


def _attach_platform_sizes(tags: list[Tag]) -> None:
    """An image's one platform has the image's size; an index lists each child image
    with its own size (never their sum: a pull downloads one platform). Children
    without a real platform (attestations say unknown/unknown) are left out."""
    indexes = [tag.manifest_id for tag in tags if tag.manifest.media_type in INDEXES]
    children: dict[int, list[PlatformSize]] = {}
    if indexes:
        rows = (
            ManifestChild.objects.filter(parent_id__in=indexes)
            .select_related("child")
            .only("parent_id", "child__platforms", "child__total_size")
            .order_by("pk")
        )
        for row in rows:
            platform = (row.child.platforms or [{}])[0]
            if platform.get("os", "unknown") != "unknown" and platform.get("architecture", "unknown") != "unknown":
                children.setdefault(row.parent_id, []).append(PlatformSize(platform, row.child.total_size))
    for tag in tags:
        manifest = tag.manifest
        if manifest.media_type in INDEXES:
            tag.platform_sizes = children.get(manifest.pk) or [PlatformSize(p, None) for p in manifest.platforms]
        else:
            tag.platform_sizes = [PlatformSize(p, manifest.total_size) for p in manifest.platforms]
        tag.multi_platform = manifest.media_type in INDEXES


def daily_pulls(entry: GalleryEntry, *, days: int = PULL_HISTORY_DAYS, today: date | None = None) -> PullHistory:
    """Pulls per UTC day over the last ``days`` days up to today, every day present
    (0 when none), all tags together. One query."""
    today = today or timezone.now().date()
    since = today - timedelta(days=days - 1)
    rows = dict(
        PullCount.objects.filter(repository_id=entry.pk, day__gte=since, day__lte=today)
        .order_by()
        .values("day")
        .annotate(total=Sum("count"))
        .values_list("day", "total")
    )
    return PullHistory([(since + timedelta(days=n), rows.get(since + timedelta(days=n), 0)) for n in range(days)])


@dataclass
class PullHistory:
    days: list[tuple[date, int]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(count for _, count in self.days)

    @property
    def peak(self) -> int:
        return max((count for _, count in self.days), default=0)


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
