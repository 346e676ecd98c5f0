"""Reads of usage for the API and `berth usage`: an account's stored bytes now and
day by day, and what it served day by day."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db.models import Sum
from django.utils import timezone

from apps.registry import quotas as registry_quotas
from apps.registry import selectors as registry_selectors
from apps.registry.selectors import StoredBytes
from apps.repositories.models import Repository

from .models import AccountSnapshot, RepositorySnapshot, ServedBytes
from .services import PAGE

MAX_DAYS = 365


@dataclass(frozen=True)
class StoredDay:
    day: date
    referenced: int
    exclusive: int
    images: int
    live: bool  # today's figure, measured now; earlier days are their snapshots


@dataclass
class ServedDay:
    day: date
    anonymous_bytes: int = 0
    anonymous_requests: int = 0
    signed_in_bytes: int = 0
    signed_in_requests: int = 0


@dataclass(frozen=True)
class RepositoryUsage:
    name: str
    stored: StoredBytes
    served_bytes: int  # over the range asked for
    served_requests: int


@dataclass
class Usage:
    account_id: str
    first_day: date
    last_day: date
    now: StoredBytes  # the account's, or the one repository's
    repository_count: int
    repository: str | None = None  # the one repository asked for; None: the account's
    repositories: list[RepositoryUsage] = field(default_factory=list)
    stored: list[StoredDay] = field(default_factory=list)
    served: list[ServedDay] = field(default_factory=list)
    # The account's quotas, whichever repository was asked for (docs/quotas.md).
    quotas: list[registry_quotas.QuotaFigure] = field(default_factory=list)


def _days(days: int, today: date) -> tuple[date, date]:
    return today - timedelta(days=days - 1), today


def account_usage(account_id: str, *, days: int = 30, repository: str | None = None, today=None) -> Usage | None:
    """The account's usage over the ``days`` days ending today (UTC): its stored
    bytes now and per repository, its daily snapshots with today's live figure last,
    and the bytes it served each day. With ``repository``, that repository's alone
    (one deleted keeps its history); None when the account has no such repository
    and never had."""
    today = today or timezone.now().date()
    first, last = _days(days, today)
    repositories = Repository.objects.filter(account_id=account_id).order_by("name")
    if repository is not None:
        repositories = repositories.filter(name=repository)
    current = list(repositories.values_list("pk", "name"))
    usage = Usage(account_id, first, last, StoredBytes(), len(current), repository)
    figures: dict[int, StoredBytes] = {}
    for start in range(0, len(current), PAGE):
        figures |= registry_selectors.stored_bytes(pk for pk, _ in current[start : start + PAGE])
    served = ServedBytes.objects.filter(account_id=account_id, day__gte=first, day__lte=last)
    if repository is not None:
        served = served.filter(repository=repository)
    by_repository = {
        row["repository_id"]: row
        for row in served.values("repository_id").annotate(bytes=Sum("bytes"), requests=Sum("requests")).order_by()
    }
    for pk, name in current:
        row = by_repository.get(pk, {})
        usage.repositories.append(
            RepositoryUsage(name, figures.get(pk, StoredBytes()), row.get("bytes") or 0, row.get("requests") or 0)
        )
    if repository is None:
        usage.now = registry_selectors.account_stored_bytes(account_id)
        snapshots = AccountSnapshot.objects.filter(account_id=account_id)
    else:
        snapshots = RepositorySnapshot.objects.filter(account_id=account_id, repository=repository)
        if current:
            usage.now = figures.get(current[0][0], StoredBytes())
        elif not snapshots.exists() and not served.exists():
            return None
    for day, referenced, exclusive, images in (
        snapshots.filter(day__gte=first, day__lt=last)
        .order_by("day")
        .values_list("day", "referenced_bytes", "exclusive_bytes", "image_count")
    ):
        usage.stored.append(StoredDay(day, referenced, exclusive, images, live=False))
    if repository is None or current:
        usage.stored.append(StoredDay(last, usage.now.referenced, usage.now.exclusive, usage.now.images, live=True))
    usage.served = _served_days(served, first, last)
    usage.quotas = registry_quotas.figures(account_id)
    return usage


def _served_days(served, first: date, last: date) -> list[ServedDay]:
    """Every day of the range, a day nothing was served included (zeros)."""
    days = {first + timedelta(days=n): ServedDay(first + timedelta(days=n)) for n in range((last - first).days + 1)}
    for day, anonymous, size, requests in (
        served.values("day", "anonymous")
        .annotate(size=Sum("bytes"), count=Sum("requests"))
        .order_by()
        .values_list("day", "anonymous", "size", "count")
    ):
        entry = days[day]
        if anonymous:
            entry.anonymous_bytes, entry.anonymous_requests = size, requests
        else:
            entry.signed_in_bytes, entry.signed_in_requests = size, requests
    return list(days.values())
