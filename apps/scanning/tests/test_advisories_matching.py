"""OSV evaluation (versions lists, ranges, last_affected, limit, withdrawn) and lookup keys."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.scanning.advisories import osv
from apps.scanning.advisories.matching import (
    Verdict,
    affects,
    ecosystems_for,
    go_version,
    installed_version,
    lookup_key,
    matches,
)
from apps.scanning.advisories.osv import Affected, Range
from apps.scanning.advisories.versions import UnorderableVersion
from apps.scanning.inventory.packages import ALPINE, DEBIAN, GO, MAVEN, NPM, PYPI, RPM, OperatingSystem, Package

DATA = Path(__file__).parent / "data"


def load(name: str) -> dict[str, osv.Advisory]:
    return {a.id: a for a in (osv.parse(json.loads(line)) for line in (DATA / name).read_text().splitlines())}


PYPA = load("pypa-advisories.osv.jsonl")
GOVULN = load("golang-vulndb.osv.jsonl")
NPMWG = load("nodejs-security-wg-npm.osv.jsonl")
DEBCL = load("debian-bookworm-changelog-cves.osv-like.jsonl")


def fixed_in(advisory: osv.Advisory, version: str) -> str | None:
    verdict = affects(advisory.affected[0], version)
    return None if verdict is None else verdict.fixed_version


# --- real records --------------------------------------------------------------


@pytest.mark.parametrize(
    "advisory_id, version, expected",
    [
        # urllib3, two introduced/fixed pairs listed out of order, plus a GIT range
        ("PYSEC-2023-212", "1.26.17", "1.26.18"),
        ("PYSEC-2023-212", "1.26.18", None),
        ("PYSEC-2023-212", "2.0.6", "2.0.7"),
        ("PYSEC-2023-212", "2.0.7", None),
        ("PYSEC-2023-212", "2.1.0", None),
        # requests: introduced 0, fixed 2.20.0
        ("PYSEC-2018-28", "2.19.1", "2.20.0"),
        ("PYSEC-2018-28", "2.20.0", None),
        ("PYSEC-2018-28", "2.31.0", None),
        # Jinja2 3.0.0 <= v < 3.1.5
        ("PYSEC-2026-1472", "2.11.3", None),
        ("PYSEC-2026-1472", "3.0.0", "3.1.5"),
        ("PYSEC-2026-1472", "3.1.4", "3.1.5"),
        # PyYAML 5.1 <= v < 5.2b1: a pre-release fixes it, and is above 5.1
        ("PYSEC-2020-176", "5.1.2", "5.2b1"),
        ("PYSEC-2020-176", "5.2b1", None),
        ("PYSEC-2020-176", "5.2", None),
        ("PYSEC-2020-176", "5.1rc1", None),
        # last_affected 0.0.4 (agentscope): at it affected, above not
        ("PYSEC-2025-80", "0.0.4", ""),
        ("PYSEC-2025-80", "0.0.5", None),
    ],
)
def test_pypa(advisory_id, version, expected):
    assert fixed_in(PYPA[advisory_id], version) == expected


def test_explicit_versions_list_matches_by_string():
    urllib3 = PYPA["PYSEC-2018-32"].affected[0]
    assert affects(urllib3, "1.22") == Verdict(True, "1.23", "versions")
    assert affects(urllib3, "1.23") is None
    # a string the ecosystem cannot order still matches when listed
    listed_only = Affected("PyPI", "x", versions=("not a version!",), ranges=urllib3.ranges)
    assert affects(listed_only, "not a version!") == Verdict(True, "", "versions")


def test_withdrawn_never_matches():
    jinja = PYPA["PYSEC-2025-74"]
    assert jinja.withdrawn
    assert matches(jinja, "PyPI", "Jinja2", "2.0") is None
    django = PYPA["PYSEC-2020-345"]
    assert affects(django.affected[0], "2.2.10") is not None  # the entry itself would match
    assert matches(django, "PyPI", "Django", "2.2.10") is None


def test_matches_by_normalised_name():
    assert matches(PYPA["PYSEC-2018-28"], "PyPI", "Requests", "2.19.0") == Verdict(True, "2.20.0", "versions")
    assert matches(PYPA["PYSEC-2018-28"], "PyPI", "requests", "2.19.9") == Verdict(True, "2.20.0", "ranges")
    assert matches(PYPA["PYSEC-2018-28"], "PyPI", "urllib3", "2.19.0") is None


@pytest.mark.parametrize(
    "advisory_id, version, expected",
    [
        ("GO-2021-0067", "1.15.8", None),
        ("GO-2021-0067", "1.16.0", "1.16.1"),  # introduced 1.16.0-0: the pre-releases too
        ("GO-2021-0067", "1.16.0-rc.1", "1.16.1"),
        ("GO-2021-0067", "1.16.1", None),
        ("GO-2020-0014", "0.0.0-20190124000000-abcdefabcdef", "0.0.0-20190125091013-d26f9f9a57f3"),
        ("GO-2020-0014", "0.0.0-20190125091013-d26f9f9a57f3", None),
    ],
)
def test_go(advisory_id, version, expected):
    assert fixed_in(GOVULN[advisory_id], version) == expected


def test_go_versions_lose_their_prefix():
    assert go_version("v0.0.0-20190124000000-abcdefabcdef") == "0.0.0-20190124000000-abcdefabcdef"
    assert go_version("go1.16") == "1.16.0"
    assert go_version("go1.22rc1") == "1.22.0-rc.1"
    stdlib = Package(GO, "stdlib", "go1.16", "pkg:golang/stdlib@go1.16", "/bin/app", "sha256:0")
    assert fixed_in(GOVULN["GO-2021-0067"], installed_version(stdlib)) == "1.16.1"


@pytest.mark.parametrize(
    "advisory_id, version, expected",
    [
        ("x_NSWG-ECO-1", "1.5.1", ""),  # last_affected: affected, no fix known
        ("x_NSWG-ECO-1", "1.5.2", None),
        ("x_NSWG-ECO-28", "0.6.6", "1.0.0"),
        ("x_NSWG-ECO-28", "1.0.0", None),
    ],
)
def test_npm(advisory_id, version, expected):
    assert fixed_in(NPMWG[advisory_id], version) == expected


@pytest.mark.parametrize(
    "advisory_id, version, expected",
    [
        ("x_DEBCL-openssl-CVE-2023-5363", "3.0.11-1~deb12u1", "3.0.11-1~deb12u2"),
        ("x_DEBCL-openssl-CVE-2023-5363", "3.0.11-1~deb12u2", None),
        ("x_DEBCL-openssl-CVE-2023-5363", "3.0.11-1", None),  # ~ sorts below: 3.0.11-1 is above the fix
        ("x_DEBCL-zlib-CVE-2022-37434", "1:1.2.11.dfsg-2", "1:1.2.11.dfsg-4.1"),
        ("x_DEBCL-zlib-CVE-2022-37434", "1:1.2.13.dfsg-1", None),
        ("x_DEBCL-zlib-CVE-2022-37434", "1.2.14-1", "1:1.2.11.dfsg-4.1"),  # no epoch: below any 1:…
        ("x_DEBCL-curl-CVE-2023-38545", "7.88.1-10+deb12u3", "7.88.1-10+deb12u4"),
        ("x_DEBCL-curl-CVE-2023-38545", "7.88.1-10+deb12u12", None),
    ],
)
def test_debian(advisory_id, version, expected):
    assert fixed_in(DEBCL[advisory_id], version) == expected


# --- the rules, on hand-made entries ----------------------------------------------


def entry(*events: tuple[str, str], ecosystem: str = "PyPI", kind: str = "ECOSYSTEM", versions=()) -> Affected:
    return Affected(ecosystem, "x", ranges=(Range(kind, tuple(events)),), versions=tuple(versions))


def test_introduced_zero_means_from_the_beginning():
    only = entry(("introduced", "0"))
    assert affects(only, "0.0.1") == Verdict(True, "", "ranges")
    assert affects(only, "99") == Verdict(True, "", "ranges")


def test_limit():
    limited = entry(("introduced", "1.0"), ("limit", "2.0"))
    assert affects(limited, "1.5") is not None
    assert affects(limited, "2.0") is None
    assert affects(limited, "0.9") is None
    assert affects(entry(("introduced", "1.0"), ("limit", "*")), "5.0") is not None


def test_last_affected_inclusive():
    ranged = entry(("introduced", "1.0"), ("last_affected", "1.4"))
    assert affects(ranged, "1.4") is not None
    assert affects(ranged, "1.4.1") is None


def test_lowest_fix_above_installed_across_ranges():
    two = Affected(
        "PyPI",
        "x",
        ranges=(
            Range("ECOSYSTEM", (("introduced", "0"), ("fixed", "1.5"))),
            Range("ECOSYSTEM", (("introduced", "1.0"), ("fixed", "2.0"))),
        ),
    )
    assert affects(two, "1.2").fixed_version == "1.5"
    assert affects(two, "1.7").fixed_version == "2.0"


def test_git_ranges_are_ignored():
    git = entry(("introduced", "0"), ("fixed", "a" * 40), kind="GIT")
    assert affects(git, "1.0") is None
    assert affects(entry(("introduced", "0"), kind="GIT", versions=["1.0"]), "1.0") == Verdict(True, "", "versions")


def test_alpine_revisions():
    apk = entry(("introduced", "0"), ("fixed", "1.2.12-r2"), ecosystem="Alpine:v3.16")
    assert affects(apk, "1.2.12-r1").fixed_version == "1.2.12-r2"
    assert affects(apk, "1.2.12-r10") is None


def test_unorderable_installed_version_raises():
    with pytest.raises(UnorderableVersion):
        affects(entry(("introduced", "0"), ("fixed", "1.0")), "not a version!")
    with pytest.raises(UnorderableVersion):
        affects(entry(("introduced", "0"), ecosystem="Hackage"), "1.0")


EVENTS = st.lists(
    st.tuples(st.sampled_from(["introduced", "fixed", "last_affected", "limit"]), st.text(max_size=12)), max_size=5
)


@settings(max_examples=50, deadline=None)
@given(
    version=st.text(max_size=20),
    events=EVENTS,
    ecosystem=st.sampled_from(["PyPI", "Debian:12", "Alpine:v3.19", "npm", "Go", "Maven", "Rocky Linux:9", "Hackage"]),
    kind=st.sampled_from(["ECOSYSTEM", "SEMVER", "GIT"]),
    listed=st.lists(st.text(max_size=8), max_size=3),
)
def test_affects_raises_only_unorderable(version, events, ecosystem, kind, listed):
    events = [("introduced", "0"), *[(k, v) for k, v in events if v]]
    affected = Affected(ecosystem, "x", ranges=(Range(kind, tuple(events)),), versions=tuple(listed))
    try:
        verdict = affects(affected, version)
    except UnorderableVersion:
        return
    assert verdict is None or verdict.affected


# --- lookup keys ---------------------------------------------------------------


def pkg(ecosystem, name, version="1.0", source_name="", source_version="", purl=""):
    return Package(ecosystem, name, version, purl, "/var/lib/x", "sha256:0", source_name, source_version)


DEBIAN12 = OperatingSystem("debian", "12", "bookworm")
ALPINE319 = OperatingSystem("alpine", "3.19.1", pretty_name="Alpine Linux v3.19")


def test_debian_keys_by_source():
    libssl = pkg(DEBIAN, "libssl3", "3.0.11-1~deb12u1", "openssl", "3.0.11-1~deb12u2")
    assert ecosystems_for(libssl, DEBIAN12) == [("Debian:12", "openssl")]
    assert installed_version(libssl) == "3.0.11-1~deb12u2"
    zlib = pkg(DEBIAN, "zlib1g", "1:1.2.13.dfsg-1", "zlib")
    assert installed_version(zlib) == "1:1.2.13.dfsg-1"
    assert ecosystems_for(pkg(DEBIAN, "bash"), DEBIAN12) == [("Debian:12", "bash")]
    assert ecosystems_for(pkg(DEBIAN, "bash"), OperatingSystem("debian", "", "trixie")) == [("Debian:13", "bash")]
    assert ecosystems_for(pkg(DEBIAN, "bash"), None) == []
    # a binary found under its source's key matches the source's advisory
    assert matches(DEBCL["x_DEBCL-openssl-CVE-2023-5363"], *ecosystems_for(libssl, DEBIAN12)[0], "3.0.11-1~deb12u1")


def test_ubuntu_keys():
    assert ecosystems_for(pkg(DEBIAN, "bash"), OperatingSystem("ubuntu", "22.04")) == [
        ("Ubuntu:22.04:LTS", "bash"),
        ("Ubuntu:22.04", "bash"),
    ]
    assert ecosystems_for(pkg(DEBIAN, "bash"), OperatingSystem("ubuntu", "23.10")) == [("Ubuntu:23.10", "bash")]


def test_alpine_keys():
    libcrypto = pkg(ALPINE, "libcrypto3", "3.1.4-r5", "openssl")
    assert ecosystems_for(libcrypto, ALPINE319) == [("Alpine:v3.19", "openssl"), ("Alpine:v3.19", "libcrypto3")]
    edge = OperatingSystem("alpine", "3.21.0_alpha20240807", pretty_name="Alpine Linux edge")
    assert ecosystems_for(pkg(ALPINE, "musl"), edge) == [("Alpine:v3.21", "musl"), ("Alpine:edge", "musl")]


def test_language_keys():
    assert ecosystems_for(pkg(PYPI, "Jinja2"), None) == [("PyPI", "jinja2")]
    assert ecosystems_for(pkg(PYPI, "ruamel.yaml"), None) == [("PyPI", "ruamel-yaml")]
    assert ecosystems_for(pkg(NPM, "@babel/core"), None) == [("npm", "@babel/core")]
    assert ecosystems_for(pkg(GO, "golang.org/x/net", "v0.1.0"), None) == [("Go", "golang.org/x/net")]
    assert ecosystems_for(pkg(GO, "stdlib", "go1.21.5"), None) == [("Go", "stdlib")]
    log4j = pkg(MAVEN, "log4j-core", purl="pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1")
    assert ecosystems_for(log4j, None) == [("Maven", "org.apache.logging.log4j:log4j-core")]
    assert ecosystems_for(pkg(RPM, "openssl-libs", source_name="openssl"), OperatingSystem("rocky", "9.3")) == [
        ("Rocky Linux:9", "openssl")
    ]
    assert ecosystems_for(pkg(RPM, "openssl-libs"), OperatingSystem("rhel", "9.3")) == []


def test_lookup_key_normalises_like_ecosystems_for():
    assert lookup_key("PyPI", "PyYAML") == ("PyPI", "pyyaml") == ecosystems_for(pkg(PYPI, "pyyaml"), None)[0]
    assert lookup_key("Debian:12", " openssl") == ("Debian:12", "openssl")
    assert lookup_key("Go", "stdlib") == ("Go", "stdlib")
