"""Lifecycle's reactions to domain events (subscribed in LifecycleConfig.ready).

A repository that replication or the pull-through cache created from a repository
creation template (repository.created carrying ``creationTemplate``) gets the
template's lifecycle policy, put as the system actor ``lifecycle`` (recorded as
PutLifecyclePolicy). The repository and the template are read as they are when the
event is delivered: one deleted since has nothing to apply, and a repository that
has a lifecycle policy by then (a second delivery, or its owner's own) keeps it."""

from __future__ import annotations

from apps.audit.events import Actor
from apps.events.models import DomainEvent
from apps.repositories import selectors as repository_selectors
from apps.repositories.models import Repository

from . import selectors, services

LIFECYCLE = Actor.system("lifecycle")


def apply_creation_template(event: DomainEvent) -> None:
    """repository.created: put the creation template's lifecycle policy, if it has one
    and the repository has none."""
    prefix = event.payload.get("creationTemplate")
    if prefix is None:
        return
    template = repository_selectors.creation_template(event.payload["accountId"], prefix)
    if template is None or not template.lifecycle_policy:
        return
    # The outbox never runs one subscriber on one event twice at once, so a second
    # delivery finds the policy the first put.
    repository = Repository.objects.filter(pk=event.payload["repositoryId"]).first()
    if repository is None or selectors.policy_of(repository) is not None:
        return
    services.put_lifecycle_policy(repository=repository, text=template.lifecycle_policy, actor=LIFECYCLE)
