"""Whether an installed package is affected by an advisory, by OSV's rules.

``affects(affected, version)`` follows the schema's "Evaluation" pseudo-code: a
version is affected if it is listed in ``versions`` (string equality) or lies in any
range. In a range the events are sorted by version ("0" introduced before every
version, a "*" limit after every version) and walked in order: ``introduced`` at or
below the version makes it vulnerable, ``fixed`` at or below makes it not, a
``last_affected`` strictly below makes it not. A range with ``limit`` events only
counts for versions below one of its limits. GIT ranges are ignored (they need the
commit graph). Withdrawn advisories never match (``matches``).

Lookup keys: advisories are indexed by ``lookup_key(ecosystem, name)`` of their
affected entries; a package finds them under ``ecosystems_for(package, os)``:

- dpkg on Debian → ``Debian:<major VERSION_ID>`` (codename when there is no
  VERSION_ID), by source package (the binary's name when it has no source);
- dpkg on Ubuntu → ``Ubuntu:<VERSION_ID>:LTS`` for LTS releases (as osv.dev writes
  them) then ``Ubuntu:<VERSION_ID>``; Ubuntu Pro (``Ubuntu:Pro:…``) is not looked up;
- apk → ``Alpine:v<major.minor>`` by origin then name; an edge image (its
  PRETTY_NAME says "edge" or its VERSION_ID is a ``_alpha`` snapshot) also looks up
  ``Alpine:edge``, where the secdb converter puts edge data;
- rpm → ``Rocky Linux:<major>``, ``AlmaLinux:<major>``, ``Mageia:<major>`` by source
  RPM; other RPM distributions have no key (Red Hat's needs a product CPE);
- PyPI → the PEP 503 normalised name; npm → the name; Go → the module path
  ("stdlib" for the standard library); Maven → "groupId:artifactId".

A dpkg package is compared by its source version when given (advisories name source
packages and their versions); Go versions lose their "v" (and the toolchain's "go").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cmp_to_key

from packageurl import PackageURL
from packaging.utils import canonicalize_name
from univers.versions import Version

from apps.scanning.inventory.packages import ALPINE, DEBIAN, GO, MAVEN, NPM, PYPI, RPM, OperatingSystem, Package

from . import versions
from .osv import Advisory, Affected, Range
from .versions import UnorderableVersion

# Debian codenames → the release number OSV's Debian ecosystem uses.
DEBIAN_RELEASES: dict[str, str] = {
    "woody": "3.0",
    "sarge": "3.1",
    "etch": "4",
    "lenny": "5",
    "squeeze": "6",
    "wheezy": "7",
    "jessie": "8",
    "stretch": "9",
    "buster": "10",
    "bullseye": "11",
    "bookworm": "12",
    "trixie": "13",
    "forky": "14",
    "sid": "sid",
}

_RPM_DISTROS = {"rocky": "Rocky Linux", "almalinux": "AlmaLinux", "mageia": "Mageia"}

_GO_TOOLCHAIN = re.compile(r"^go(\d+)\.(\d+)(?:\.(\d+))?(?:(beta|rc)(\d+))?$")


@dataclass(frozen=True)
class Verdict:
    """An affected version: ``fixed_version`` is the lowest ``fixed`` event above the
    installed version ("" when there is none); ``via`` says what matched
    ("versions" or "ranges")."""

    affected: bool
    fixed_version: str = ""
    via: str = "ranges"


# --- ordering events ---------------------------------------------------------


@dataclass(frozen=True)
class _Point:
    """An event's position: the parsed version, or −∞ ("0" introduced) / +∞ ("*" limit)."""

    version: Version | None
    infinity: int = 0  # -1 below everything, +1 above everything


def _point(scheme: str, kind: str, value: str) -> _Point:
    if kind == "introduced" and value == "0":
        return _Point(None, -1)
    if kind == "limit" and "*" in value:
        return _Point(None, 1)
    return _Point(versions.parse(scheme, value))


