"""Readers of advisory data, each yielding ``(source_name, osv_record_dict)``.

``read(path)`` handles, by ``detect_format(path)``:

- ``directory``: every file below it (sorted, recursively) of a format below; other
  files (READMEs, changelogs, indexes …) are skipped;
- ``zip``: an archive of OSV JSON files (osv.dev's ``all.zip``), one member at a time;
- ``osv-jsonl``: one OSV record per line, streamed line by line;
- ``osv-json``: one OSV record, or a JSON list of them;
- ``osv-yaml``: an OSV record in YAML (as pypa/advisory-database stores them);
- ``alpine-secdb-json`` / ``alpine-secdb-yaml``: Alpine secdb, converted;
- ``debian-tracker-list``: the Debian security tracker's ``data/DSA/list`` or
  ``data/DLA/list`` text, converted.

Converters (pure functions of the decoded input):

``alpine_secdb_to_osv(doc)``: one record per (package, vulnerability id) with id
``x_ALPINE-<distroversion>-<package>-<id>`` (the ``x_`` prefix the schema asks of
unregistered prefixes, as the Debian changelog file's ``x_DEBCL-…`` ids), aliases the
ids of the secfix line (a line may name several, e.g. "CVE-… XSA-…"; notes in
parentheses go to database_specific), ecosystem ``Alpine:<distroversion>``
("Alpine:v3.11"; edge data goes under "Alpine:edge", which no stable release looks
up), ECOSYSTEM range introduced "0" fixed <secfix version>. A secfix version "0"
means never affected (Alpine's convention) and gives no record; so does a line with
no usable id ("CVE-????-?????"). Secdb has no dates: ``modified`` is the epoch.

``debian_tracker_to_osv(lines)``: one record per DSA/DLA entry, id as written
("DSA-5380-1"; DSA/DLA are registered OSV prefixes), aliases the CVEs of its
``{…}`` line, published/modified the entry's date, one affected entry per release
line ``[bullseye] - <source> <fixed version>`` with ecosystem ``Debian:<number>``
("Debian:11"; woody 3.0 … forky 14) and ECOSYSTEM range introduced "0" fixed
<version>; ``<not-affected>`` lines give no entry, ``<unfixed>`` and
``<end-of-life>`` an entry with no fix; an urgency in the line's notes ("(low)",
"(bug #1; medium)") becomes the entry's severity.

Invalid input: with ``errors=None`` the readers raise :class:`InvalidSource`; given a
list they append ``(source_name, reason)`` to it and go on.
"""

from __future__ import annotations

import io
import json
import os
import re
import zipfile
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from .matching import DEBIAN_RELEASES

Item = tuple[str, dict[str, Any]]
Errors = list[tuple[str, str]] | None

DIRECTORY = "directory"
ZIP = "zip"
OSV_JSONL = "osv-jsonl"
OSV_JSON = "osv-json"
OSV_YAML = "osv-yaml"
ALPINE_JSON = "alpine-secdb-json"
ALPINE_YAML = "alpine-secdb-yaml"
DEBIAN_LIST = "debian-tracker-list"
UNKNOWN = "unknown"

EPOCH = "1970-01-01T00:00:00Z"

_TRACKER_HEADER = re.compile(r"^\[(\d{1,2} \w{3} \d{4})\] (D[SL]A-\d+(?:-\d+)?) ?(.*)$")
_TRACKER_RELEASE = re.compile(r"^\s+\[(\w+)\] - (\S+)(?: (\S+))?(?:\s+\((.*)\))?\s*$")
_TRACKER_CVES = re.compile(r"^\s+\{(.*)\}\s*$")
_URGENCIES = ("unimportant", "low", "medium", "high")
_SECFIX_ID = re.compile(r"^[A-Za-z][A-Za-z0-9]*[-_][A-Za-z0-9][A-Za-z0-9._-]*$")


class InvalidSource(ValueError):
    """Input that is not of the format it claims (or of none known)."""


class _StringLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """A safe loader with implicit typing off: every scalar stays a string, so a
    secfix key "1.10" is not the float 1.1 and dates stay as written (as osv.dev does)."""


_StringLoader.yaml_implicit_resolvers = {}


def load_yaml(stream: Any) -> Any:
    """YAML through PyYAML's safe loader, scalars kept as strings."""
    return yaml.load(stream, Loader=_StringLoader)


