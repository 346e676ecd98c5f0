"""Usage's reactions to domain events (subscribed in UsageConfig.ready)."""

from __future__ import annotations

from apps.events.models import DomainEvent

from . import services


def add_served_bytes(event: DomainEvent) -> None:
    """blobs.served: add the batch's tallies to the daily counts, once per batch id."""
    services.add_served_bytes(batch_id=event.payload["batchId"], served=event.payload["served"])
