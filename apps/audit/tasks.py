"""Celery tasks: thin wrappers around services."""

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from . import services, verification


@shared_task(ignore_result=True)
def prune_events() -> int:
    """Retention: remove events older than BERTH_AUDIT_RETENTION_DAYS (0 keeps them
    all), and the failure windows reported and over for a while."""
    now = timezone.now()
    services.prune_failure_windows(ended_before=now - services.FAILURE_WINDOW_KEPT)
    days = settings.BERTH_AUDIT_RETENTION_DAYS
    if days <= 0:
        return 0
    return services.prune(older_than=now - timedelta(days=days))


@shared_task(ignore_result=True)
def verify_chain() -> None:
    """Walk the hash chain and keep the report for pages (apps.audit.verification)."""
    verification.run()
