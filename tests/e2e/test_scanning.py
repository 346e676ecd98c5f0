"""Vulnerability scanning against a live server: images built here (a Debian root file
system with old packages, old Python libraries, a Go binary; an Alpine apk database;
a hostile layer) pushed with skopeo, scanned by the server's own Celery worker
against real advisories imported with `berth vulndb import`, read back through the
API, the `berth` client and the gallery."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
import requests

from apps.scanning.tests.layers import DEBIAN_OS_RELEASE, DPKG_STATUS, build_go_binary, dist_info

from . import images as I
from .conftest import BERTH_BIN, CMD_TIMEOUT, need
from .test_access_control import Api
from .test_clients import copy

pytestmark = pytest.mark.e2e

DATA = Path(__file__).resolve().parents[2] / "apps" / "scanning" / "tests" / "data"
SITE = "usr/lib/python3/dist-packages"
SCAN_DEADLINE = 60  # seconds a scan may take here before the test gives up (the budget is 5 s: see bench/)

ALPINE_OS_RELEASE = b'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.11.6\nPRETTY_NAME="Alpine Linux v3.11"\n'
OLD_APK = b"P:musl\nV:1.1.23-r1\nA:x86_64\nL:MIT\no:musl\n\nP:zlib\nV:1.2.11-r3\nA:x86_64\nL:Zlib\no:zlib\n\n"


def wait_for_scan(api: Api, repository: str, tag: str) -> tuple[dict, float]:
    started = time.monotonic()
    while True:
        answer = api.call(
            "GET", f"repositories/{repository}/-/images/scan-findings", expect=(200, 404),
            params={"imageTag": tag, "max_results": 1000},
        )  # fmt: skip
        if answer and answer.get("imageScanStatus", {}).get("status") not in (None, "IN_PROGRESS", "PENDING"):
            return answer, time.monotonic() - started
        assert time.monotonic() - started < SCAN_DEADLINE, f"no scan result for {repository}:{tag}: {answer}"
        time.sleep(0.2)


def ids(answer: dict) -> set[str]:
    return {finding["name"] for finding in answer["imageScanFindings"]["findings"]}


@pytest.fixture(scope="module")
def scanner(berth):
    """An account whose repositories under scan/ are scanned on push, with the
    advisories of the test data imported into the server's database."""
    imported = berth.cli(
        "vulndb", "import", "--no-progress",
        str(DATA / "scan-fixtures.osv.jsonl"), str(DATA / "alpine-secdb-v3.11-main.yaml"),
    )  # fmt: skip
    assert "advisories added or changed" in imported.stdout, imported.stdout
    status = berth.cli("vulndb", "status").stdout
    assert "scan-fixtures.osv.jsonl" in status and "alpine-secdb-v3.11-main.yaml" in status
    account = berth.create_account("scanner")
    api = Api.for_root(berth, account)
    api.call(
        "PUT", "registry/scanning-configuration",
        json={"scanType": "BASIC", "rules": [{"scanFrequency": "SCAN_ON_PUSH", "repositoryFilters": [{"filter": "scan/*"}]}]},
    )  # fmt: skip
    return account, api


