"""The delivery log's retention: finished deliveries older than
BERTH_WEBHOOK_DELIVERY_RETENTION_DAYS are deleted daily by beat
(tasks.prune_deliveries), in bounded batches."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models import Q

from .models import DeliveryStatus, WebhookDelivery

PRUNE_BATCH_SIZE = 1000


def prune_deliveries(*, older_than: datetime, batch_size: int = PRUNE_BATCH_SIZE) -> int:
    """Retention: delete the finished deliveries (SUCCEEDED or FAILED) made before
    ``older_than``, ``batch_size`` at a time, each batch in a transaction of its own.
    A delivery a user redelivered since stays while the redelivery does (deleting it
    would take the redelivery with it). Returns how many rows went. Not an audit
    event: nobody asked for it, as with the trail's own retention."""
    removed = 0
    after = None  # (created_at, id) of the last candidate looked at
    while True:
        candidates = WebhookDelivery.objects.filter(
            created_at__lt=older_than, status__in=[DeliveryStatus.SUCCEEDED, DeliveryStatus.FAILED]
        )
        if after is not None:
            candidates = candidates.filter(Q(created_at__gt=after[0]) | Q(created_at=after[0], id__gt=after[1]))
        batch = list(candidates.order_by("created_at", "id").values_list("created_at", "id")[:batch_size])
        if not batch:
            return removed
        after = batch[-1]
        ids = [pk for _, pk in batch]
        with transaction.atomic():
            kept = _redelivered_since(ids, older_than)
            removed += (
                WebhookDelivery.objects.filter(pk__in=[pk for pk in ids if pk not in kept])
                .delete()[1]
                .get(WebhookDelivery._meta.label, 0)
            )


def _redelivered_since(ids: list, older_than: datetime) -> set:
    """Of ``ids``, those with a redelivery (or a redelivery of one, ...) made at or
    after ``older_than``, or still pending."""
    kept: set = set()
    root_of = {pk: pk for pk in ids}
    level = list(ids)
    while level:
        children = WebhookDelivery.objects.filter(redelivery_of__in=level).values_list(
            "id", "redelivery_of_id", "created_at", "status"
        )
        level = []
        for pk, parent, created_at, status in children:
            root = root_of[parent]
            root_of[pk] = root
            if created_at >= older_than or status == DeliveryStatus.PENDING:
                kept.add(root)
            else:
                level.append(pk)
    return kept
