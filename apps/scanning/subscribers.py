"""The scanner's reactions to domain events (subscribed in ScanningConfig.ready).
Each is safe to run again: a scan already asked for is not asked for twice, and a
scan or re-match that runs twice writes the same findings."""

from __future__ import annotations

from apps.events.models import DomainEvent

from . import services, tasks


def scan_on_push(event: DomainEvent) -> None:
    """image.pushed: the repository scans on push (or continuously): ask for a scan."""
    services.scan_on_push(manifest_id=event.payload["manifestId"])


def run_scan(event: DomainEvent) -> None:
    """image.scan_requested: a worker reads the image and matches it."""
    tasks.scan_image.delay(event.payload["manifestId"])


def rematch(event: DomainEvent) -> None:
    """advisories.changed: re-match the stored inventories the changed advisories name."""
    tasks.rematch.delay(event.payload["advisoryIds"])
