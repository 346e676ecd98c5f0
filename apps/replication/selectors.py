"""Reads of replication: an account's configuration, what a repository replicates
to, an image's status at each destination, back-fills and their progress."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Count, Q

from apps.accounts.models import Account
from apps.registry.models import RepositoryBlob
from apps.repositories.models import Repository

from . import config
from .models import (
    ImageReplication,
    PullThroughCacheRule,
    ReplicationAction,
    ReplicationBackfill,
    ReplicationConfiguration,
    ReplicationStatus,
)


def is_cache_repository(repository: Repository) -> bool:
    """Whether a pull-through cache rule of its account covers ``repository``: its
    images are an upstream's, fetched layer by layer as clients ask, and are not
    replicated (as in Amazon ECR); the destinations can cache the upstream themselves."""
    prefixes = PullThroughCacheRule.objects.filter(account_id=repository.account_id).values_list(
        "ecr_repository_prefix", flat=True
    )
    return any(repository.name.startswith(prefix + "/") for prefix in prefixes)


def stored_rules(account_id: str) -> list[dict]:
    """The account's rules as stored (sealed passwords included: for services only)."""
    stored = ReplicationConfiguration.objects.filter(account_id=account_id).values_list("rules", flat=True).first()
    return stored or []


def configuration_of(account_id: str) -> config.Configuration:
    return config.from_stored(stored_rules(account_id))


def describe_registry(account: Account) -> dict:
    """DescribeRegistry: the registry id and its replication configuration, no secrets."""
    return {"registryId": account.pk, "replicationConfiguration": config.described(stored_rules(account.pk))}


@dataclass(frozen=True)
class Target:
    """A destination a repository replicates to, and the first rule that sends it there."""

    rule_index: int
    destination: config.Destination
    replicate_deletions: bool


def targets(
    configuration: config.Configuration, repository_name: str, *, rule_index: int | None = None
) -> list[Target]:
    """The destinations the configuration sends ``repository_name`` to, each once
    (the first rule naming it wins; replicateDeletions if any matching rule asks),
    only rule ``rule_index``'s when given."""
    found: dict[tuple, Target] = {}
    for index, rule in enumerate(configuration.rules):
        if rule_index is not None and index != rule_index:
            continue
        if not rule.matches(repository_name):
            continue
        for destination in rule.destinations:
            seen = found.get(destination.key)
            if seen is None:
                found[destination.key] = Target(index, destination, rule.replicate_deletions)
            elif rule.replicate_deletions and not seen.replicate_deletions:
                found[destination.key] = Target(seen.rule_index, seen.destination, True)
    return list(found.values())


def destination_of(account_id: str, row: ImageReplication) -> config.Destination | None:
    """The configured destination a status row names, with its credentials; None once
    the configuration no longer has it."""
    key = (row.destination_region, row.destination_registry_id, row.destination_endpoint)
    for rule in configuration_of(account_id).rules:
        for destination in rule.destinations:
            if destination.key == key:
                return destination
    return None


def image_statuses(repository: Repository, digest: str) -> list[ImageReplication]:
    """DescribeImageReplicationStatus: the image's copy at each destination."""
    return list(
        ImageReplication.objects.filter(
            repository=repository, image_digest=digest, action=ReplicationAction.REPLICATE
        ).order_by("destination_region", "destination_registry_id", "destination_endpoint")
    )


def statuses_by_image(repository: Repository, digests) -> dict[str, list[ImageReplication]]:
    """image_statuses of several images of the repository in one query, by digest
    (an image with no copy is absent)."""
    found: dict[str, list[ImageReplication]] = {}
    rows = ImageReplication.objects.filter(
        repository=repository, image_digest__in=set(digests), action=ReplicationAction.REPLICATE
    ).order_by("destination_region", "destination_registry_id", "destination_endpoint")
    for row in rows:
        found.setdefault(row.image_digest, []).append(row)
    return found


def replicated_elsewhere(repository: Repository, digest: str, destination: config.Destination, *, limit: int = 3):
    """Names of the account's other repositories that link blob ``digest`` and whose
    copies reached ``destination``: the destination holds the blob there, and can
    mount it instead of taking an upload."""
    return list(
        RepositoryBlob.objects.filter(
            blob_id=digest,
            repository__account_id=repository.account_id,
            repository__replications__destination_region=destination.region,
            repository__replications__destination_registry_id=destination.registry_id,
            repository__replications__destination_endpoint=destination.endpoint,
            repository__replications__status=ReplicationStatus.COMPLETE,
        )
        .exclude(repository=repository)
        .values_list("repository__name", flat=True)
        .distinct()[:limit]
    )


# -- back-fills -------------------------------------------------------------------------


@dataclass
class Progress:
    total: int
    complete: int = 0
    failed: int = 0
    in_progress: int = 0
    dropped: int = 0
    failures: list[ImageReplication] = field(default_factory=list)


def backfill_of(account: Account, backfill_id) -> ReplicationBackfill | None:
    return ReplicationBackfill.objects.filter(account=account, pk=backfill_id).first()


def backfills(account: Account, *, limit: int = 100) -> list[ReplicationBackfill]:
    return list(ReplicationBackfill.objects.filter(account=account).order_by("-started_at")[:limit])


def progress(backfill: ReplicationBackfill, *, failures: int = 100) -> Progress:
    """Counted from the copies that name the back-fill; a copy a push asked for again
    since counts as it stands now."""
    counts = ImageReplication.objects.filter(backfill=backfill).aggregate(
        complete=Count("pk", filter=Q(status=ReplicationStatus.COMPLETE)),
        failed=Count("pk", filter=Q(status=ReplicationStatus.FAILED)),
        in_progress=Count("pk", filter=Q(status=ReplicationStatus.IN_PROGRESS)),
    )
    failed_rows = list(
        ImageReplication.objects.filter(backfill=backfill, status=ReplicationStatus.FAILED)
        .select_related("repository")
        .order_by("pk")[:failures]
    )
    return Progress(total=backfill.total, dropped=backfill.dropped, failures=failed_rows, **counts)
