"""osv.parse: real records (PyPA, Go, npm, Debian changelog-derived) and what is not OSV."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from apps.scanning.advisories import osv
from apps.scanning.advisories.osv import InvalidRecord, Range

DATA = Path(__file__).parent / "data"


def records(name: str) -> dict[str, dict]:
    lines = (DATA / name).read_text().splitlines()
    return {r["id"]: r for r in map(json.loads, lines)}


def test_every_test_record_parses():
    for name in DATA.glob("*.osv*.jsonl"):
        for record in records(name.name).values():
            assert osv.parse(record).id == record["id"]


def test_pypa_record_with_git_and_ecosystem_ranges():
    advisory = osv.parse(records("pypa-advisories.osv.jsonl")["PYSEC-2023-212"])
    assert advisory.modified and advisory.published and advisory.withdrawn == ""
    assert "CVE-2023-45803" in advisory.aliases
    (affected,) = advisory.affected
    assert (affected.ecosystem, affected.name, affected.purl) == ("PyPI", "urllib3", "pkg:pypi/urllib3")
    assert [r.type for r in affected.ranges] == ["GIT", "ECOSYSTEM"]
    assert affected.ranges[1] == Range(
        "ECOSYSTEM", (("introduced", "2.0.0"), ("fixed", "2.0.7"), ("introduced", "0"), ("fixed", "1.26.18"))
    )
    assert "1.26.17" in affected.versions
    assert all(isinstance(ref, tuple) and len(ref) == 2 for ref in advisory.references)
    assert advisory.severity.level == "MEDIUM"


def test_withdrawn_and_database_specific_kept():
    assert osv.parse(records("pypa-advisories.osv.jsonl")["PYSEC-2025-74"]).withdrawn.startswith("2026-06-09")
    go = osv.parse(records("golang-vulndb.osv.jsonl")["GO-2021-0067"])
    assert go.database_specific["url"] == "https://pkg.go.dev/vuln/GO-2021-0067"
    assert go.affected[0].ecosystem == "Go" and go.affected[0].name == "stdlib"


def test_debian_changelog_record():
    record = records("debian-bookworm-changelog-cves.osv-like.jsonl")["x_DEBCL-zlib-CVE-2022-37434"]
    (affected,) = osv.parse(record).affected
    assert affected.ecosystem == "Debian:12" and affected.name == "zlib"
    assert affected.ranges[0].events == (("introduced", "0"), ("fixed", "1:1.2.11.dfsg-4.1"))


def test_affected_entry_severity_overrides():
    record = {
        "id": "x_TEST-1",
        "modified": "2024-01-01T00:00:00Z",
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": "a"},
                "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
            },
            {"package": {"ecosystem": "PyPI", "name": "b"}},
        ],
    }
    advisory = osv.parse(record)
    assert advisory.affected[0].severity.level == "CRITICAL"
    assert advisory.affected[1].severity is None
    assert advisory.severity.score == 9.8  # the highest of the entries when the record has none


VALID = {"id": "x_T-1", "modified": "2024-01-01T00:00:00Z"}


@pytest.mark.parametrize(
    "record, reason",
    [
        ([], "not a JSON object"),
        ({"modified": "2024"}, "no 'id'"),
        ({"id": "", "modified": "2024"}, "empty 'id'"),
        ({"id": "x_T-1"}, "no 'modified'"),
        ({**VALID, "aliases": "CVE-1"}, "'aliases' is not a list"),
        ({**VALID, "aliases": [1]}, "non-string"),
        ({**VALID, "affected": {}}, "'affected' is not a list"),
        ({**VALID, "affected": [{"package": {"name": "x"}}]}, "no 'ecosystem'"),
        (
            {**VALID, "affected": [{"package": {"ecosystem": "PyPI", "name": "x"}, "ranges": [{"type": "X"}]}]},
            "range type",
        ),
        (
            {
                **VALID,
                "affected": [
                    {
                        "package": {"ecosystem": "PyPI", "name": "x"},
                        "ranges": [{"type": "SEMVER", "events": [{"fixed": "1"}]}],
                    }
                ],
            },
            "no 'introduced'",
        ),
        (
            {
                **VALID,
                "affected": [
                    {
                        "package": {"ecosystem": "PyPI", "name": "x"},
                        "ranges": [{"type": "SEMVER", "events": [{"introduced": "0", "fixed": "1"}]}],
                    }
                ],
            },
            "exactly one kind",
        ),
        (
            {
                **VALID,
                "affected": [
                    {
                        "package": {"ecosystem": "PyPI", "name": "x"},
                        "ranges": [{"type": "SEMVER", "events": [{"introduced": 0}]}],
                    }
                ],
            },
            "not a non-empty string",
        ),
        ({**VALID, "database_specific": []}, "not an object"),
    ],
)
def test_invalid_records(record, reason):
    with pytest.raises(InvalidRecord) as raised:
        osv.parse(record)
    assert reason in raised.value.reason