# --- recognising formats --------------------------------------------------------


def _is_osv(doc: Any) -> bool:
    return isinstance(doc, dict) and isinstance(doc.get("id"), str) and "modified" in doc


def _is_secdb(doc: Any) -> bool:
    return isinstance(doc, dict) and "distroversion" in doc and "packages" in doc


def _classify(doc: Any, osv: str, secdb: str) -> str:
    if _is_secdb(doc):
        return secdb
    if _is_osv(doc) or (isinstance(doc, list) and doc and all(_is_osv(d) for d in doc)):
        return osv
    return UNKNOWN


def _first_line(path: Path) -> str:
    with path.open("rb") as fh:
        for raw in fh:
            if raw.strip():
                return raw.decode("utf-8", "replace")
    return ""


def _load_document(path: Path) -> Any:
    """A .json or .yaml file decoded (raises ValueError / yaml.YAMLError)."""
    if path.suffix.lower() == ".json":
        return json.loads(path.read_bytes())
    with path.open("rb") as fh:
        return load_yaml(fh)


def _document_format(path: Path, doc: Any) -> str:
    if path.suffix.lower() == ".json":
        return _classify(doc, OSV_JSON, ALPINE_JSON)
    return _classify(doc, OSV_YAML, ALPINE_YAML)


def _is_document(path: Path) -> bool:
    return path.suffix.lower() in (".json", ".yaml", ".yml")


def detect_format(path: str | os.PathLike[str]) -> str:
    """One of the format names above, or "unknown"."""
    path = Path(path)
    if path.is_dir():
        return DIRECTORY
    suffix = path.suffix.lower()
    if suffix == ".zip" and zipfile.is_zipfile(path):
        return ZIP
    if suffix == ".jsonl":
        try:
            return OSV_JSONL if _is_osv(json.loads(_first_line(path))) else UNKNOWN
        except ValueError:
            return UNKNOWN
    if _is_document(path):
        try:
            return _document_format(path, _load_document(path))
        except (ValueError, yaml.YAMLError):
            return UNKNOWN
    if not suffix and _TRACKER_HEADER.match(_first_line(path)):
        return DEBIAN_LIST
    return UNKNOWN


# --- readers --------------------------------------------------------------------


def _fail(errors: Errors, source: str, reason: str) -> None:
    if errors is None:
        raise InvalidSource(f"{source}: {reason}")
    errors.append((source, reason))


def _osv_items(doc: Any, source: str, errors: Errors) -> Iterator[Item]:
    docs = doc if isinstance(doc, list) else [doc]
    for i, record in enumerate(docs):
        name = f"{source}[{i}]" if isinstance(doc, list) else source
        if isinstance(record, dict):
            yield name, record
        else:
            _fail(errors, name, "not a JSON object")


def read_jsonl(path: Path, errors: Errors = None) -> Iterator[Item]:
    """OSV records, one a line; the file is streamed."""
    with path.open("rb") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            source = f"{path}:{number}"
            try:
                record = json.loads(line)
            except ValueError as exc:
                _fail(errors, source, f"not JSON ({exc})")
                continue
            yield from _osv_items(record, source, errors)


def read_zip(path: Path, errors: Errors = None) -> Iterator[Item]:
    """OSV JSON members of a zip archive, decoded one at a time."""
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if info.is_dir() or not info.filename.lower().endswith(".json"):
                continue
            source = f"{path}!{info.filename}"
            try:
                with archive.open(info) as member:
                    doc = json.load(io.TextIOWrapper(member, encoding="utf-8"))
            except ValueError as exc:
                _fail(errors, source, f"not JSON ({exc})")
                continue
            yield from _osv_items(doc, source, errors)


def read_directory(path: Path, errors: Errors = None) -> Iterator[Item]:
    """Every readable file below ``path``, in sorted order; other files are skipped."""
    for root, dirs, files in os.walk(path):
        dirs.sort()
        for name in sorted(files):
            yield from _read_file(Path(root, name), errors, skip_unknown=True)


