"""Pull counting: the audit recorder hands over each flushed batch of events, and
the successful manifest pulls (BatchGetImage) of public repositories become counter
upserts, one row per (repository, tag, day) in one statement per batch. Nothing is
written per pull on the request path.

One `docker pull` is one count: a pull is the GET of an image manifest. HEADs
(docker checks the tag first) and indexes (a multi-arch pull fetches the index,
then its platform's manifest) are not counted. Clients fetch by digest once they
know it, so a pull by digest counts under the tag that points at the image, or at
the index that lists it; "" when no tag does."""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from django.db import connection, transaction
from django.db.models import F, Q

from apps.registry.content.media_types import INDEXES
from apps.registry.models import Tag
from apps.repositories.models import Repository, Visibility

from .models import GalleryEntry, PullCount

PULL_EVENT = "BatchGetImage"


def _public_repository_ids(names: set[tuple[str, str]]) -> dict[tuple[str, str], int]:
    wanted = Q()
    for account_id, name in names:
        wanted |= Q(account_id=account_id, name=name)
    rows = Repository.objects.filter(wanted, visibility=Visibility.PUBLIC).values_list("account_id", "name", "pk")
    return {(account_id, name): pk for account_id, name, pk in rows}


def _may_be_pull(event) -> bool:
    """A successful BatchGetImage of a repository: what the event's plain fields say."""
    return event.event_name == PULL_EVENT and not event.error_code and bool(event.recipient_account_id and event.repository)


def _is_image_pull(event) -> bool:
    """Of those, a GET of an image manifest (not a HEAD, not an index): what its
    parameters say, read only for events of public repositories."""
    return (
        event.request_parameters.get("httpMethod") != "HEAD"
        and event.response_elements.get("imageManifestMediaType") not in INDEXES
    )


def _tags_of(digests: set[tuple[int, str]]) -> dict[tuple[int, str], str]:
    """(repository id, digest) -> a tag pointing at that image, or at an index
    listing it (the most recently moved tag wins)."""
    wanted = Q()
    for repository_id, digest in digests:
        wanted |= Q(repository_id=repository_id, manifest__digest=digest)
        wanted |= Q(repository_id=repository_id, manifest__child_refs__child__digest=digest)
    found: dict[tuple[int, str], str] = {}
    rows = (
        Tag.objects.filter(wanted)
        .values_list("repository_id", "manifest__digest", "manifest__child_refs__child__digest", "name")
        .order_by("-updated_at")
    )
    for repository_id, digest, child_digest, name in rows:
        for key in ((repository_id, digest), (repository_id, child_digest)):
            if key in digests:
                found.setdefault(key, name)
    return found


def count_pulls(events: Iterable) -> int:
    """Add the batch's image pulls of public repositories to the counters; returns
    how many pulls were counted. ``events`` are the audit recorder's rows (or
    drafts): their parameters are read only for pulls of public repositories."""
    candidates = [event for event in events if _may_be_pull(event)]
    if not candidates:
        return 0
    repository_ids = _public_repository_ids({(event.recipient_account_id, event.repository) for event in candidates})
    pulls: Counter[tuple[str, str, str, str, object]] = Counter()
    for event in candidates:
        if (event.recipient_account_id, event.repository) not in repository_ids or not _is_image_pull(event):
            continue
        tag = str(event.request_parameters.get("imageTag") or "")
        digest = "" if tag else str(event.response_elements.get("imageDigest") or "")
        pulls[(event.recipient_account_id, event.repository, tag, digest, event.event_time.date())] += 1
    if not pulls:
        return 0
    by_digest = {
        (repository_ids[(account_id, name)], digest)
        for account_id, name, _, digest, _ in pulls
        if digest and (account_id, name) in repository_ids
    }
    tags = _tags_of(by_digest) if by_digest else {}
    counts: Counter[tuple[int, str, object]] = Counter()
    for (account_id, name, tag, digest, day), count in pulls.items():
        repository_id = repository_ids.get((account_id, name))
        if repository_id is not None:
            counts[(repository_id, tag or tags.get((repository_id, digest), ""), day)] += count
    if not counts:
        return 0
    table = connection.ops.quote_name(PullCount._meta.db_table)
    values = ", ".join(["(%s, %s, %s, %s)"] * len(counts))
    # The upsert locks its rows in the order given: sorted, so that two audit writers
    # (hosts sharing the database) never wait on each other in a cycle.
    params = [value for (repository_id, tag, day), count in sorted(counts.items())
              for value in (repository_id, tag, day, count)]
    # PostgreSQL and SQLite (3.24+) both speak this upsert; the ORM's bulk_create
    # would overwrite the count instead of adding to it.
    sql = (
        f"INSERT INTO {table} (repository_id, tag, day, count) VALUES {values} "
        f"ON CONFLICT (repository_id, tag, day) DO UPDATE SET count = {table}.count + excluded.count"
    )
    totals: Counter[int] = Counter()
    for (repository_id, _, _), count in counts.items():
        totals[repository_id] += count
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
        # Locked in id order too.
        for repository_id in sorted(totals):
            GalleryEntry.objects.filter(repository_id=repository_id).update(
                pull_count=F("pull_count") + totals[repository_id]
            )
    return sum(counts.values())

