"""Celery's part in delivery: the periodic sweep, and one as soon as a worker starts,
so that what a stopped or killed process left undelivered goes out promptly."""

from celery import shared_task
from celery.signals import worker_ready

from . import outbox


@shared_task(ignore_result=True)
def deliver_due_events() -> int:
    return outbox.deliver_due()


@worker_ready.connect(dispatch_uid="events.deliver_on_worker_start")
def _deliver_on_worker_start(sender=None, **kwargs) -> None:
    # Queued rather than run here: the worker's main process keeps no database connection.
    deliver_due_events.delay()
