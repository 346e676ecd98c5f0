"""Replication's reactions to the registry's domain events (subscribed in
ReplicationConfig.ready). Each re-reads the repository as it is now and asks for
the copies (or deletions) its configuration calls for; asking twice queues no
second copy of a row that has not started (status.request).

A deleted repository's status rows go with it (a foreign key that cascades), so
repository.deleted needs no subscriber here."""

from __future__ import annotations

from apps.events.models import DomainEvent

from . import services


def replicate_pushed_image(event: DomainEvent) -> None:
    """image.pushed: copy the new image to the destinations."""
    services.replicate_image(repository_id=event.payload["repositoryId"], digest=event.payload["digest"])


def replicate_moved_tag(event: DomainEvent) -> None:
    """tag.moved: the tag now names an image, new or not: its copy moves the tag at the destinations."""
    services.replicate_image(repository_id=event.payload["repositoryId"], digest=event.payload["digest"])


def replicate_deleted_image(event: DomainEvent) -> None:
    """image.deleted: drop its status rows; delete it where a rule replicates deletions."""
    services.replicate_deletion(repository_id=event.payload["repositoryId"], digest=event.payload["digest"])


def replicate_deleted_tag(event: DomainEvent) -> None:
    """tag.deleted: delete the tag where a rule replicates deletions."""
    services.replicate_deletion(
        repository_id=event.payload["repositoryId"], digest=event.payload["digest"], tag=event.payload["tag"]
    )
