"""Celery tasks: thin wrappers around services."""

from celery import shared_task

from . import services


@shared_task(ignore_result=True)
def scan_image(manifest_id: int) -> None:
    services.scan_image(manifest_id=manifest_id)


@shared_task(ignore_result=True)
def rematch(advisory_ids: list[str]) -> int:
    return services.rematch(advisory_ids=advisory_ids)
