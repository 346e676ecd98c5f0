"""Running the copies the status rows ask for: a worker claims a row, copies (or
deletes), and settles the row: COMPLETE, FAILED, or IN_PROGRESS again with its
next attempt after a back-off.

A claim is a lease (``leased_until``) taken in a transaction that locks the row:
two tasks for one row (a retried message, the sweeper's) never copy it at once
while the lease lasts, and a worker that died leaves a lease that runs out, after
which the sweeper queues the row again. The copy itself is idempotent, so even
a copy outliving its lease only repeats checks."""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from apps.audit import services as audit_services

from . import copying, selectors, status
from .models import BackfillStatus, ImageReplication, ReplicationAction, ReplicationBackfill, ReplicationStatus

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Claim:
    row_id: int
    generation: int
    attempts: int


@dataclass(frozen=True)
class Outcome:
    """What a run left to do: run the row again in ``requeue_in`` seconds (None: nothing)."""

    requeue_in: float | None = None


def retry_delay(attempts: int) -> float:
    """Exponential back-off with full jitter after ``attempts`` failed tries."""
    ceiling = min(
        settings.BERTH_REPLICATION_RETRY_MAX_SECONDS,
        settings.BERTH_REPLICATION_RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0),
    )
    return random.uniform(ceiling / 2, ceiling)


def _claim(row_id: int) -> Claim | None:
    now = timezone.now()
    with transaction.atomic():
        row = ImageReplication.objects.select_for_update().filter(pk=row_id).first()
        if row is None or row.status != ReplicationStatus.IN_PROGRESS:
            return None
        if row.next_attempt_at > now:  # waiting for its next attempt: that attempt's task comes then
            return None
        if row.leased_until is not None and row.leased_until > now:
            return None
        row.attempts += 1
        row.leased_until = now + timedelta(seconds=settings.BERTH_REPLICATION_LEASE_SECONDS)
        row.updated_at = now
        row.save(update_fields=["attempts", "leased_until", "updated_at"])
        return Claim(row.pk, row.generation, row.attempts)


def _record(row: ImageReplication, done: copying.Done | None) -> None:
    """The audit trail's system event for a finished copy (or deletion)."""
    repository = row.repository
    audit_services.record_change(
        actor=copying.REPLICATION,
        context=None,
        event_name="ReplicateImage" if row.action == ReplicationAction.REPLICATE else "ReplicateImageDeletion",
        recipient_account_id=repository.account_id,
        repository=repository.name,
        request_parameters={
            "registryId": repository.account_id,
            "repositoryName": repository.name,
            "imageId": {"imageDigest": row.image_digest, **({"imageTag": row.tag} if row.tag else {})},
            "destination": {
                "region": row.destination_region,
                "registryId": row.destination_registry_id,
                **({"endpoint": row.destination_endpoint} if row.destination_endpoint else {}),
            },
        },
        response_elements={
            "status": row.status,
            "attempts": row.attempts,
            **({"failureCode": row.failure_code, "failureReason": row.failure_reason} if row.failure_code else {}),
            **(done.as_dict() if done is not None else {}),
        },
    )


def _settle(claim: Claim, *, failure: copying.CopyFailed | None = None, done: copying.Done | None = None) -> Outcome:
    now = timezone.now()
    with transaction.atomic():
        row = ImageReplication.objects.select_for_update().select_related("repository").filter(pk=claim.row_id).first()
        if row is None:  # its repository, or its back-fill's queued copy, went meanwhile
            return Outcome()
        row.leased_until = None
        row.updated_at = now
        if row.generation != claim.generation:
            # Asked for again while it ran (a tag pushed meanwhile): run again now.
            row.attempts = 0
            row.next_attempt_at = row.enqueued_at = now
            row.save()
            return Outcome(requeue_in=0)
        if failure is not None and failure.retryable and row.attempts < settings.BERTH_REPLICATION_MAX_ATTEMPTS:
            delay = retry_delay(row.attempts)
            row.failure_code, row.failure_reason = failure.code, failure.reason
            row.next_attempt_at = row.enqueued_at = now + timedelta(seconds=delay)
            row.save()
            status.publish_change(row, row.repository)
            return Outcome(requeue_in=delay)
        if failure is None:
            row.status = ReplicationStatus.COMPLETE
            row.failure_code = row.failure_reason = ""
        else:
            row.status = ReplicationStatus.FAILED
            row.failure_code = failure.code
            row.failure_reason = (
                f"{failure.reason} (gave up after {row.attempts} attempts)" if failure.retryable else failure.reason
            )
        if failure is None and row.action == ReplicationAction.DELETE:
            _record(row, done)
            status.publish_change(row, row.repository)
            row.delete()  # deleted at the destination: nothing is left to show
        else:
            row.save()
            _record(row, done)
            status.publish_change(row, row.repository)
        if row.backfill_id:
            settle_backfill(row.backfill_id)
    return Outcome()


