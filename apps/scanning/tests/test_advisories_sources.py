"""Readers (directory, zip, JSONL, JSON, YAML) and the Alpine secdb / Debian tracker converters."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest

from apps.scanning.advisories import matching, osv, sources
from apps.scanning.advisories.sources import InvalidSource

DATA = Path(__file__).parent / "data"


def read_all(path, errors=None) -> dict[str, dict]:
    return {record["id"]: record for _, record in sources.read(path, errors)}


@pytest.mark.parametrize(
    "name, kind",
    [
        ("pypa-advisories.osv.jsonl", "osv-jsonl"),
        ("alpine-edge-main.json", "alpine-secdb-json"),
        ("alpine-secdb-v3.11-main.yaml", "alpine-secdb-yaml"),
        ("debian-tracker-DSA-list", "debian-tracker-list"),
        ("debian-tracker-DLA-list", "debian-tracker-list"),
        ("README.md", "unknown"),
    ],
)
def test_detect_format(name, kind):
    assert sources.detect_format(DATA / name) == kind


def test_jsonl_streams_with_line_numbers():
    items = list(sources.read(DATA / "golang-vulndb.osv.jsonl"))
    assert [name.rsplit(":", 1)[1] for name, _ in items] == ["1", "2"]
    assert [r["id"] for _, r in items] == ["GO-2021-0067", "GO-2020-0014"]


def test_bad_lines_raise_or_are_collected(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text('{"id": "x_T-1", "modified": "2024"}\nnot json\n[1]\n')
    with pytest.raises(InvalidSource):
        list(sources.read(path))
    errors: list = []
    assert list(read_all(path, errors)) == ["x_T-1"]
    assert [name.rsplit(":", 1)[1] for name, _ in errors] == ["2", "3[0]"]


def test_zip_of_osv_json(tmp_path):
    archive = tmp_path / "all.zip"
    lines = (DATA / "pypa-advisories.osv.jsonl").read_text().splitlines()
    with zipfile.ZipFile(archive, "w") as zf:
        for line in lines[:3]:
            zf.writestr(f"{json.loads(line)['id']}.json", line)
        zf.writestr("README.txt", "not an advisory")
    assert sources.detect_format(archive) == "zip"
    items = list(sources.read(archive))
    assert len(items) == 3 and items[0][0].endswith("all.zip!PYSEC-2018-32.json")


def test_directory_mixes_formats_and_skips_others(tmp_path):
    shutil.copytree(DATA, tmp_path / "db")
    nested = tmp_path / "db" / "osv" / "PyPI"
    nested.mkdir(parents=True)
    (nested / "PYSEC-0.json").write_text(json.dumps([{"id": "PYSEC-0", "modified": "2024-01-01T00:00:00Z"}]))
    (nested / "PYSEC-1.yaml").write_text("id: PYSEC-1\nmodified: 2024-01-01T00:00:00Z\naffected: []\n")
    records = read_all(tmp_path / "db")
    assert {"PYSEC-0", "PYSEC-1", "GO-2021-0067", "x_NSWG-ECO-1", "DSA-5380-1", "DLA-3377-1"} <= set(records)
    assert records["PYSEC-1"]["modified"] == "2024-01-01T00:00:00Z"  # YAML dates stay strings
    assert "x_ALPINE-v3.11-musl-CVE-2019-14697" in records and "x_ALPINE-edge-zlib-CVE-2022-37434" in records
    for record in records.values():
        osv.parse(record)


def test_alpine_secdb_yaml():
    records = read_all(DATA / "alpine-secdb-v3.11-main.yaml")
    assert len(records) == 9  # musl 2, openssl 7
    record = records["x_ALPINE-v3.11-openssl-CVE-2019-1551"]
    assert record["aliases"] == ["CVE-2019-1551"]
    (affected,) = osv.parse(record).affected
    assert (affected.ecosystem, affected.name) == ("Alpine:v3.11", "openssl")
    assert affected.ranges[0].events == (("introduced", "0"), ("fixed", "1.1.1d-r3"))
    assert matching.affects(affected, "1.1.1d-r2").fixed_version == "1.1.1d-r3"
    assert matching.affects(affected, "1.1.1g-r0") is None


def test_alpine_secdb_zero_means_never_affected():
    records = read_all(DATA / "alpine-edge-main.json")
    assert sorted(records) == ["x_ALPINE-edge-zlib-CVE-2018-25032", "x_ALPINE-edge-zlib-CVE-2022-37434"]
    assert not any("CVE-2023-45853" in r["aliases"] for r in records.values())  # listed under "0"
    assert records["x_ALPINE-edge-zlib-CVE-2022-37434"]["affected"][0]["package"]["ecosystem"] == "Alpine:edge"


def test_alpine_secfix_lines_with_several_ids_and_notes():
    doc = {
        "distroversion": "v3.10",
        "packages": [
            {
                "pkg": {
                    "name": "xen",
                    "secfixes": {
                        "4.12.1-r0": ["CVE-2019-17340 XSA-284", "CVE-????-????? XSA-287"],
                        "1.10": ["CVE_2019-1 (SMB - partially fixed)"],
                    },
                }
            }
        ],
    }
    records = {r["id"]: r for r in sources.alpine_secdb_to_osv(doc)}
    assert sorted(records) == [
        "x_ALPINE-v3.10-xen-CVE-2019-1",
        "x_ALPINE-v3.10-xen-CVE-2019-17340",
        "x_ALPINE-v3.10-xen-XSA-287",
    ]
    assert records["x_ALPINE-v3.10-xen-CVE-2019-17340"]["aliases"] == ["CVE-2019-17340", "XSA-284"]
    assert records["x_ALPINE-v3.10-xen-CVE-2019-1"]["database_specific"]["notes"] == ["SMB - partially fixed"]


def test_yaml_version_keys_stay_strings(tmp_path):
    path = tmp_path / "main.yaml"
    path.write_text(
        "distroversion: v3.9\npackages:\n  - pkg:\n      name: x\n      secfixes:\n        1.10:\n          - CVE-2019-2\n"
    )
    (record,) = read_all(path).values()
    assert record["affected"][0]["ranges"][0]["events"][1] == {"fixed": "1.10"}


def test_debian_tracker_dsa():
    records = read_all(DATA / "debian-tracker-DSA-list")
    assert list(records)[:3] == ["DSA-5380-1", "DSA-5356-2", "DSA-5368-1"]
    xorg = osv.parse(records["DSA-5380-1"])
    assert xorg.aliases == ("CVE-2023-1393",) and xorg.published == "2023-03-29T00:00:00Z"
    (affected,) = xorg.affected
    assert (affected.ecosystem, affected.name) == ("Debian:11", "xorg-server")
    assert matching.affects(affected, "2:1.20.11-1+deb11u5").fixed_version == "2:1.20.11-1+deb11u6"
    assert matching.affects(affected, "1.21.0-1") is not None  # no epoch sorts below 2:…
    assert records["DSA-5356-2"]["aliases"] == []  # a regression update names no CVE
    assert records["DSA-4205-1"]["affected"] == []
    assert records["DSA-4205-1"]["details"] == "end of security support for jessie"


def test_debian_tracker_releases_not_affected_and_urgency():
    records = read_all(DATA / "debian-tracker-DSA-list")
    awstats = osv.parse(records["DSA-892-1"])
    (sarge,) = awstats.affected  # [woody] <not-affected> gives no entry
    assert sarge.ecosystem == "Debian:3.1" and sarge.severity.level == "MEDIUM"
    libungif = osv.parse(records["DSA-890-1"])
    assert [a.ecosystem for a in libungif.affected] == ["Debian:3.0", "Debian:3.1"]
    assert libungif.aliases == ("CVE-2005-2974", "CVE-2005-3350")


def test_debian_tracker_unfixed_and_dla():
    lines = ["[01 Jan 2020] DSA-9999-1 foo - security update", "\t{CVE-2020-1}", "\t[buster] - foo <unfixed>"]
    (record,) = sources.debian_tracker_to_osv(lines)
    assert record["affected"][0]["ranges"][0]["events"] == [{"introduced": "0"}]
    assert record["affected"][0]["database_specific"]["status"] == "unfixed"
    (dla,) = read_all(DATA / "debian-tracker-DLA-list").values()
    assert dla["affected"][0]["package"]["ecosystem"] == "Debian:10"
