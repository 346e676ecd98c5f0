"""Online garbage collection: bytes no repository references leave the store,
while pushes and pulls go on.

Reachability lives in the database. A repository serves a blob only through its
link (RepositoryBlob); deleting a manifest or a repository drops the links nothing
else of the repository references at once (services._release_links). What is
left for the collector, in passes that anyone may run at any time, side by side:

1. Links no manifest of their repository references (layers pushed without a
   manifest, or before one) go once older than the grace window.
2. A blob no repository links, untouched for the grace window (``touched_at``: its
   last link made or dropped), is condemned: ``condemned_at`` is set.
3. A condemned blob's row is deleted and its bytes with it, in one transaction.

Why no push can lose its bytes to a collection:

- Whoever links a blob first updates its row in the linking transaction
  (services._claim_blob for a mount, services._store_claimed for a finished
  upload), which locks the row. Step 2 locks its candidates (skipping locked ones)
  and only then, in a new statement that sees every committed link, condemns
  those still unlinked. A linker that came first has committed its link by then;
  one that comes later waits for the lock and then finds the blob condemned: a
  mount refuses it (the client uploads instead), an upload pardons it
  (``condemned_at`` cleared) and writes its bytes again if they are gone.
- Step 3 deletes the row before the bytes, under the row lock, and only rows still
  condemned: a pardon either comes before (nothing is deleted) or waits and makes
  the row anew. A collector killed between deleting the bytes and committing
  leaves the row condemned, and the next pass deletes the (missing) bytes again.
- Step 1 locks the links, as a manifest push does (services._hold_links), before
  it reads the references: a push that held a link has committed its manifest by
  then and keeps the link; a later one finds the link gone and is refused
  (MANIFEST_BLOB_UNKNOWN) rather than storing a manifest whose layer is going.

Every transaction here takes its row locks before the audit trail's chain head,
which it records last: a push holds its rows while it waits for the head.

On SQLite every write transaction holds the database's one write lock
(``transaction_mode`` IMMEDIATE), so the same steps are serialized outright.

Bytes that reached the store without a row (a crash between writing and
committing) are found by the slower reconciliation, which gives them a condemned
row: step 3 takes them, and an upload of the same bytes meanwhile pardons them."""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Exists, OuterRef, Q, Sum
from django.utils import timezone

from apps.audit import events
from apps.audit import services as audit_services
from apps.audit.events import Actor
from apps.kernel.iterables import batched

from .content import media_types as mt
from .content.schema1 import EMPTY_LAYER_DIGEST
from .models import Blob, ManifestBlob, ManifestConversion, RepositoryBlob
from .storage import get_blob_store

logger = logging.getLogger(__name__)

COLLECTOR = Actor.system("gc")
# Rows a transaction of the collector locks at once. Digests are listed in the
# audit event of their batch, so a batch also bounds the size of one event.
BATCH_SIZE = 200
# A pass rests between batches this many times as long as a batch took, and at
# most MAX_REST seconds, whatever a slow batch took.
REST_FACTOR = 3
MAX_REST = 2.0

Progress = Callable[[str, int, int | None], None]
"""Told (stage, items done since the last call, the stage's items if known) as a pass goes."""


def _quiet(stage: str, done: int, total: int | None) -> None:
    return None


@dataclass
class RepositoryShare:
    links: int = 0
    link_bytes: int = 0
    blobs: int = 0
    bytes: int = 0


@dataclass
class Report:
    """What a pass did, or (a plan) would do now.

    ``blobs``/``bytes``: blobs deleted from the store (a plan: unlinked blobs past
    the grace window, and condemned ones). ``links``/``link_bytes``: links dropped
    because no manifest of their repository references them; their blobs are
    deleted by a pass once the grace window has passed again, unless relinked.
    ``per_repository``: both, by the repository that dropped a blob's last link."""

    grace_seconds: float
    links: int = 0
    link_bytes: int = 0
    blobs: int = 0
    bytes: int = 0
    orphans: int = 0
    orphan_bytes: int = 0
    per_repository: dict[str, RepositoryShare] = field(default_factory=lambda: defaultdict(RepositoryShare))

    def as_dict(self) -> dict:
        return {
            "graceSeconds": self.grace_seconds,
            "blobs": self.blobs,
            "bytes": self.bytes,
            "links": self.links,
            "linkBytes": self.link_bytes,
            "orphans": self.orphans,
            "orphanBytes": self.orphan_bytes,
            "repositories": {
                name: {"blobs": share.blobs, "bytes": share.bytes, "links": share.links, "linkBytes": share.link_bytes}
                for name, share in sorted(self.per_repository.items())
            },
        }


def default_grace() -> timedelta:
    return timedelta(seconds=settings.BERTH_GC_GRACE_SECONDS)