def test_a_pushed_image_is_scanned_on_push_with_real_advisories(berth, scanner, work):
    account, api = scanner
    binary, go_version = build_go_binary(work, need("go"))
    layers = [
        {
            "usr/lib/os-release": DEBIAN_OS_RELEASE,
            "var/lib/dpkg/status": DPKG_STATUS,
            f"{SITE}/urllib3-1.26.4.dist-info/METADATA": dist_info("urllib3", "1.26.4"),
            f"{SITE}/requests-2.25.1.dist-info/METADATA": dist_info("requests", "2.25.1"),
            f"{SITE}/Jinja2-2.11.2.dist-info/METADATA": dist_info("Jinja2", "2.11.2"),
            f"{SITE}/PyYAML-5.3.dist-info/METADATA": dist_info("PyYAML", "5.3"),
        },
        {"usr/local/bin/hello": binary, f"{SITE}/.wh.PyYAML-5.3.dist-info": b""},
    ]
    image = I.build_image_from_layers(work / "debian", "v1", layers)
    creds = f"{account.username}:{account.password}"
    copy(work, f"oci:{image.path}:v1", f"docker://{berth.host}/{account.account_id}/scan/app:v1", dest_creds=creds)
    answer, took = wait_for_scan(api, "scan/app", "v1")
    assert answer["imageScanStatus"]["status"] == "COMPLETE", answer["imageScanStatus"]
    found = ids(answer)
    assert {"PYSEC-2021-108", "PYSEC-2021-66", "PYSEC-2023-74", "x_DEBCL-openssl-CVE-2024-0727"} <= found, found
    assert not found & {"PYSEC-2020-96", "PYSEC-2021-142"}, "PyYAML was deleted by a whiteout"
    stdlib = [
        f
        for f in answer["imageScanFindings"]["findings"]
        if {"key": "package_name", "value": "stdlib"} in f["attributes"]
    ]
    if go_version.startswith("go1.19.") and int(go_version.split(".")[2]) < 10:
        assert "GO-2023-1840" in {f["name"] for f in stdlib}, (go_version, found)
    assert all({"key": "layer_digest", "value": image.layer_digests[1]} in f["attributes"] for f in stdlib), (
        "the Go binary came with the second layer"
    )
    counts = answer["imageScanFindings"]["findingSeverityCounts"]
    assert sum(counts.values()) == len(answer["imageScanFindings"]["findings"])
    print(f"scan on push of a 2-layer image: COMPLETE {took:.1f} s after the push; {counts}")

    described = api.call("GET", "repositories/scan/app/-/images/describe")["imageDetails"][0]
    assert described["imageScanFindingsSummary"]["findingSeverityCounts"] == counts

    # the client: a table, JSON, and --fail-on for CI pipelines
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("BERTH_")},
        "HOME": str(work),
        "BERTH_ENDPOINT": berth.url,
        "BERTH_ACCESS_KEY_ID": api.session.auth[0],
        "BERTH_SECRET_ACCESS_KEY": api.session.auth[1],
    }

    def client(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(BERTH_BIN), *args], capture_output=True, text=True, env=env, timeout=CMD_TIMEOUT)

    table = client("images", "findings", "scan/app", "v1")
    assert table.returncode == 0, table.stderr
    assert "PYSEC-2021-108" in table.stdout and "CVE-2021-33503" in table.stdout and "1.26.5" in table.stdout
    assert counts.get("MEDIUM"), counts  # PYSEC-2026-1872 and -1995 carry CVSS vectors; most records here do not
    worst = next(level for level in ("CRITICAL", "HIGH", "MEDIUM") if counts.get(level))
    failing = client("images", "findings", "scan/app", "v1", "--fail-on", worst)
    assert failing.returncode == 3, (failing.stdout, failing.stderr)
    passing = client("images", "findings", "scan/app", "v1", "--severity", "CRITICAL", "--output", "json")
    assert passing.returncode == 0, passing.stderr
    described_table = client("images", "describe", "scan/app")
    assert "VULNERABILITIES" in described_table.stdout

    # the SBOM: exported, and attached as a referrer the OCI referrers API lists (what `oras discover` reads)
    exported = client("images", "sbom", "scan/app", "v1", "--format", "spdx")
    assert exported.returncode == 0 and '"SPDX-2.3"' in exported.stdout, exported.stderr
    attached = client("images", "sbom", "scan/app", "v1", "--attach")
    assert attached.returncode == 0 and "application/vnd.cyclonedx+json" in attached.stdout, attached.stderr
    name = f"{account.account_id}/scan/app"
    token = requests.get(
        f"{berth.url}/token", params={"service": "berth-registry", "scope": f"repository:{name}:pull"},
        auth=(account.username, account.password), timeout=30,
    ).json()["token"]  # fmt: skip
    referrers = requests.get(
        f"{berth.url}/v2/{name}/referrers/{image.manifest_digest}",
        params={"artifactType": "application/vnd.cyclonedx+json"},
        headers={"Authorization": f"Bearer {token}"}, timeout=30,
    ).json()["manifests"]  # fmt: skip
    assert len(referrers) == 1 and referrers[0]["artifactType"] == "application/vnd.cyclonedx+json", referrers


