"""Celery tasks: thin wrappers around services."""

from celery import shared_task

from . import collector, image_details, services
from .models import Manifest


@shared_task(ignore_result=True)
def record_image_details(manifest_id: int) -> None:
    manifest = Manifest.objects.filter(pk=manifest_id).first()
    if manifest is not None:  # deleted before the worker got to it
        image_details.record(manifest)


@shared_task(ignore_result=True)
def expire_abandoned_uploads() -> int:
    return services.expire_abandoned_uploads()


@shared_task(ignore_result=True)
def collect_garbage() -> dict:
    return collector.collect().as_dict()


@shared_task(ignore_result=True)
def reconcile_blob_store() -> dict:
    return collector.reconcile().as_dict()
