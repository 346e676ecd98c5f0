"""The advisory database as the scanner reads it: lookup keys of packages, the
findings of a set of packages, and which stored scans an advisory change touches.
The rules of matching themselves are apps.scanning.advisories (pure Python)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Max, Q

from .advisories import matching, osv
from .advisories.versions import UnorderableVersion
from .inventory.packages import OperatingSystem, Package
from .models import AdvisorySource, AffectedPackage, ImageScan, InventoryPackage

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


def _affected_rows(keys: list[tuple[str, str]], only_advisories: set[str] | None) -> Iterator[AffectedPackage]:
    for start in range(0, len(keys), LOOKUP_BATCH):
        batch = keys[start : start + LOOKUP_BATCH]
        by_ecosystem: dict[str, list[str]] = defaultdict(list)
        for ecosystem, name in batch:
            by_ecosystem[ecosystem].append(name)
        condition = Q()
        for ecosystem, names in by_ecosystem.items():
            condition |= Q(ecosystem=ecosystem, name__in=names)
        rows = AffectedPackage.objects.filter(condition, advisory__withdrawn=False).select_related("advisory")
        if only_advisories is not None:
            rows = rows.filter(advisory_id__in=only_advisories)
        yield from rows.iterator(chunk_size=2000)


def findings_for(
    packages: list[InventoryPackage], *, only_advisories: set[str] | None = None
) -> dict[tuple[str, int], Verdict]:
    """(advisory id, package id) → severity and fixed version, for every package an
    advisory affects. A version the ecosystem's order cannot read matches nothing."""
    by_key = _keys(packages)
    found: dict[tuple[str, int], Verdict] = {}
    for row in _affected_rows(list(by_key), only_advisories):
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


def scans_touched_by(advisory_ids: set[str]) -> Iterator[ImageScan]:
    """Scans of stored inventories holding a package one of ``advisory_ids`` names."""
    keys = set(AffectedPackage.objects.filter(advisory_id__in=advisory_ids).values_list("ecosystem", "name").distinct())
    inventory_ids: set[int] = set()
    key_list = sorted(keys)
    for start in range(0, len(key_list), LOOKUP_BATCH):
        batch = key_list[start : start + LOOKUP_BATCH]
        by_ecosystem: dict[str, list[str]] = defaultdict(list)
        for ecosystem, name in batch:
            by_ecosystem[ecosystem].append(name)
        condition = Q()
        for ecosystem, names in by_ecosystem.items():
            condition |= Q(key_ecosystem=ecosystem) & (Q(key_name__in=names) | Q(alt_key_name__in=names))
        inventory_ids.update(
            InventoryPackage.objects.filter(condition).values_list("inventory_id", flat=True).distinct()
        )
    ids = sorted(inventory_ids)
    for start in range(0, len(ids), LOOKUP_BATCH):
        yield from ImageScan.objects.filter(inventory_id__in=ids[start : start + LOOKUP_BATCH]).select_related(
            "manifest__repository"
        )