def _read_document(path: Path, errors: Errors, skip_unknown: bool) -> Iterator[Item]:
    """A JSON or YAML file, decoded once: OSV record(s) or Alpine secdb."""
    try:
        doc = _load_document(path)
    except (ValueError, yaml.YAMLError) as exc:
        if not skip_unknown:
            _fail(errors, str(path), f"not decodable ({exc})")
        return
    kind = _document_format(path, doc)
    if kind in (OSV_JSON, OSV_YAML):
        yield from _osv_items(doc, str(path), errors)
    elif kind in (ALPINE_JSON, ALPINE_YAML):
        for record in alpine_secdb_to_osv(doc, errors, source=str(path)):
            yield f"{path}#{record['id']}", record
    elif not skip_unknown:
        _fail(errors, str(path), "neither OSV nor Alpine secdb")


def _read_file(path: Path, errors: Errors, skip_unknown: bool) -> Iterator[Item]:
    if _is_document(path):
        yield from _read_document(path, errors, skip_unknown)
        return
    kind = detect_format(path)
    if kind == ZIP:
        yield from read_zip(path, errors)
    elif kind == OSV_JSONL:
        yield from read_jsonl(path, errors)
    elif kind == DEBIAN_LIST:
        with path.open(encoding="utf-8", errors="replace") as fh:
            for record in debian_tracker_to_osv(fh, errors, source=str(path)):
                yield f"{path}#{record['id']}", record
    elif not skip_unknown:
        _fail(errors, str(path), "unknown format")


def read(path: str | os.PathLike[str], errors: Errors = None) -> Iterator[Item]:
    """``(source_name, OSV record dict)`` from ``path`` of any format above."""
    path = Path(path)
    if path.is_dir():
        yield from read_directory(path, errors)
    else:
        yield from _read_file(path, errors, skip_unknown=False)


# --- Alpine secdb ---------------------------------------------------------------


def alpine_ecosystem(distroversion: str) -> str:
    """Secdb's "v3.11" → "Alpine:v3.11"; "edge" → "Alpine:edge"."""
    release = distroversion.strip()
    if release != "edge" and not release.startswith("v"):
        release = f"v{release}"
    return f"Alpine:{release}"


def _secfix_ids(line: str) -> tuple[list[str], str]:
    """ "CVE-2019-1 XSA-2 (note)" → (["CVE-2019-1", "XSA-2"], "note")."""
    note = ""
    if "(" in line:
        line, _, rest = line.partition("(")
        note = rest.rstrip(") ").strip()
    line = re.sub(r"\bCVE[ _](\d{4}-)", r"CVE-\1", line)  # "CVE 2018-1", "CVE_2018-1"
    ids = [token.removesuffix(".patch") for token in line.split() if _SECFIX_ID.match(token)]
    return ids, note


def _secdb_record(ecosystem: str, package: str, vuln_id: str, fixes: list[tuple[str, list[str], str]]) -> dict:
    aliases = sorted({alias for _, ids, _ in fixes for alias in ids})
    notes = sorted({note for _, _, note in fixes if note})
    release = ecosystem.split(":", 1)[1]
    events: list[dict[str, str]] = [{"introduced": "0"}] + [{"fixed": fixed} for fixed, _, _ in fixes]
    database_specific: dict[str, Any] = {"source": "Alpine secdb", "secfixes": [fixed for fixed, _, _ in fixes]}
    if notes:
        database_specific["notes"] = notes
    return {
        "id": f"x_ALPINE-{release}-{package}-{vuln_id}",
        "modified": EPOCH,
        "aliases": aliases,
        "summary": f"{vuln_id} fixed in Alpine {release} {package}",
        "affected": [
            {
                "package": {"ecosystem": ecosystem, "name": package, "purl": f"pkg:apk/alpine/{package}"},
                "ranges": [{"type": "ECOSYSTEM", "events": events}],
            }
        ],
        "references": [{"type": "ADVISORY", "url": f"https://security.alpinelinux.org/vuln/{vuln_id}"}],
        "database_specific": database_specific,
    }


def _secdb_packages(doc: dict[str, Any], errors: Errors, source: str) -> Iterator[tuple[str, dict]]:
    for i, entry in enumerate(doc.get("packages") or []):
        pkg = entry.get("pkg") if isinstance(entry, dict) else None
        if not isinstance(pkg, dict) or not isinstance(pkg.get("name"), str):
            _fail(errors, f"{source}:packages[{i}]", "no pkg.name")
            continue
        secfixes = pkg.get("secfixes") or {}
        if not isinstance(secfixes, dict):
            _fail(errors, f"{source}:{pkg['name']}", "secfixes is not a mapping")
            continue
        yield pkg["name"], secfixes


