"""The gallery's reactions to domain events (subscribed in GalleryConfig.ready):
its search rows follow the repositories, tags, image details and publishers they
summarize, after each change has committed, and count pulls. A refresh rebuilds
from the rows as they are when it runs, so running one again changes nothing."""

from __future__ import annotations

from apps.events.models import DomainEvent

from . import pulls, services


def refresh_repository(event: DomainEvent) -> None:
    """A repository, its catalog data, its tags or a manifest's details changed."""
    services.refresh_entry(repository_id=event.payload["repositoryId"])


def refresh_publisher(event: DomainEvent) -> None:
    """An account's aliases, verification or display name changed."""
    services.refresh_account(account_id=event.payload["accountId"])


def count_pulls(event: DomainEvent) -> None:
    """images.pulled: the pulls of public repositories are added to the counters.
    Not to be repeated: its work commits with its delivery, which happens once."""
    pulls.count_pulls(event.payload["pulls"])


def keep_scan_summary(event: DomainEvent) -> None:
    """image.scan_completed: the counts the tags tab shows (the latest scan's, so a
    repeated delivery writes the same)."""
    services.keep_scan_summary(
        manifest_id=event.payload["manifestId"],
        status=event.payload["status"],
        severity_counts=event.payload["severityCounts"],
    )


def keep_scan_summaries(event: DomainEvent) -> None:
    """images.rematched: a re-match changed the counts of these images."""
    services.keep_scan_summaries(event.payload["scans"])