def run(row_id: int) -> Outcome:
    """Run the copy (or deletion) row ``row_id`` asks for, if it is due and no one runs it."""
    claim = _claim(row_id)
    if claim is None:
        return Outcome()
    row = ImageReplication.objects.select_related("repository").get(pk=row_id)
    destination = selectors.destination_of(row.repository.account_id, row)
    if destination is None:
        return _settle(
            claim,
            failure=copying.CopyFailed(
                "ConfigurationChanged",
                "the replication configuration no longer names this destination",
                retryable=False,
            ),
        )
    try:
        if row.action == ReplicationAction.DELETE:
            copying.delete(repository=row.repository, digest=row.image_digest, tag=row.tag, destination=destination)
            done = None
        else:
            done = copying.replicate(repository=row.repository, digest=row.image_digest, destination=destination)
    except copying.SourceGone:
        # Deleted from the source meanwhile: image.deleted says what else to do.
        ImageReplication.objects.filter(pk=row_id, generation=claim.generation).delete()
        return Outcome()
    except copying.CopyFailed as failure:
        logger.info("replication of %s to %s: %s", row.image_digest, row.destination_label, failure)
        return _settle(claim, failure=failure)
    except Exception as exc:
        # Not a refusal anyone foresaw: tried again like an outage, and told as it is.
        logger.exception("replication of %s to %s failed", row.image_digest, row.destination_label)
        return _settle(claim, failure=copying.CopyFailed("InternalError", f"{type(exc).__name__}: {exc}",
                                                          retryable=True))  # fmt: skip
    return _settle(claim, done=done)


def due_rows(*, limit: int = 1000) -> list[int]:
    """Rows a lost task left behind: IN_PROGRESS, due, run by no one, and queued
    longer ago than the requeue interval (their task should have run by now).
    Their ``enqueued_at`` is set now, as they are queued again."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.BERTH_REPLICATION_REQUEUE_SECONDS)
    with transaction.atomic():
        ids = list(
            ImageReplication.objects.filter(status=ReplicationStatus.IN_PROGRESS, next_attempt_at__lte=now)
            .filter(Q(leased_until__isnull=True) | Q(leased_until__lt=now))
            .filter(Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=stale))
            .order_by("next_attempt_at")
            .values_list("pk", flat=True)[:limit]
        )
        ImageReplication.objects.filter(pk__in=ids).update(enqueued_at=now)
    return ids


def settle_backfill(backfill_id) -> None:
    """A running back-fill whose copies have all finished is COMPLETE (or FAILED
    when some failed); runs in the caller's transaction."""
    backfill = ReplicationBackfill.objects.select_for_update().filter(pk=backfill_id).first()
    if backfill is None or backfill.status != BackfillStatus.RUNNING:
        return
    copies = ImageReplication.objects.filter(backfill=backfill)
    if copies.filter(status=ReplicationStatus.IN_PROGRESS).exists():
        return
    failed = copies.filter(status=ReplicationStatus.FAILED).exists()
    backfill.status = BackfillStatus.FAILED if failed else BackfillStatus.COMPLETE
    backfill.finished_at = timezone.now()
    backfill.save(update_fields=["status", "finished_at"])