def alpine_secdb_to_osv(doc: dict[str, Any], errors: Errors = None, source: str = "secdb") -> Iterator[dict]:
    """OSV records from one decoded secdb document (JSON or YAML)."""
    if not _is_secdb(doc):
        _fail(errors, source, "not an Alpine secdb document")
        return
    ecosystem = alpine_ecosystem(str(doc["distroversion"]))
    for package, secfixes in _secdb_packages(doc, errors, source):
        by_id: dict[str, list[tuple[str, list[str], str]]] = {}
        for fixed, lines in secfixes.items():
            fixed = str(fixed).strip()
            if fixed == "0":  # Alpine: listed ids never affected this package
                continue
            for line in lines or []:
                ids, note = _secfix_ids(str(line))
                if not ids:
                    _fail(errors, f"{source}:{package}:{fixed}", f"no vulnerability id in {line!r}")
                    continue
                by_id.setdefault(ids[0], []).append((fixed, ids, note))
        for vuln_id, fixes in by_id.items():
            yield _secdb_record(ecosystem, package, vuln_id, fixes)


# --- Debian security tracker DSA/DLA lists ---------------------------------------


def debian_ecosystem(release: str) -> str:
    """ "bullseye" → "Debian:11"; an unknown codename is kept ("Debian:<codename>")."""
    return f"Debian:{DEBIAN_RELEASES.get(release, release)}"


def _tracker_date(text: str) -> str:
    return datetime.strptime(text, "%d %b %Y").strftime("%Y-%m-%dT00:00:00Z")


def _tracker_affected(match: re.Match[str]) -> dict[str, Any] | None:
    release, source, version, notes = match.groups()
    if version in (None, "<not-affected>"):
        return None
    events: list[dict[str, str]] = [{"introduced": "0"}]
    database_specific: dict[str, Any] = {"release": release}
    if version.startswith("<"):
        database_specific["status"] = version.strip("<>")
    else:
        events.append({"fixed": version})
    words = re.split(r"[;,\s]+", notes or "")
    urgency = next((w for w in words if w in _URGENCIES), "")
    if urgency:
        database_specific["urgency"] = urgency
    if notes:
        database_specific["notes"] = notes
    return {
        "package": {"ecosystem": debian_ecosystem(release), "name": source, "purl": f"pkg:deb/debian/{source}"},
        "ranges": [{"type": "ECOSYSTEM", "events": events}],
        "database_specific": database_specific,
    }


def _tracker_record(header: re.Match[str], body: list[str]) -> dict[str, Any]:
    date, advisory_id, title = header.groups()
    aliases: list[str] = []
    affected: list[dict[str, Any]] = []
    notes: list[str] = []
    for line in body:
        if cves := _TRACKER_CVES.match(line):
            aliases.extend(cves.group(1).split())
        elif release := _TRACKER_RELEASE.match(line):
            if entry := _tracker_affected(release):
                affected.append(entry)
        elif line.strip().startswith("NOTE:"):
            notes.append(line.strip()[5:].strip())
    when = _tracker_date(date)
    record: dict[str, Any] = {
        "id": advisory_id,
        "modified": when,
        "published": when,
        "aliases": aliases,
        "summary": title.strip(),
        "affected": affected,
        "references": [{"type": "ADVISORY", "url": f"https://security-tracker.debian.org/tracker/{advisory_id}"}],
        "database_specific": {"source": "Debian security tracker"},
    }
    if notes:
        record["details"] = "\n".join(notes)
    return record


def debian_tracker_to_osv(lines: Iterable[str], errors: Errors = None, source: str = "list") -> Iterator[dict]:
    """OSV records from the lines of a tracker ``DSA/list`` or ``DLA/list``, streamed."""
    header: re.Match[str] | None = None
    body: list[str] = []
    for number, line in enumerate(lines, 1):
        line = line.rstrip("\n")
        if match := _TRACKER_HEADER.match(line):
            if header:
                yield _tracker_record(header, body)
            header, body = match, []
        elif header and line.strip():
            body.append(line)
        elif line.strip():
            _fail(errors, f"{source}:{number}", "line before the first entry")
    if header:
        yield _tracker_record(header, body)
