"""Every write of usage: the daily storage snapshot, the served-bytes counts the
registry's processes publish, and the retention of both."""

from __future__ import annotations

import logging
import uuid
from datetime import date, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from apps.audit import services as audit_services
from apps.audit.events import Actor
from apps.kernel.requests import RequestContext
from apps.registry import selectors as registry_selectors
from apps.repositories.models import Repository

from .models import AccountSnapshot, AppliedBatch, RepositorySnapshot, ServedBytes

logger = logging.getLogger(__name__)

PAGE = 1000  # repositories measured per pair of queries (registry.selectors.stored_bytes)
BATCHES_KEPT = timedelta(days=7)


def accounts_to_snapshot(day: date) -> list[str]:
    """Accounts with repositories, and those that had some the day before (their
    last repository gone: the drop to nothing is recorded once)."""
    with_repositories = set(Repository.objects.values_list("account_id", flat=True).distinct())
    before = set(
        AccountSnapshot.objects.filter(day=day - timedelta(days=1), repository_count__gt=0).values_list(
            "account_id", flat=True
        )
    )
    return sorted(with_repositories | before)


def take_snapshot(*, actor: Actor, context: RequestContext | None = None, day: date | None = None) -> int:
    """The day's storage snapshot (today, UTC, by default) of every account: one
    row per repository and one per account. Taking a day's snapshot again replaces
    that day's rows. Returns how many accounts were snapshotted."""
    day = day or timezone.now().date()
    accounts = accounts_to_snapshot(day)
    for account_id in accounts:
        snapshot_account(account_id=account_id, day=day, actor=actor, context=context)
    return len(accounts)


def snapshot_account(
    *, account_id: str, day: date, actor: Actor, context: RequestContext | None = None
) -> AccountSnapshot:
    """One account's rows of the day's snapshot, in one transaction with its audit
    event (TakeUsageSnapshot); a repository deleted since the day's last snapshot
    loses its row of that day."""
    taken_at = timezone.now()
    with transaction.atomic():
        RepositorySnapshot.objects.filter(account_id=account_id, day=day).delete()
        repositories = 0
        after = 0
        while True:
            page = list(
                Repository.objects.filter(account_id=account_id, pk__gt=after)
                .order_by("pk")
                .values_list("pk", "name")[:PAGE]
            )
            figures = registry_selectors.stored_bytes(pk for pk, _ in page)
            RepositorySnapshot.objects.bulk_create(
                RepositorySnapshot(
                    day=day,
                    account_id=account_id,
                    repository_id=pk,
                    repository=name,
                    referenced_bytes=stored.referenced,
                    exclusive_bytes=stored.exclusive,
                    image_count=stored.images,
                    taken_at=taken_at,
                )
                for pk, name in page
                for stored in [figures.get(pk, registry_selectors.StoredBytes())]
            )
            repositories += len(page)
            if len(page) < PAGE:
                break
            after = page[-1][0]
        totals = registry_selectors.account_stored_bytes(account_id)
        snapshot, _ = AccountSnapshot.objects.update_or_create(
            account_id=account_id,
            day=day,
            defaults={
                "referenced_bytes": totals.referenced,
                "exclusive_bytes": totals.exclusive,
                "image_count": totals.images,
                "repository_count": repositories,
                "taken_at": taken_at,
            },
        )
        audit_services.record_change(
            actor=actor,
            context=context,
            event_name="TakeUsageSnapshot",
            event_source="berth",
            recipient_account_id=account_id,
            request_parameters={"registryId": account_id, "day": day.isoformat()},
            response_elements={
                "repositoryCount": repositories,
                "referencedBytes": totals.referenced,
                "exclusiveBytes": totals.exclusive,
            },
        )
    return snapshot


def add_served_bytes(*, batch_id: str, served: list[dict]) -> bool:
    """Add a blobs.served batch (apps.registry.traffic) to the daily counts, once:
    a batch already added (a redelivery) adds nothing and returns False. Call
    inside a transaction, which the note of the batch joins."""
    with transaction.atomic():
        try:
            with transaction.atomic():
                AppliedBatch.objects.create(batch_id=uuid.UUID(batch_id), applied_at=timezone.now())
        except IntegrityError:
            return False
        # In one order whatever the batch's: two processes adding batches at once
        # then lock the day's rows in the same order and never deadlock.
        for tally in sorted(served, key=lambda t: (t["day"], t["repositoryId"], t["anonymous"])):
            _add(tally)
    return True


def _add(tally: dict) -> None:
    key = {
        "day": date.fromisoformat(tally["day"]),
        "repository_id": tally["repositoryId"],
        "anonymous": tally["anonymous"],
    }
    added = {"bytes": F("bytes") + tally["bytes"], "requests": F("requests") + tally["requests"]}
    if ServedBytes.objects.filter(**key).update(**added):
        return
    try:
        with transaction.atomic():
            ServedBytes.objects.create(
                **key,
                account_id=tally["accountId"],
                repository=tally["repository"],
                bytes=tally["bytes"],
                requests=tally["requests"],
            )
    except IntegrityError:
        # Another process created the day's row since the update found none.
        ServedBytes.objects.filter(**key).update(**added)


def prune(*, now=None) -> dict[str, int]:
    """Retention: snapshots and served counts older than BERTH_USAGE_RETENTION_DAYS
    (0 keeps them all), and notes of batches added more than a week ago. Derived
    figures, not changes anyone made: no audit event."""
    now = now or timezone.now()
    pruned = {"batches": AppliedBatch.objects.filter(applied_at__lt=now - BATCHES_KEPT).delete()[0]}
    days = settings.BERTH_USAGE_RETENTION_DAYS
    if days > 0:
        before = now.date() - timedelta(days=days)
        pruned["repositorySnapshots"] = RepositorySnapshot.objects.filter(day__lt=before).delete()[0]
        pruned["accountSnapshots"] = AccountSnapshot.objects.filter(day__lt=before).delete()[0]
        pruned["served"] = ServedBytes.objects.filter(day__lt=before).delete()[0]
    return pruned
