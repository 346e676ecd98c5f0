"""Version order per ecosystem, all through univers."""

from __future__ import annotations

import pytest

from apps.scanning.advisories import versions
from apps.scanning.advisories.versions import UnorderableVersion


def order(scheme: str, a: str, b: str) -> int:
    return versions.compare(versions.parse(scheme, a), versions.parse(scheme, b))


@pytest.mark.parametrize(
    "scheme, lower, higher",
    [
        ("dpkg", "1.2.14", "1:1.2.13.dfsg-1"),  # the epoch wins
        ("dpkg", "3.0.11-1~deb12u1", "3.0.11-1"),  # tilde sorts before anything
        ("dpkg", "7.88.1-10+deb12u4", "7.88.1-10+deb12u10"),
        ("apk", "1.2.12-r2", "1.2.12-r10"),  # -r revisions compare as numbers
        ("apk", "1.1.1d-r1", "1.1.1d-r3"),
        ("apk", "1.2.13_rc1-r0", "1.2.13-r0"),
        ("pep440", "5.2b1", "5.2"),  # pre-releases before the release
        ("pep440", "1.26.17", "1.26.18.post1"),
        ("semver", "1.16.0-0", "1.16.0"),
        ("go", "v0.0.0-20190125091013-d26f9f9a57f3", "0.0.0-20200101000000-abcdefabcdef"),
        ("rpm", "1.0-1.el8", "1:0.9-1.el8"),
        ("maven", "1.0-SNAPSHOT", "1.0"),
    ],
)
def test_order(scheme, lower, higher):
    assert order(scheme, lower, higher) == -1
    assert order(scheme, higher, lower) == 1


def test_go_and_semver_leading_v_is_dropped():
    assert order("go", "v1.2.3", "1.2.3") == 0
    assert order("semver", "v2.0.0", "2.0.0") == 0


@pytest.mark.parametrize(
    "ecosystem, range_type, scheme",
    [
        ("Debian:12", "ECOSYSTEM", "dpkg"),
        ("Ubuntu:22.04:LTS", "ECOSYSTEM", "dpkg"),
        ("Alpine:v3.19", "ECOSYSTEM", "apk"),
        ("PyPI", "ECOSYSTEM", "pep440"),
        ("npm", "ECOSYSTEM", "semver"),
        ("Go", "SEMVER", "semver"),
        ("Maven", "ECOSYSTEM", "maven"),
        ("Rocky Linux:9", "ECOSYSTEM", "rpm"),
        ("crates.io", "SEMVER", "semver"),
    ],
)
def test_scheme_for(ecosystem, range_type, scheme):
    assert versions.scheme_for(ecosystem, range_type) == scheme


@pytest.mark.parametrize("ecosystem, range_type", [("PyPI", "GIT"), ("Hackage", "ECOSYSTEM")])
def test_no_order_known(ecosystem, range_type):
    with pytest.raises(UnorderableVersion):
        versions.scheme_for(ecosystem, range_type)


@pytest.mark.parametrize(
    "scheme, text", [("dpkg", "abc"), ("apk", "latest"), ("pep440", "not.a.version!"), ("semver", ""), ("go", " 1.0")]
)
def test_unparsable(scheme, text):
    with pytest.raises(UnorderableVersion) as raised:
        versions.parse(scheme, text)
    assert raised.value.scheme == scheme
