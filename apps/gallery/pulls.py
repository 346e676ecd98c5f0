"""Pull counting: the audit writer publishes the pulls of each batch of events it
writes as one images.pulled domain event (apps.audit.pulls), and those of public
repositories become counter upserts, one row per (repository, tag, day) in one
statement per event. Nothing is written per pull on the request path.

One `docker pull` is one count: a pull is the GET of an image manifest. HEADs
(docker checks the tag first; the event leaves them out) and indexes (a
multi-arch pull fetches the index, then its platform's manifest) are not counted.
Clients fetch by digest once they know it, so a pull by digest counts under the
tag that points at the image, or at the index that lists it; "" when no tag does."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import date

from django.db import connection, transaction
from django.db.models import F, Q

from apps.registry.content.media_types import INDEXES
from apps.registry.models import Tag
from apps.repositories.models import Repository, Visibility

from .models import GalleryEntry, PullCount


def _public_repository_ids(names: set[tuple[str, str]]) -> dict[tuple[str, str], int]:
    wanted = Q()
    for account_id, name in names:
        wanted |= Q(account_id=account_id, name=name)
    rows = Repository.objects.filter(wanted, visibility=Visibility.PUBLIC).values_list("account_id", "name", "pk")
    return {(account_id, name): pk for account_id, name, pk in rows}


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


def count_pulls(pulls: Iterable[dict]) -> int:
    """Add the image pulls of public repositories among ``pulls`` (an images.pulled
    event's) to the counters; returns how many pulls were counted."""
    images = [pull for pull in pulls if pull["mediaType"] not in INDEXES]
    if not images:
        return 0
    repository_ids = _public_repository_ids({(pull["accountId"], pull["repository"]) for pull in images})
    by_digest = {
        (repository_ids[(pull["accountId"], pull["repository"])], pull["digest"])
        for pull in images
        if not pull["tag"] and pull["digest"] and (pull["accountId"], pull["repository"]) in repository_ids
    }
    tags = _tags_of(by_digest) if by_digest else {}
    counts: Counter[tuple[int, str, date]] = Counter()
    for pull in images:
        repository_id = repository_ids.get((pull["accountId"], pull["repository"]))
        if repository_id is not None:
            tag = pull["tag"] or tags.get((repository_id, pull["digest"]), "")
            counts[(repository_id, tag, date.fromisoformat(pull["day"]))] += pull["count"]
    if not counts:
        return 0
    table = connection.ops.quote_name(PullCount._meta.db_table)
    values = ", ".join(["(%s, %s, %s, %s)"] * len(counts))
    # The upsert locks its rows in the order given: sorted, so that two deliveries
    # (audit writers of hosts sharing the database) never wait on each other in a cycle.
    params = [
        value
        for (repository_id, tag, day), count in sorted(counts.items())
        for value in (repository_id, tag, day, count)
    ]
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
