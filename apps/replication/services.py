"""Every write of replication: the configuration (PutReplicationConfiguration),
the copies domain events ask for, a user's retry of a failed copy, and back-fills.

Subscribers (subscribers.py) turn the registry's events into status rows, one per
image and destination, and queue one task per row once their transaction has
committed; the worker's side is engine.py, the copy itself copying.py."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.accounts.models import Account
from apps.audit import services as audit_services
from apps.audit.events import Actor
from apps.kernel.errors import DomainError
from apps.kernel.requests import RequestContext
from apps.kernel.sealing import seal
from apps.registry.models import Manifest, ManifestChild, Tag
from apps.repositories.models import Repository

from . import config, engine, selectors, status, tasks
from .models import (
    BackfillStatus,
    ImageReplication,
    ReplicationAction,
    ReplicationBackfill,
    ReplicationConfiguration,
    ReplicationStatus,
)


class ReplicationNotConfigured(DomainError):
    default_message = "the registry has no replication rule: PutReplicationConfiguration first"


class BackfillRuleUnknown(DomainError):
    def __init__(self, rule_index: int, rules: int) -> None:
        super().__init__(f"rule {rule_index} does not exist: the configuration has {rules} rule(s), from 0")
        self.rule_index = rule_index


class BackfillNotFound(DomainError):
    def __init__(self, backfill_id) -> None:
        super().__init__(f"no replication back-fill {backfill_id} in this registry")
        self.backfill_id = backfill_id


# -- the configuration ------------------------------------------------------------------


def _sealed(configuration: config.Configuration, previous: config.Configuration) -> config.Configuration:
    """Passwords given are sealed; a destination given without credentials keeps
    the ones it had (DescribeRegistry never returns them, so a configuration read,
    changed and put back must not lose them)."""
    kept = {
        d.key: (d.username, d.sealed_password)
        for rule in previous.rules
        for d in rule.destinations
        if d.sealed_password
    }

    def seal_destination(d: config.Destination) -> config.Destination:
        if d.password is not None:
            return config.Destination(d.region, d.registry_id, d.endpoint, d.username, None, seal(d.password))
        if d.endpoint and d.key in kept:
            username, sealed = kept[d.key]
            return config.Destination(d.region, d.registry_id, d.endpoint, username, None, sealed)
        return d

    return config.Configuration(
        tuple(
            config.Rule(tuple(seal_destination(d) for d in rule.destinations), rule.filters, rule.replicate_deletions)
            for rule in configuration.rules
        )
    )


def put_replication_configuration(
    *, account: Account, document: object, actor: Actor, context: RequestContext | None = None
) -> dict:
    """PutReplicationConfiguration: replaces the account's rules (``{"rules": []}``
    removes them). Returns the configuration as DescribeRegistry shows it."""
    parsed = config.parse(document, account_id=account.pk, region=settings.BERTH_REGION)
    with transaction.atomic():
        stored = ReplicationConfiguration.objects.select_for_update().filter(account=account).first()
        previous = config.from_stored(stored.rules) if stored is not None else config.Configuration()
        rules = config.to_stored(_sealed(parsed, previous))
        ReplicationConfiguration.objects.update_or_create(account=account, defaults={"rules": rules})
        described = config.described(rules)
        audit_services.record_change(
            actor=actor,
            context=context,
            event_name="PutReplicationConfiguration",
            recipient_account_id=account.pk,
            request_parameters={"registryId": account.pk, "replicationConfiguration": described},
            response_elements={"replicationConfiguration": described},
        )
    return described


# -- copies asked for by the registry's events ------------------------------------------


def _repository(repository_id: int) -> Repository | None:
    return Repository.objects.select_related("account").filter(pk=repository_id).first()


def replicate_image(*, repository_id: int, digest: str) -> list[int]:
    """An image was pushed (or tagged): ask for its copy at every destination the
    configuration sends its repository to. Returns the rows queued."""
    repository = _repository(repository_id)
    if repository is None or not Manifest.objects.filter(repository=repository, digest=digest).exists():
        return []  # deleted since the event
    if selectors.is_cache_repository(repository):
        return []
    configuration = selectors.configuration_of(repository.account_id)
    ids = [
        status.request(repository=repository, digest=digest, destination=t.destination, rule_index=t.rule_index)
        for t in selectors.targets(configuration, repository.name)
    ]
    status.enqueue_on_commit(ids, tasks.enqueue)
    return [row_id for row_id in ids if row_id is not None]


def replicate_deletion(*, repository_id: int, digest: str, tag: str | None = None) -> list[int]:
    """An image (or, with ``tag``, a tag) was deleted: its copies' rows go, and the
    destinations of rules with replicateDeletions delete it too."""
    repository = _repository(repository_id)
    if repository is None:
        return []
    if tag is None:
        if Manifest.objects.filter(repository=repository, digest=digest).exists():
            return []  # pushed again since
        ImageReplication.objects.filter(
            repository=repository, image_digest=digest, action=ReplicationAction.REPLICATE
        ).delete()
    elif Tag.objects.filter(repository=repository, name=tag).exists():
        return []  # tagged again since; that image's copy moves the tag
    configuration = selectors.configuration_of(repository.account_id)
    ids = [
        status.request(
            repository=repository,
            digest=digest,
            destination=t.destination,
            rule_index=t.rule_index,
            action=ReplicationAction.DELETE,
            tag=tag or "",
        )
        for t in selectors.targets(configuration, repository.name)
        if t.replicate_deletions
    ]
    status.enqueue_on_commit(ids, tasks.enqueue)
    return [row_id for row_id in ids if row_id is not None]


# -- a user's retry ---------------------------------------------------------------------


def retry_image_replication(
    *, repository: Repository, digest: str, actor: Actor, context: RequestContext | None = None
) -> list[ImageReplication]:
    """Berth's RetryImageReplication: the image's FAILED copies (dead letters
    included) start over; the others are left as they are. Returns the image's
    statuses."""
    now = timezone.now()
    with transaction.atomic():
        rows = list(
            ImageReplication.objects.select_for_update().filter(
                repository=repository,
                image_digest=digest,
                action=ReplicationAction.REPLICATE,
                status=ReplicationStatus.FAILED,
            )
        )
        for row in rows:
            row.status = ReplicationStatus.IN_PROGRESS
            row.failure_code = row.failure_reason = ""
            row.attempts = 0
            row.next_attempt_at = row.enqueued_at = row.updated_at = now
            row.leased_until = None
            row.generation += 1
            row.save()
            status.publish_change(row, repository)
        audit_services.record_change(
            actor=actor,
            context=context,
            event_name="RetryImageReplication",
            recipient_account_id=repository.account_id,
            repository=repository.name,
            request_parameters={
                "registryId": repository.account_id,
                "repositoryName": repository.name,
                "imageId": {"imageDigest": digest},
            },
            response_elements={
                "retried": [
                    {"region": row.destination_region, "registryId": row.destination_registry_id} for row in rows
                ]
            },
        )
        status.enqueue_on_commit([row.pk for row in rows], tasks.enqueue)
    return selectors.image_statuses(repository, digest)


# -- back-fills -------------------------------------------------------------------------


def _images(repository: Repository) -> list[str]:
    """The repository's images as a back-fill copies them: each manifest, except
    an untagged index entry and a referrer whose subject is here (the copy of the
    index, or of the subject, brings them)."""
    manifests = list(Manifest.objects.filter(repository=repository).values_list("pk", "digest", "subject_digest"))
    digests = {digest for _, digest, _ in manifests}
    entries = set(ManifestChild.objects.filter(parent__repository=repository).values_list("child_id", flat=True))
    tagged = set(Tag.objects.filter(repository=repository).values_list("manifest_id", flat=True))
    return [
        digest for pk, digest, subject in manifests if pk in tagged or (pk not in entries and subject not in digests)
    ]


def start_replication_backfill(
    *, account: Account, rule_index: int | None = None, actor: Actor, context: RequestContext | None = None
) -> ReplicationBackfill:
    """Berth's StartReplicationBackfill: copy every image of the repositories the
    rules (or rule ``rule_index``) match to their destinations, as status rows that
    name the back-fill."""
    rules = selectors.stored_rules(account.pk)
    if not rules:
        raise ReplicationNotConfigured()
    if rule_index is not None and not 0 <= rule_index < len(rules):
        raise BackfillRuleUnknown(rule_index, len(rules))
    configuration = config.from_stored(rules)
    with transaction.atomic():
        backfill = ReplicationBackfill.objects.create(
            account=account, rule_index=rule_index, rules=config.described(rules)["rules"]
        )
        ids = []
        for repository in Repository.objects.filter(account=account).order_by("name"):
            chosen = selectors.targets(configuration, repository.name, rule_index=rule_index)
            if not chosen or selectors.is_cache_repository(repository):
                continue
            for digest in _images(repository):
                ids += [
                    status.request(
                        repository=repository,
                        digest=digest,
                        destination=t.destination,
                        rule_index=t.rule_index,
                        backfill=backfill,
                    )
                    for t in chosen
                ]
        backfill.total = ImageReplication.objects.filter(backfill=backfill).count()
        backfill.save(update_fields=["total"])
        engine.settle_backfill(backfill.pk)
        backfill.refresh_from_db()
        audit_services.record_change(
            actor=actor,
            context=context,
            event_name="StartReplicationBackfill",
            recipient_account_id=account.pk,
            request_parameters={"registryId": account.pk, "ruleIndex": rule_index},
            response_elements={"backfillId": str(backfill.pk), "total": backfill.total},
        )
        status.enqueue_on_commit(ids, tasks.enqueue)
    return backfill


def stop_replication_backfill(
    *, account: Account, backfill_id, actor: Actor, context: RequestContext | None = None
) -> ReplicationBackfill:
    """Berth's StopReplicationBackfill: its copies that have not started are
    dropped, those that have finish. A back-fill that ended already stays as it is."""
    with transaction.atomic():
        backfill = ReplicationBackfill.objects.select_for_update().filter(account=account, pk=backfill_id).first()
        if backfill is None:
            raise BackfillNotFound(backfill_id)
        dropped = 0
        if backfill.status == BackfillStatus.RUNNING:
            dropped, _ = ImageReplication.objects.filter(
                backfill=backfill, status=ReplicationStatus.IN_PROGRESS, attempts=0, leased_until__isnull=True
            ).delete()
            backfill.status = BackfillStatus.STOPPED
            backfill.dropped = dropped
            backfill.finished_at = timezone.now()
            backfill.save(update_fields=["status", "dropped", "finished_at"])
        audit_services.record_change(
            actor=actor,
            context=context,
            event_name="StopReplicationBackfill",
            recipient_account_id=account.pk,
            request_parameters={"registryId": account.pk, "backfillId": str(backfill.pk)},
            response_elements={"status": backfill.status, "dropped": dropped},
        )
    return backfill