def _cmp(a: _Point, b: _Point) -> int:
    if a.infinity or b.infinity:
        return (a.infinity > b.infinity) - (a.infinity < b.infinity)
    return versions.compare(a.version, b.version)


def _before_limits(v: _Point, events: list[tuple[str, _Point]]) -> bool:
    limits = [p for kind, p in events if kind == "limit"]
    return not limits or any(_cmp(v, limit) < 0 for limit in limits)


def _in_range(v: _Point, events: list[tuple[str, _Point]]) -> bool:
    if not _before_limits(v, events):
        return False
    vulnerable = False
    for kind, point in sorted(events, key=cmp_to_key(lambda a, b: _cmp(a[1], b[1]))):
        if kind == "introduced" and _cmp(v, point) >= 0:
            vulnerable = True
        elif kind == "fixed" and _cmp(v, point) >= 0:
            vulnerable = False
        elif kind == "last_affected" and _cmp(v, point) > 0:
            vulnerable = False
    return vulnerable


def _ordered_ranges(affected: Affected) -> list[tuple[str, Range]]:
    """The ranges matching can order, each with its scheme (GIT ones left out)."""
    return [(versions.scheme_for(affected.ecosystem, r.type), r) for r in affected.ranges if r.type != "GIT"]


_Parsed = list[tuple[_Point, list[tuple[str, _Point]], Range]]


def _parse_ranges(affected: Affected, version: str) -> _Parsed:
    """Each orderable range as (installed version, events) in the range's scheme."""
    parsed = []
    for scheme, rng in _ordered_ranges(affected):
        installed = _Point(versions.parse(scheme, version))
        parsed.append((installed, [(kind, _point(scheme, kind, value)) for kind, value in rng.events], rng))
    return parsed


def _lowest_fix_above(parsed: _Parsed) -> str:
    """The lowest ``fixed`` event above the installed version, within one scheme."""
    best: tuple[_Point, str] | None = None
    scheme_of_first = type(parsed[0][0].version) if parsed else None
    for installed, events, rng in parsed:
        if type(installed.version) is not scheme_of_first:
            continue
        for (kind, point), (_, value) in zip(events, rng.events):
            if kind == "fixed" and _cmp(point, installed) > 0 and (best is None or _cmp(point, best[0]) < 0):
                best = (point, value)
    return best[1] if best else ""


def affects(affected: Affected, version: str) -> Verdict | None:
    """A Verdict if ``version`` of ``affected``'s package is affected, else None.

    Raises UnorderableVersion (only) when the installed version or an event's version
    cannot be ordered in the ecosystem, or the ecosystem has no known order; a version
    listed in ``versions`` is affected all the same (with no fixed version then)."""
    if version in affected.versions:
        try:
            return Verdict(True, _lowest_fix_above(_parse_ranges(affected, version)), "versions")
        except UnorderableVersion:
            return Verdict(True, "", "versions")
    parsed = _parse_ranges(affected, version)
    if not any(_in_range(installed, events) for installed, events, _ in parsed):
        return None
    return Verdict(True, _lowest_fix_above(parsed), "ranges")


def matches(advisory: Advisory, ecosystem: str, name: str, version: str) -> Verdict | None:
    """``affects`` over the advisory's entries for the lookup key (ecosystem, name);
    None for a withdrawn advisory or when no entry is affected. The fixed version is
    the first affected entry's that has one. Raises UnorderableVersion."""
    if advisory.withdrawn:
        return None
    key = lookup_key(ecosystem, name)
    verdicts = [affects(a, version) for a in advisory.affected if lookup_key(a.ecosystem, a.name) == key]
    hits = [v for v in verdicts if v]
    if not hits:
        return None
    fixes = [v.fixed_version for v in hits if v.fixed_version]
    return Verdict(True, fixes[0] if fixes else "", hits[0].via)


# --- lookup keys ----------------------------------------------------------------