def test_an_alpine_image_matches_the_secdb_and_start_image_scan_works(berth, scanner, work):
    account, api = scanner
    layers = [{"etc/os-release": ALPINE_OS_RELEASE, "lib/apk/db/installed": OLD_APK}]
    image = I.build_image_from_layers(work / "alpine", "3.11", layers)
    creds = f"{account.username}:{account.password}"
    # a repository outside scan/*: MANUAL, scanned when asked
    copy(
        work,
        f"oci:{image.path}:3.11",
        f"docker://{berth.host}/{account.account_id}/manual/alpine:3.11",
        dest_creds=creds,
    )
    api.call("GET", "repositories/manual/alpine/-/images/scan-findings", expect=404, params={"imageTag": "3.11"})
    started = api.call("POST", "repositories/manual/alpine/-/images/scan", json={"imageId": {"imageTag": "3.11"}})
    assert started["imageScanStatus"]["status"] == "IN_PROGRESS"
    answer, _ = wait_for_scan(api, "manual/alpine", "3.11")
    assert answer["imageScanStatus"]["status"] == "COMPLETE", answer["imageScanStatus"]
    assert "x_ALPINE-v3.11-musl-CVE-2019-14697" in ids(answer), ids(answer)
    again = api.call(
        "POST", "repositories/manual/alpine/-/images/scan", expect=400, json={"imageId": {"imageTag": "3.11"}}
    )
    assert again["code"] == "limit_exceeded"


def test_a_hostile_layer_fails_the_scan_and_the_worker_goes_on(berth, scanner, work):
    account, api = scanner
    deep = "/".join(["d"] * 300) + "/file"
    image = I.build_image_from_layers(work / "hostile", "deep", [{deep: b"x"}])
    creds = f"{account.username}:{account.password}"
    copy(
        work,
        f"oci:{image.path}:deep",
        f"docker://{berth.host}/{account.account_id}/scan/hostile:deep",
        dest_creds=creds,
    )
    answer, _ = wait_for_scan(api, "scan/hostile", "deep")
    assert answer["imageScanStatus"]["status"] == "FAILED"
    assert "depth" in answer["imageScanStatus"]["description"], answer["imageScanStatus"]
    # the worker is healthy: the next image scans
    fine = I.build_image_from_layers(work / "fine", "ok", [{"usr/lib/os-release": DEBIAN_OS_RELEASE}])
    copy(work, f"oci:{fine.path}:ok", f"docker://{berth.host}/{account.account_id}/scan/hostile:ok", dest_creds=creds)
    answer, _ = wait_for_scan(api, "scan/hostile", "ok")
    assert answer["imageScanStatus"]["status"] == "COMPLETE"


def test_the_gallery_shows_the_counts_of_a_public_image(berth, scanner, work):
    account, api = scanner
    berth.create_repository(account.account_id, "scan/public", public=True)
    image = I.build_image_from_layers(
        work / "public", "v1",
        [{"usr/lib/os-release": DEBIAN_OS_RELEASE, f"{SITE}/urllib3-1.26.4.dist-info/METADATA": dist_info("urllib3", "1.26.4")}],
    )  # fmt: skip
    creds = f"{account.username}:{account.password}"
    copy(work, f"oci:{image.path}:v1", f"docker://{berth.host}/{account.account_id}/scan/public:v1", dest_creds=creds)
    answer, _ = wait_for_scan(api, "scan/public", "v1")
    counts = answer["imageScanFindings"]["findingSeverityCounts"]
    assert counts
    deadline = time.monotonic() + 30
    while True:  # the gallery learns the counts from image.scan_completed
        page = requests.get(f"{berth.url}/{account.alias}/scan/public?tab=tags", timeout=30).text
        if "severity--" in page and "none known" not in page:
            break
        assert time.monotonic() < deadline, page[-3000:]
        time.sleep(0.2)
    level, count = next(
        (level, counts[level]) for level in ("CRITICAL", "HIGH", "MEDIUM", "LOW", "UNDEFINED") if counts.get(level)
    )
    assert f"{count} {level.lower()}" in page
