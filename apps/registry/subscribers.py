"""The registry's reactions to domain events (subscribed in RegistryConfig.ready)."""

from __future__ import annotations

from apps.events.models import DomainEvent

from . import services, tasks


def record_image_details(event: DomainEvent) -> None:
    """image.pushed: sizes, layers and platforms are worked out in a worker."""
    tasks.record_image_details.delay(event.payload["manifestId"])


def discard_spooled_uploads(event: DomainEvent) -> None:
    """repository.deleted: the bytes its unfinished uploads had spooled."""
    area = services.upload_area()
    for upload_id in event.payload["uploadIds"]:
        area.discard(upload_id)