def lookup_key(ecosystem: str, name: str) -> tuple[str, str]:
    """The (ecosystem, name) key an advisory's affected entry is indexed under."""
    ecosystem = ecosystem.strip()
    name = name.strip()
    if versions.base_ecosystem(ecosystem) == "PyPI":
        return ecosystem, canonicalize_name(name)
    return ecosystem, name


def _major(version_id: str) -> str:
    return version_id.split(".", 1)[0]


def _debian_ecosystem(os: OperatingSystem) -> list[str]:
    if os.id == "debian":
        if os.version_id:
            return [f"Debian:{_major(os.version_id)}"]
        release = DEBIAN_RELEASES.get(os.version_codename)
        return [f"Debian:{release}"] if release else []
    if os.id == "ubuntu" and os.version_id:
        year, _, month = os.version_id.partition(".")
        lts = month == "04" and year.isdigit() and int(year) % 2 == 0
        plain = f"Ubuntu:{os.version_id}"
        return [f"{plain}:LTS", plain] if lts else [plain]
    return []


def _alpine_ecosystems(os: OperatingSystem) -> list[str]:
    if os.id != "alpine" or not os.version_id:
        return []
    major_minor = ".".join(os.version_id.split(".")[:2])
    keys = [f"Alpine:v{major_minor}"]
    if "edge" in os.pretty_name.lower() or "_alpha" in os.version_id:
        keys.append("Alpine:edge")
    return keys


def _rpm_ecosystems(os: OperatingSystem) -> list[str]:
    distro = _RPM_DISTROS.get(os.id)
    return [f"{distro}:{_major(os.version_id)}"] if distro and os.version_id else []


def _maven_name(package: Package) -> str:
    if ":" in package.name or not package.purl:
        return package.name
    try:
        purl = PackageURL.from_string(package.purl)
    except ValueError:
        return package.name
    return f"{purl.namespace}:{purl.name}" if purl.namespace else package.name


def _go_name(package: Package) -> str:
    if package.name in ("stdlib", "go", "std") or package.purl.startswith("pkg:golang/stdlib"):
        return "stdlib"
    return package.name


def _names(*names: str) -> list[str]:
    return list(dict.fromkeys(n for n in names if n))


def ecosystems_for(package: Package, os: OperatingSystem | None) -> list[tuple[str, str]]:
    """The (OSV ecosystem, name) keys to look ``package``'s advisories up under."""
    kind = package.ecosystem
    if kind == PYPI:
        return [lookup_key("PyPI", package.name)]
    if kind == NPM:
        return [("npm", package.name)]
    if kind == GO:
        return [("Go", _go_name(package))]
    if kind == MAVEN:
        return [("Maven", _maven_name(package))]
    if os is None:
        return []
    if kind == DEBIAN:
        ecosystems, names = _debian_ecosystem(os), _names(package.source_name or package.name)
    elif kind == ALPINE:
        ecosystems, names = _alpine_ecosystems(os), _names(package.source_name, package.name)
    elif kind == RPM:
        ecosystems, names = _rpm_ecosystems(os), _names(package.source_name or package.name)
    else:
        return []
    return [(e, n) for e in ecosystems for n in names]


def go_version(text: str) -> str:
    """A Go module or toolchain version as OSV writes it: "v1.2.3" → "1.2.3",
    "go1.21.5" → "1.21.5", "go1.22rc1" → "1.22.0-rc.1"."""
    toolchain = _GO_TOOLCHAIN.match(text)
    if toolchain:
        major, minor, patch, pre, number = toolchain.groups()
        plain = f"{major}.{minor}.{patch or 0}"
        return f"{plain}-{pre}.{number}" if pre else plain
    return text[1:] if text.startswith("v") else text


def installed_version(package: Package) -> str:
    """The version to compare against advisories: a distribution package's source
    version when the inventory has one, a Go version without its "v"."""
    if package.ecosystem in (DEBIAN, ALPINE, RPM) and package.source_version:
        return package.source_version
    if package.ecosystem == GO:
        return go_version(package.version)
    return package.version
