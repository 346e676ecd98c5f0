"""The advisory database as the scanner reads it: lookup keys of packages, the
findings of a set of packages, and which stored scans an advisory change touches.
The rules of matching themselves are apps.scanning.advisories (pure Python)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from django.db.models import Max, Q

from .advisories import matching, osv
from .advisories.versions import UnorderableVersion
from .inventory.packages import OperatingSystem, Package
from .models import AdvisorySource, AffectedPackage, InventoryPackage

LOOKUP_BATCH = 500


@dataclass(frozen=True)
class Verdict:
    severity: str
    fixed_version: str


def keys_for(package: Package, os: OperatingSystem | None) -> list[tuple[str, str]]:
    """The (ecosystem, name) keys ``package``'s advisories are stored under, at most two."""
    return matching.ecosystems_for(package, os)[:2]


def _keys(packages: Iterable[InventoryPackage]) -> dict[tuple[str, str], list[InventoryPackage]]:
    by_key: dict[tuple[str, str], list[InventoryPackage]] = defaultdict(list)
    for package in packages:
        if not package.key_ecosystem:
            continue
        by_key[(package.key_ecosystem, package.key_name)].append(package)
        if package.alt_key_name and package.alt_key_name != package.key_name:
            by_key[(package.key_ecosystem, package.alt_key_name)].append(package)
    return by_key


def _by_key(keys: Iterable[tuple[str, str]], match: Callable[[str, list[str]], Q]) -> Q:
    """One condition for (ecosystem, name) keys: ``match(ecosystem, names)`` per ecosystem, OR-ed."""
    by_ecosystem: dict[str, list[str]] = defaultdict(list)
    for ecosystem, name in keys:
        by_ecosystem[ecosystem].append(name)
    condition = Q()
    for ecosystem, names in by_ecosystem.items():
        condition |= match(ecosystem, names)
    return condition


def _affected_rows(keys: list[tuple[str, str]]) -> Iterator[AffectedPackage]:
    for start in range(0, len(keys), LOOKUP_BATCH):
        batch = keys[start : start + LOOKUP_BATCH]
        condition = _by_key(batch, lambda ecosystem, names: Q(ecosystem=ecosystem, name__in=names))
        rows = AffectedPackage.objects.filter(condition, advisory__withdrawn=False).select_related("advisory")
        yield from rows.iterator(chunk_size=2000)


def findings_for(
    packages: list[InventoryPackage],
) -> dict[tuple[str, int], Verdict]:
    """(advisory id, package id) → severity and fixed version, for every package an
    advisory affects. A version the ecosystem's order cannot read matches nothing."""
    by_key = _keys(packages)
    found: dict[tuple[str, int], Verdict] = {}
    for row in _affected_rows(list(by_key)):
        affected = osv.parse_affected(row.entry)
        for package in by_key[(row.ecosystem, row.name)]:
            key = (row.advisory_id, package.pk)
            if key in found:
                continue
            try:
                verdict = matching.affects(affected, matching.installed_version(package))
            except UnorderableVersion:
                continue
            if verdict is not None:
                level = affected.severity.level if affected.severity is not None else row.advisory.severity
                found[key] = Verdict(severity=level, fixed_version=verdict.fixed_version or "")
    return found


def database_updated_at() -> datetime | None:
    return AdvisorySource.objects.aggregate(latest=Max("imported_at"))["latest"]


@dataclass(frozen=True)
class _Installed:
    """What matching.installed_version reads of a package."""

    ecosystem: str
    version: str
    source_version: str


@lru_cache(maxsize=65536)
def _installed_version(ecosystem: str, version: str, source_version: str) -> str:
    return matching.installed_version(_Installed(ecosystem, version, source_version))


def _judge(affected: osv.Affected, severity: str, version: str) -> Verdict | None:
    try:
        verdict = matching.affects(affected, version)
    except UnorderableVersion:
        return None
    if verdict is None:
        return None
    level = affected.severity.level if affected.severity is not None else severity
    return Verdict(level, verdict.fixed_version or "")


def chunks(items: list, size: int = LOOKUP_BATCH) -> Iterator[list]:
    """``items`` a slice of ``size`` at a time (an IN list a database takes)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def rematch_findings(advisory_ids: set[str]) -> tuple[dict[int, dict[tuple[str, int], Verdict]], set[int]]:
    """For a re-match after ``advisory_ids`` changed: which stored inventories hold a
    package one of them names (withdrawn ones included, so that their findings go),
    and, per inventory, the (advisory id, package id) those advisories now affect.
    Each advisory's entries are read once and each package once, whatever the number
    of images: the work grows with the packages named, not with the scans."""
    by_key: dict[tuple[str, str], list[tuple[str, str, osv.Affected]]] = defaultdict(list)
    keys: set[tuple[str, str]] = set()
    for chunk in chunks(sorted(advisory_ids)):
        for row in AffectedPackage.objects.filter(advisory_id__in=chunk).select_related("advisory"):
            keys.add((row.ecosystem, row.name))
            if not row.advisory.withdrawn:
                by_key[(row.ecosystem, row.name)].append(
                    (row.advisory_id, row.advisory.severity, osv.parse_affected(row.entry))
                )
    verdicts: dict[int, dict[tuple[str, int], Verdict]] = defaultdict(dict)
    touched: set[int] = set()
    judged: dict[tuple[str, str, int, str], Verdict | None] = {}
    fields = (
        "id",
        "inventory_id",
        "ecosystem",
        "version",
        "source_version",
        "key_ecosystem",
        "key_name",
        "alt_key_name",
    )
    for chunk in chunks(sorted(keys)):
        condition = _by_key(
            chunk,
            lambda ecosystem, names: Q(key_ecosystem=ecosystem) & (Q(key_name__in=names) | Q(alt_key_name__in=names)),
        )
        rows = InventoryPackage.objects.filter(condition).values_list(*fields).iterator(chunk_size=5000)
        for pk, inventory_id, ecosystem, installed, source_version, key_ecosystem, key_name, alt_key_name in rows:
            touched.add(inventory_id)
            found = verdicts[inventory_id]
            version = _installed_version(ecosystem, installed, source_version)
            for name in {key_name, alt_key_name} - {""}:
                for entry, (advisory_id, severity, affected) in enumerate(by_key.get((key_ecosystem, name), ())):
                    key = (advisory_id, pk)
                    if key in found:
                        continue
                    # many images hold the same package at the same version: each is judged once
                    seen = (key_ecosystem, name, entry, version)
                    if seen not in judged:
                        judged[seen] = _judge(affected, severity, version)
                    if judged[seen] is not None:
                        found[key] = judged[seen]
    return verdicts, touched
