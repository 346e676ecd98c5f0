"""Version order per ecosystem, through ``univers`` (no hand-written comparisons).

An OSV range is ordered by its ``type``: ``SEMVER`` ranges by SemVer 2.0 whatever the
ecosystem, ``ECOSYSTEM`` ranges by the ecosystem's own rules (dpkg for Debian and
Ubuntu, apk for Alpine, PEP 440 for PyPI, rpmvercmp for the RPM distributions,
Maven's ComparableVersion for Maven, SemVer for npm and Go). ``GIT`` ranges have no
order here (they need the repository's commit graph); the matcher ignores them.

``parse(scheme, text)`` raises :class:`UnorderableVersion` when the library cannot
read the string (or when the ecosystem has no known order); so does ``compare`` when
two parsed versions cannot be compared. Callers report that, never crash on it.
"""

from __future__ import annotations

from functools import lru_cache

from univers.versions import (
    AlpineLinuxVersion,
    DebianVersion,
    GolangVersion,
    MavenVersion,
    PypiVersion,
    RpmVersion,
    SemverVersion,
    Version,
)

# Scheme names (what order a version string follows).
DPKG = "dpkg"
APK = "apk"
PEP440 = "pep440"
SEMVER = "semver"
GO = "go"
RPM = "rpm"
MAVEN = "maven"

_CLASSES: dict[str, type[Version]] = {
    DPKG: DebianVersion,
    APK: AlpineLinuxVersion,
    PEP440: PypiVersion,
    SEMVER: SemverVersion,
    GO: GolangVersion,
    RPM: RpmVersion,
    MAVEN: MavenVersion,
}

# OSV ecosystem (the part before the first ":") → the order of its ECOSYSTEM ranges.
_ECOSYSTEM_SCHEMES: dict[str, str] = {
    "Debian": DPKG,
    "Ubuntu": DPKG,
    "Alpine": APK,
    "PyPI": PEP440,
    "npm": SEMVER,
    "Go": GO,
    "Maven": MAVEN,
    "RPM": RPM,
    "Red Hat": RPM,
    "Rocky Linux": RPM,
    "AlmaLinux": RPM,
    "openSUSE": RPM,
    "SUSE": RPM,
    "Photon OS": RPM,
    "Mageia": RPM,
    "openEuler": RPM,
}


class UnorderableVersion(ValueError):
    """A version string that cannot be placed in its ecosystem's order.

    ``version`` is the offending string, ``scheme`` the order tried ("" when the
    ecosystem has none known)."""

    def __init__(self, version: str, scheme: str, reason: str = "") -> None:
        self.version = version
        self.scheme = scheme
        self.reason = reason or f"{version!r} is not a valid {scheme or 'orderable'} version"
        super().__init__(self.reason)


def base_ecosystem(ecosystem: str) -> str:
    """ "Debian:12" → "Debian"; "Alpine:v3.19" → "Alpine"; "PyPI" → "PyPI"."""
    return ecosystem.split(":", 1)[0]


def scheme_for(ecosystem: str, range_type: str = "ECOSYSTEM") -> str:
    """The scheme ordering versions of ``range_type`` in ``ecosystem``.

    Raises UnorderableVersion for GIT ranges and for ecosystems with no known order."""
    if range_type == "SEMVER":
        return SEMVER
    if range_type != "ECOSYSTEM":
        raise UnorderableVersion("", "", f"{range_type} ranges have no version order")
    scheme = _ECOSYSTEM_SCHEMES.get(base_ecosystem(ecosystem))
    if scheme is None:
        raise UnorderableVersion("", "", f"no version order known for ecosystem {ecosystem!r}")
    return scheme


def _strip_v(text: str) -> str:
    """SemVer and Go versions in OSV have no leading "v" (Go module tags do)."""
    return text[1:] if text[:1] == "v" and text[1:2].isdigit() else text


@lru_cache(maxsize=65536)
def parse(scheme: str, text: str) -> Version:
    """``text`` as a univers Version of ``scheme``; raises UnorderableVersion."""
    cls = _CLASSES.get(scheme)
    if cls is None:
        raise UnorderableVersion(text, scheme, f"unknown version scheme {scheme!r}")
    if not isinstance(text, str) or not text.strip() or text != text.strip():
        raise UnorderableVersion(str(text), scheme)
    if scheme in (SEMVER, GO):
        text = _strip_v(text)
    try:
        return cls(text)
    except Exception as exc:  # univers raises InvalidVersion, ValueError, TypeError …
        raise UnorderableVersion(text, scheme) from exc


def compare(a: Version, b: Version) -> int:
    """-1, 0 or 1; raises UnorderableVersion if the library cannot compare them."""
    try:
        if a < b:
            return -1
        if a > b:
            return 1
        return 0
    except Exception as exc:
        raise UnorderableVersion(str(b), type(a).__name__, f"cannot compare {a} and {b}") from exc
