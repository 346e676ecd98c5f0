"""OSV records (https://ossf.github.io/osv-schema/) as frozen values.

``parse(record)`` checks the shape a matcher relies on and raises
:class:`InvalidRecord` with a reason when a dict is not an OSV record: no ``id`` or
``modified``, lists that are not lists, events with no or several kinds, a range with
no ``introduced``. Fields the scanner does not use (credits, ecosystem_specific …)
are dropped; ``database_specific`` is kept as given.

GIT ranges are parsed (so a record is judged whole) but matching ignores them: their
order needs the repository's commit graph.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from . import severity as sev
from .severity import Severity

RANGE_TYPES = ("ECOSYSTEM", "SEMVER", "GIT")
EVENT_KINDS = ("introduced", "fixed", "last_affected", "limit")


class InvalidRecord(ValueError):
    """A dict that is not an OSV record; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class Range:
    """``type`` one of RANGE_TYPES; ``events`` (kind, version) in the record's order."""

    type: str
    events: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Affected:
    """One ``affected`` entry; ``ecosystem`` is the full string ("Debian:12", "PyPI");
    ``severity`` is the entry's own when it has one, else None."""

    ecosystem: str
    name: str
    purl: str = ""
    ranges: tuple[Range, ...] = ()
    versions: tuple[str, ...] = ()
    severity: Severity | None = None


@dataclass(frozen=True)
class Advisory:
    """One OSV record. ``severity`` is the record's (or, when only affected entries
    carry one, the highest of theirs); ``withdrawn`` is "" unless withdrawn."""

    id: str
    modified: str
    published: str = ""
    withdrawn: str = ""
    aliases: tuple[str, ...] = ()
    related: tuple[str, ...] = ()
    summary: str = ""
    details: str = ""
    references: tuple[tuple[str, str], ...] = ()
    severity: Severity = sev.UNKNOWN
    affected: tuple[Affected, ...] = ()
    database_specific: Mapping[str, Any] = field(default_factory=dict)


def _string(record: Mapping[str, Any], key: str, where: str, required: bool = False) -> str:
    value = record.get(key)
    if value is None:
        if required:
            raise InvalidRecord(f"{where}: no {key!r}")
        return ""
    if not isinstance(value, str):
        raise InvalidRecord(f"{where}: {key!r} is not a string")
    if required and not value.strip():
        raise InvalidRecord(f"{where}: empty {key!r}")
    return value


def _list(record: Mapping[str, Any], key: str, where: str) -> list[Any]:
    value = record.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidRecord(f"{where}: {key!r} is not a list")
    return value


def _strings(record: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    values = _list(record, key, where)
    if not all(isinstance(v, str) for v in values):
        raise InvalidRecord(f"{where}: {key!r} holds a non-string")
    return tuple(values)


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidRecord(f"{where} is not an object")
    return value


def _event(event: Any, where: str) -> tuple[str, str]:
    if not isinstance(event, Mapping) or len(event) != 1:
        raise InvalidRecord(f"{where}: an event must have exactly one kind")
    ((kind, value),) = event.items()
    if kind not in EVENT_KINDS:
        raise InvalidRecord(f"{where}: unknown event kind {kind!r}")
    if not isinstance(value, str) or not value:
        raise InvalidRecord(f"{where}: {kind} is not a non-empty string")
    return kind, value


def _range(raw: Any, where: str) -> Range:
    raw = _mapping(raw, where)
    kind = raw.get("type")
    if kind not in RANGE_TYPES:
        raise InvalidRecord(f"{where}: unknown range type {kind!r}")
    events = tuple(_event(e, f"{where}.events[{i}]") for i, e in enumerate(_list(raw, "events", where)))
    if not any(k == "introduced" for k, _ in events):
        raise InvalidRecord(f"{where}: no 'introduced' event")
    return Range(kind, events)


def _affected(raw: Any, where: str) -> Affected:
    raw = _mapping(raw, where)
    package = _mapping(raw.get("package"), f"{where}.package")
    ranges = tuple(_range(r, f"{where}.ranges[{i}]") for i, r in enumerate(_list(raw, "ranges", where)))
    own = sev.from_vectors(raw.get("severity")) or sev.from_database(
        raw.get("database_specific"), raw.get("ecosystem_specific")
    )
    return Affected(
        ecosystem=_string(package, "ecosystem", f"{where}.package", required=bool(package)),
        name=_string(package, "name", f"{where}.package", required=bool(package)),
        purl=_string(package, "purl", f"{where}.package"),
        ranges=ranges,
        versions=_strings(raw, "versions", where),
        severity=own,
    )


def _references(record: Mapping[str, Any], where: str) -> tuple[tuple[str, str], ...]:
    refs = []
    for i, ref in enumerate(_list(record, "references", where)):
        ref = _mapping(ref, f"{where}.references[{i}]")
        refs.append((_string(ref, "type", where), _string(ref, "url", where)))
    return tuple(refs)


def parse(record: Any) -> Advisory:
    """An OSV record (a dict as JSON-decoded) → Advisory; raises InvalidRecord."""
    if not isinstance(record, Mapping):
        raise InvalidRecord("not a JSON object")
    where = "record"
    advisory_id = _string(record, "id", where, required=True)
    where = advisory_id
    affected = tuple(_affected(a, f"{where}.affected[{i}]") for i, a in enumerate(_list(record, "affected", where)))
    database_specific = _mapping(record.get("database_specific"), f"{where}.database_specific")
    severity = sev.from_osv(record.get("severity"), database_specific)
    if severity == sev.UNKNOWN:
        severity = sev.highest(a.severity for a in affected if a.severity)
    return Advisory(
        id=advisory_id,
        modified=_string(record, "modified", where, required=True),
        published=_string(record, "published", where),
        withdrawn=_string(record, "withdrawn", where),
        aliases=_strings(record, "aliases", where),
        related=_strings(record, "related", where),
        summary=_string(record, "summary", where),
        details=_string(record, "details", where),
        references=_references(record, where),
        severity=severity,
        affected=affected,
        database_specific=database_specific,
    )


def parse_affected(entry: Any) -> Affected:
    """One ``affected`` entry as stored apart from its record; raises InvalidRecord."""
    return _affected(entry, "affected")