def _unreferenced_links(cutoff: datetime):
    """Links older than ``cutoff`` that no manifest of their repository references.
    Schema 1 conversions list the empty layer without a manifest row of their own:
    a repository with one keeps that link."""
    referenced = ManifestBlob.objects.filter(manifest__repository=OuterRef("repository"), blob=OuterRef("blob"))
    converted = ManifestConversion.objects.filter(
        source__repository=OuterRef("repository"), media_type__in=(mt.DOCKER_SCHEMA1, mt.DOCKER_SCHEMA1_SIGNED)
    )
    return (
        RepositoryBlob.objects.filter(created_at__lt=cutoff)
        .exclude(Exists(referenced))
        .exclude(Q(blob_id=EMPTY_LAYER_DIGEST) & Exists(converted))
    )


def _unlinked_blobs(cutoff: datetime):
    return Blob.objects.filter(condemned_at__isnull=True, touched_at__lt=cutoff).exclude(
        Exists(RepositoryBlob.objects.filter(blob=OuterRef("pk")))
    )


def plan(*, grace: timedelta | None = None) -> Report:
    """What a pass would do now, changing nothing (``berth gc --dry-run``)."""
    grace = default_grace() if grace is None else grace
    cutoff = timezone.now() - grace
    report = Report(grace_seconds=grace.total_seconds())
    links = (
        _unreferenced_links(cutoff)
        .values("repository__account_id", "repository__name")
        .annotate(count=Count("pk"), size=Sum("blob__size"))
        .order_by()
    )
    for row in links:
        share = report.per_repository[f"{row['repository__account_id']}/{row['repository__name']}"]
        share.links, share.link_bytes = row["count"], row["size"] or 0
        report.links += share.links
        report.link_bytes += share.link_bytes
    doomed = Blob.objects.filter(Q(condemned_at__isnull=False) | Q(pk__in=_unlinked_blobs(cutoff).values("pk"))).values(
        "released_from"
    )
    for row in doomed.annotate(count=Count("pk"), size=Sum("size")).order_by():
        share = report.per_repository[row["released_from"] or "(none)"]
        share.blobs, share.bytes = row["count"], row["size"] or 0
        report.blobs += share.blobs
        report.bytes += share.bytes
    return report


def collect(*, grace: timedelta | None = None, progress: Progress = _quiet, actor: Actor = COLLECTOR) -> Report:
    """One pass: drop unreferenced links, condemn unlinked blobs, delete condemned
    ones. Safe beside pushes, pulls and other passes (see the module's docstring)."""
    grace = default_grace() if grace is None else grace
    cutoff = timezone.now() - grace
    report = Report(grace_seconds=grace.total_seconds())
    _drop_links(cutoff, report, progress, actor)
    _condemn(cutoff, progress)
    _delete_condemned(report, progress, actor)
    logger.info(
        "garbage collection: %d links dropped, %d blobs (%d bytes) deleted", report.links, report.blobs, report.bytes
    )
    return report


def _paced(batches):
    """The batches, with a rest after each REST_FACTOR times as long as it took: a
    pass uses at most a quarter of a core and of its database connection, and the
    pushes and pulls beside it keep their pace (bench/gc_pass.py measures both)."""
    for batch in batches:
        started = time.monotonic()
        yield batch
        time.sleep(min(REST_FACTOR * (time.monotonic() - started), MAX_REST))


def _drop_links(cutoff: datetime, report: Report, progress: Progress, actor: Actor) -> None:
    # By repository: a batch then names few of them, and records an event for each.
    candidates = list(_unreferenced_links(cutoff).order_by("repository_id", "pk").values_list("pk", flat=True))
    for batch in _paced(batched(candidates, BATCH_SIZE)):
        with transaction.atomic():
            locked = list(
                RepositoryBlob.objects.select_for_update(skip_locked=True)
                .filter(pk__in=batch)
                .order_by("blob_id")
                .values_list("pk", flat=True)
            )
            # A new statement, after the locks: it sees every manifest a push that
            # held one of these links committed.
            dropped = list(
                _unreferenced_links(cutoff).filter(pk__in=locked).select_related("repository", "blob").order_by("pk")
            )
            if dropped:
                _drop(dropped, report, actor)
        progress("links", len(batch), len(candidates))


