"""Celery tasks: thin wrappers around services."""

from celery import shared_task

from apps.audit.events import Actor

from . import services


@shared_task(ignore_result=True)
def take_snapshot() -> int:
    """Beat, daily (BERTH_USAGE_SNAPSHOT_SECONDS): today's snapshot, then the retention."""
    accounts = services.take_snapshot(actor=Actor.system("usage"))
    services.prune()
    return accounts
