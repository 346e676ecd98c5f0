"""Celery tasks: thin wrappers around the engine."""

from __future__ import annotations

from celery import shared_task

from . import engine


@shared_task(ignore_result=True)
def replicate(row_id: int) -> None:
    """One copy (or deletion) at one destination: a failing destination holds up
    only its own tasks."""
    outcome = engine.run(row_id)
    if outcome.requeue_in is not None:
        replicate.apply_async((row_id,), countdown=outcome.requeue_in)


def enqueue(row_ids, *, countdown: float | None = None) -> None:
    for row_id in row_ids:
        replicate.apply_async((row_id,), countdown=countdown)


@shared_task(ignore_result=True)
def requeue_due_replications() -> int:
    """Beat: a copy whose task was lost (a broker or worker gone) is queued again."""
    ids = engine.due_rows()
    enqueue(ids)
    return len(ids)
