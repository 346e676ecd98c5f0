"""Status rows: asking for a copy (or a deletion) at a destination, and telling of
each change of status (the domain event ``image.replication_changed``). Every
function here runs inside its caller's transaction."""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.events import outbox
from apps.events.names import IMAGE_REPLICATION_CHANGED
from apps.repositories.models import Repository
from apps.repositories.services import event_fields

from . import config
from .models import ImageReplication, ReplicationAction, ReplicationBackfill, ReplicationStatus


def publish_change(row: ImageReplication, repository: Repository) -> None:
    outbox.publish(
        IMAGE_REPLICATION_CHANGED,
        {
            **event_fields(repository),
            "digest": row.image_digest,
            "action": row.action,
            "tag": row.tag or None,
            "destination": {
                "region": row.destination_region,
                "registryId": row.destination_registry_id,
                "endpoint": row.destination_endpoint or None,
            },
            "status": row.status,
            "failureCode": row.failure_code or None,
            "failureReason": row.failure_reason or None,
            "attempts": row.attempts,
            "backfillId": str(row.backfill_id) if row.backfill_id else None,
        },
    )


def request(
    *,
    repository: Repository,
    digest: str,
    destination: config.Destination,
    rule_index: int,
    action: str = ReplicationAction.REPLICATE,
    tag: str = "",
    backfill: ReplicationBackfill | None = None,
    now: datetime | None = None,
) -> int | None:
    """Ask for the copy (or deletion) of ``digest`` at ``destination``: the id of
    the row to queue a task for, or None when a queued copy that has not started
    will see this request's state anyway.

    A row that is not IN_PROGRESS starts over (attempts 0, due now). One that a
    worker runs now has its generation raised: the worker runs it again when done,
    so that what changed since it read the source (a tag) is copied too."""
    now = now or timezone.now()
    key = {
        "repository": repository,
        "image_digest": digest,
        "destination_region": destination.region,
        "destination_registry_id": destination.registry_id,
        "destination_endpoint": destination.endpoint,
        "action": action,
        "tag": tag,
    }
    for attempt in range(2):
        row = ImageReplication.objects.select_for_update().filter(**key).first()
        if row is not None:
            break
        try:
            with transaction.atomic():
                row = ImageReplication.objects.create(
                    **key,
                    rule_index=rule_index,
                    backfill=backfill,
                    enqueued_at=now,
                    updated_at=now,
                    next_attempt_at=now,
                )
        except IntegrityError:  # made at the same time by another subscriber: take theirs
            if attempt:
                raise
            continue
        publish_change(row, repository)
        return row.pk
    if row.status == ReplicationStatus.IN_PROGRESS:
        if row.leased_until is not None and row.leased_until > now:
            row.generation += 1
            fields = ["generation"]
            if backfill is not None:
                row.backfill = backfill
                fields.append("backfill")
            row.save(update_fields=fields)
            return None
        if backfill is not None and row.backfill_id != backfill.pk:
            row.backfill = backfill
            row.save(update_fields=["backfill"])
        # Queued, or waiting for its next attempt: that run reads the source as it is then.
        return None
    row.status = ReplicationStatus.IN_PROGRESS
    row.failure_code = row.failure_reason = ""
    row.attempts = 0
    row.next_attempt_at = row.enqueued_at = row.updated_at = now
    row.leased_until = None
    row.generation += 1
    row.rule_index = rule_index
    if backfill is not None:
        row.backfill = backfill
    row.save()
    publish_change(row, repository)
    return row.pk


def enqueue_on_commit(row_ids, enqueue) -> None:
    """Queue tasks for ``row_ids`` once the caller's transaction has committed (a
    task that ran before would not see its row)."""
    ids = [row_id for row_id in row_ids if row_id is not None]
    if ids:
        transaction.on_commit(lambda: enqueue(ids))