def _drop(links: list[RepositoryBlob], report: Report, actor: Actor) -> None:
    RepositoryBlob.objects.filter(pk__in=[link.pk for link in links]).delete()
    by_repository = defaultdict(list)
    for link in links:
        by_repository[link.repository].append(link.blob)
    now = timezone.now()
    names = {repository: f"{repository.account_id}/{repository.name}" for repository in by_repository}
    # Every row lock before the audit trail's: a push holding a blob's row waits for
    # the chain head next (the module's docstring).
    for repository, blobs in by_repository.items():
        Blob.objects.filter(pk__in=[blob.pk for blob in blobs]).update(touched_at=now, released_from=names[repository])
    drafts = []
    for repository, blobs in by_repository.items():
        name = names[repository]
        size = sum(blob.size for blob in blobs)
        share = report.per_repository[name]
        share.links += len(blobs)
        share.link_bytes += size
        report.links += len(blobs)
        report.link_bytes += size
        draft = events.unstarted(
            actor,
            None,
            event_name="DropUnreferencedLayers",
            event_source="ecr",
            recipient_account_id=repository.account_id,
            repository=repository.name,
            request_parameters={"registryId": repository.account_id, "repositoryName": repository.name},
        )
        draft.response_elements = {"layerDigests": sorted(blob.pk for blob in blobs), "bytes": size}
        drafts.append(draft)
    audit_services.record_many(drafts)


def _condemn(cutoff: datetime, progress: Progress) -> None:
    candidates = list(_unlinked_blobs(cutoff).order_by("pk").values_list("pk", flat=True))
    for batch in _paced(batched(candidates, BATCH_SIZE)):
        with transaction.atomic():
            locked = list(
                Blob.objects.select_for_update(skip_locked=True)
                .filter(pk__in=batch, condemned_at__isnull=True, touched_at__lt=cutoff)
                .values_list("pk", flat=True)
            )
            _unlinked_blobs(cutoff).filter(pk__in=locked).update(condemned_at=timezone.now())
        progress("unlinked blobs", len(batch), len(candidates))


def _delete_condemned(report: Report, progress: Progress, actor: Actor) -> None:
    store = get_blob_store()
    condemned = list(Blob.objects.filter(condemned_at__isnull=False).order_by("pk").values_list("pk", flat=True))
    for batch in _paced(batched(condemned, BATCH_SIZE)):
        try:
            with transaction.atomic():
                doomed = list(
                    Blob.objects.select_for_update(skip_locked=True)
                    .filter(pk__in=batch, condemned_at__isnull=False)
                    .values_list("pk", "size", "released_from")
                )
                if not doomed:
                    continue
                digests = [digest for digest, _, _ in doomed]
                # Rows first, bytes second, one transaction: a failure of the store
                # rolls the rows back, still condemned, for the next pass.
                _delete_rows(digests)
                store.delete_everywhere(digests)
                freed = sum(size for _, size, _ in doomed)
                audit_services.record_change(
                    actor=actor,
                    context=None,
                    event_name="DeleteUnreferencedBlobs",
                    request_parameters={},
                    response_elements={"blobDigests": digests, "bytes": freed},
                )
        except OSError:
            logger.exception(
                "garbage collection: the blob store did not delete %d blobs; the next pass retries", len(batch)
            )
            continue
        finally:
            progress("condemned blobs", len(batch), len(condemned))
        for _, size, released_from in doomed:
            share = report.per_repository[released_from or "(none)"]
            share.blobs += 1
            share.bytes += size
        report.blobs += len(doomed)
        report.bytes += freed


def _delete_rows(digests: list[str]) -> None:
    """Delete the condemned rows, locked by the caller. Straight SQL: Django's
    delete() would first look for the rows' references one query a relation, and
    the collector has proved there are none (condemned rows have no links)."""
    table = connection.ops.quote_name(Blob._meta.db_table)
    placeholders = ", ".join(["%s"] * len(digests))
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE digest IN ({placeholders}) AND condemned_at IS NOT NULL", digests)


def reconcile(*, grace: timedelta | None = None, progress: Progress = _quiet) -> Report:
    """Find bytes in the store that no row describes (a crash between writing them
    and committing the row) and older than the grace window, and condemn them with
    a row of their own; the next pass (collect) deletes them."""
    grace = default_grace() if grace is None else grace
    cutoff = (timezone.now() - grace).timestamp()
    report = Report(grace_seconds=grace.total_seconds())
    old = ((digest, size) for digest, size, written in get_blob_store().stored() if written < cutoff)
    for batch in batched(old, 1000):
        known = set(Blob.objects.filter(pk__in=[digest for digest, _ in batch]).values_list("pk", flat=True))
        orphans = [(digest, size) for digest, size in batch if digest not in known]
        if orphans:
            _condemn_orphans(orphans)
            report.orphans += len(orphans)
            report.orphan_bytes += sum(size for _, size in orphans)
        progress("stored blobs", len(batch), None)
    return report


def _condemn_orphans(orphans: Iterable[tuple[str, int]]) -> None:
    now = timezone.now()
    with transaction.atomic():
        # A push of the same bytes that is committing its row now wins the conflict
        # (its row stands, not condemned); one that comes later pardons this row.
        Blob.objects.bulk_create(
            [Blob(digest=digest, size=size, touched_at=now, condemned_at=now) for digest, size in orphans],
            ignore_conflicts=True,
        )
