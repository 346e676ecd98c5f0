"""Celery tasks: thin wrappers around delivery."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from . import delivery, retention


@shared_task(ignore_result=True)
def deliver(delivery_id: str, attempt: int = 1) -> None:
    retry_in = delivery.attempt(delivery_id, attempt)
    if retry_in is not None:
        deliver.apply_async((delivery_id, attempt + 1), countdown=retry_in)


def enqueue(delivery_ids) -> None:
    for delivery_id in delivery_ids:
        deliver.delay(str(delivery_id), 1)


@shared_task(ignore_result=True)
def requeue_due_deliveries() -> int:
    """Beat: a try whose task was lost (a broker or worker gone) is queued again."""
    due = delivery.due_deliveries()
    for delivery_id, attempt in due:
        deliver.delay(delivery_id, attempt)
    return len(due)


@shared_task(ignore_result=True)
def prune_deliveries() -> int:
    """Beat, daily: the delivery log keeps BERTH_WEBHOOK_DELIVERY_RETENTION_DAYS (0: forever)."""
    days = settings.BERTH_WEBHOOK_DELIVERY_RETENTION_DAYS
    if days <= 0:
        return 0
    return retention.prune_deliveries(older_than=timezone.now() - timedelta(days=days))
