"""Loading the advisory database: `berth vulndb import PATH…` and `status`.

An import reads OSV records (and the formats apps.scanning.advisories.sources
converts) from each path, a batch at a time, and writes only what changed: a
record whose canonical JSON hashes as before is left alone. Each source keeps its
import time and counts. The ids of the advisories that were added, changed or
withdrawn are published as ``advisories.changed`` (in chunks), which re-matches the
inventories of continuously scanned repositories: no layer is read again."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from apps.events import outbox
from apps.events.names import ADVISORIES_CHANGED

from .advisories import matching, osv, sources
from .models import Advisory, AdvisorySource, AffectedPackage

logger = logging.getLogger(__name__)

BATCH = 500
EVENT_CHUNK = 1000
TEXT_KEPT = 20_000  # characters of an advisory's details kept


@dataclass
class SourceResult:
    name: str
    records: int = 0
    added: int = 0
    changed: int = 0
    unchanged: int = 0
    invalid: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass
class ImportResult:
    sources: dict[str, SourceResult] = field(default_factory=dict)
    changed_ids: list[str] = field(default_factory=list)

    @property
    def totals(self) -> SourceResult:
        total = SourceResult(name="all")
        for result in self.sources.values():
            for name in ("records", "added", "changed", "unchanged", "invalid"):
                setattr(total, name, getattr(total, name) + getattr(result, name))
        return total


def record_hash(record: dict) -> str:
    return hashlib.sha256(json.dumps(record, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


# Where a reader says a record came from ("file.jsonl:12", "all.zip!GHSA-….json",
# "main.yaml#x_ALPINE-…", "list[3]"): the source is the file.
_WITHIN_FILE = re.compile(r"(![^!]*|#.*|:\d+|\[\d+\])$")


def source_of(location: str) -> str:
    while (shorter := _WITHIN_FILE.sub("", location)) != location:
        location = shorter
    return location


def import_paths(paths: Iterable[str], *, progress: Callable[[int], None] | None = None) -> ImportResult:
    """Import every record of ``paths``; ``progress(n)`` is told of each batch. A
    record that is not JSON or not OSV is counted as invalid and skipped."""
    result = ImportResult()
    paths = list(paths)
    for path in paths:
        batch: list[tuple[str, dict]] = []
        errors: list[tuple[str, str]] = []
        for location, record in sources.read(path, errors):
            _note_unreadable(errors, result)
            batch.append((source_of(location), record))
            if len(batch) >= BATCH:
                _import_batch(batch, path, result)
                if progress:
                    progress(len(batch))
                batch = []
        _note_unreadable(errors, result)
        if batch:
            _import_batch(batch, path, result)
            if progress:
                progress(len(batch))
    _finish(result, paths)
    return result


def _note_unreadable(errors: list[tuple[str, str]], result: ImportResult) -> None:
    """Records a reader could not decode: invalid, with the reason."""
    for location, reason in errors:
        tally = result.sources.setdefault(source_of(location), SourceResult(name=source_of(location)))
        tally.records += 1
        tally.invalid += 1
        if len(tally.errors) < 20:
            tally.errors.append(f"{location}: {reason}")
    errors.clear()


def _source(name: str, location: str, cache: dict[str, AdvisorySource]) -> AdvisorySource:
    if name not in cache:
        cache[name], _ = AdvisorySource.objects.get_or_create(
            name=name, defaults={"location": location, "imported_at": timezone.now()}
        )
    return cache[name]


def _import_batch(batch: list[tuple[str, dict]], location: str, result: ImportResult) -> None:
    parsed: dict[str, tuple[str, dict, osv.Advisory, str]] = {}
    for source_name, record in batch:
        tally = result.sources.setdefault(source_name, SourceResult(name=source_name))
        tally.records += 1
        try:
            advisory = osv.parse(record)
        except osv.InvalidRecord as exc:
            tally.invalid += 1
            if len(tally.errors) < 20:
                tally.errors.append(f"{record.get('id', '?') if isinstance(record, dict) else '?'}: {exc}")
            continue
        parsed[advisory.id] = (source_name, record, advisory, record_hash(record))
    known = dict(Advisory.objects.filter(pk__in=list(parsed)).values_list("pk", "record_hash"))
    with transaction.atomic():
        cache: dict[str, AdvisorySource] = {}
        for advisory_id, (source_name, record, advisory, digest) in parsed.items():
            tally = result.sources[source_name]
            if known.get(advisory_id) == digest:
                tally.unchanged += 1
                continue
            level = advisory.severity
            Advisory.objects.update_or_create(
                pk=advisory_id,
                defaults={
                    "source": _source(source_name, location, cache),
                    "modified": advisory.modified or "",
                    "withdrawn": bool(advisory.withdrawn),
                    "aliases": list(advisory.aliases),
                    "summary": (advisory.summary or "")[:TEXT_KEPT],
                    "details": (advisory.details or "")[:TEXT_KEPT],
                    "severity": level.level,
                    "score": level.score,
                    "vector": level.vector or "",
                    "references": [{"type": kind, "url": url} for kind, url in advisory.references],
                    "record_hash": digest,
                },
            )
            AffectedPackage.objects.filter(advisory_id=advisory_id).delete()
            rows = []
            for entry in record.get("affected") or []:
                package = entry.get("package") or {}
                if not package.get("ecosystem") or not package.get("name"):
                    continue
                ecosystem, name = matching.lookup_key(package["ecosystem"], package["name"])
                rows.append(AffectedPackage(advisory_id=advisory_id, ecosystem=ecosystem, name=name, entry=entry))
            AffectedPackage.objects.bulk_create(rows)
            if advisory_id in known:
                tally.changed += 1
            else:
                tally.added += 1
            result.changed_ids.append(advisory_id)


def _finish(result: ImportResult, paths: Iterable[str]) -> None:
    now = timezone.now()
    location = " ".join(str(p) for p in paths)
    with transaction.atomic():
        for name, tally in result.sources.items():
            AdvisorySource.objects.update_or_create(
                name=name,
                defaults={
                    "location": location,
                    "imported_at": now,
                    "records": tally.records,
                    "added": tally.added,
                    "changed": tally.changed,
                    "unchanged": tally.unchanged,
                    "invalid": tally.invalid,
                },
            )
        ids = result.changed_ids
        for start in range(0, len(ids), EVENT_CHUNK):
            outbox.publish(ADVISORIES_CHANGED, {"advisoryIds": ids[start : start + EVENT_CHUNK]})


def status() -> list[AdvisorySource]:
    return list(AdvisorySource.objects.order_by("name"))
