"""Scans from push to findings, in process: real layers pushed through /v2/, real
advisories imported, the domain events delivered (``committed``), the API read."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from apps.audit.events import Actor
from apps.audit.models import Event
from apps.gallery.models import ScanSummary
from apps.registry.models import Manifest
from apps.registry.storage import filesystem
from apps.repositories import services as repository_services
from apps.repositories.models import Visibility
from apps.scanning import services, vulndb
from apps.scanning.models import Finding, ImageScan, Inventory

from .layers import DEBIAN_OS_RELEASE, DPKG_STATUS, Dir, Symlink, compress, dist_info, tar_bytes

DATA = Path(__file__).parent / "data"
TEST_ACTOR = Actor.system("test")
FIXTURES = DATA / "scan-fixtures.osv.jsonl"
LATER = DATA / "scan-fixtures-later.osv.jsonl"
SITE = "usr/lib/python3/dist-packages"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
GZIP_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def debian_python_layers() -> list[bytes]:
    """A Debian 12 root file system with old openssl and Python libraries; the second
    layer deletes PyYAML (a whiteout), which must not be reported."""
    base = {
        "usr/lib/os-release": DEBIAN_OS_RELEASE,
        "etc/os-release": Symlink("../usr/lib/os-release"),
        "var/lib/dpkg/status": DPKG_STATUS,
        f"{SITE}/urllib3-1.26.4.dist-info/METADATA": dist_info("urllib3", "1.26.4", "MIT"),
        f"{SITE}/requests-2.25.1.dist-info/METADATA": dist_info("requests", "2.25.1", "Apache 2.0"),
        f"{SITE}/Jinja2-2.11.2.dist-info/METADATA": dist_info("Jinja2", "2.11.2", "BSD-3-Clause"),
        f"{SITE}/PyYAML-5.3.dist-info/METADATA": dist_info("PyYAML", "5.3", "MIT"),
    }
    upper = {"app": Dir(), "app/main.py": b"print('hello')\n", f"{SITE}/.wh.PyYAML-5.3.dist-info": b""}
    return [compress(tar_bytes(base), "gzip"), compress(tar_bytes(upper), "gzip")]


def push(client, name: str, tag: str, layers: list[bytes], *, arch: str = "amd64") -> str:
    config = json.dumps(
        {
            "architecture": arch,
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(b).hexdigest() for b in layers]},
        }
    ).encode()
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": client.push_blob(name, config),
            "size": len(config),
        },
        "layers": [
            {"mediaType": GZIP_LAYER, "digest": client.push_blob(name, blob), "size": len(blob)} for blob in layers
        ],
    }
    response = client.push_manifest(name, tag, manifest)
    assert response.status_code == 201, response.content
    return response["Docker-Content-Digest"]


def advisory_ids(digest: str) -> set[str]:
    return set(Finding.objects.filter(scan__manifest__digest=digest).values_list("advisory_id", flat=True))


@pytest.fixture
def advisories(db, committed):
    with committed():
        vulndb.import_paths([str(FIXTURES)])


@pytest.fixture
def scanned_repository(tenant, committed):
    with committed():
        return repository_services.create_repository(
            account=tenant.account, name="team/app", scan_on_push=True, actor=TEST_ACTOR
        )


def test_a_push_to_a_repository_that_scans_on_push_yields_findings(
    tenant, registry_client, api_client, advisories, scanned_repository, committed
):
    client = registry_client(tenant)
    with committed():
        digest = push(client, f"{tenant.id}/team/app", "v1", debian_python_layers())
    scan = ImageScan.objects.get(manifest__digest=digest)
    assert scan.status == "COMPLETE", scan.description
    found = advisory_ids(digest)
    # urllib3 1.26.4, Jinja2 2.11.2, requests 2.25.1, openssl 3.0.11-1~deb12u1 (by its source package)
    assert {"PYSEC-2021-108", "PYSEC-2021-66", "PYSEC-2023-74", "x_DEBCL-openssl-CVE-2024-0727"} <= found
    # PyYAML 5.3 was deleted by a whiteout in the second layer
    assert not found & {"PYSEC-2020-96", "PYSEC-2021-142"}
    assert sum(scan.severity_counts.values()) == Finding.objects.filter(scan=scan).count()

    api = api_client(tenant)
    answer = api.get("/api/v1/repositories/team/app/-/images/scan-findings?imageTag=v1&max_results=2").json()
    assert answer["imageScanStatus"]["status"] == "COMPLETE"
    page = answer["imageScanFindings"]["findings"]
    assert len(page) == 2 and answer["next"]
    rest = api.get(
        "/api/v1/repositories/team/app/-/images/scan-findings",
        {"imageTag": "v1", "max_results": 100, "next": answer["next"]},
    ).json()["imageScanFindings"]["findings"]
    names = {f["name"] for f in page + rest}
    assert names == found
    urllib3 = next(f for f in page + rest if f["name"] == "PYSEC-2021-108")
    attributes = {a["key"]: a["value"] for a in urllib3["attributes"]}
    assert attributes["package_name"] == "urllib3" and attributes["package_version"] == "1.26.4"
    assert attributes["fixed_in_version"] == "1.26.5" and "CVE-2021-33503" in attributes["aliases"]
    assert attributes["layer_digest"].startswith("sha256:")

    described = api.get("/api/v1/repositories/team/app/-/images/describe").json()["imageDetails"][0]
    assert described["imageScanStatus"]["status"] == "COMPLETE"
    assert described["imageScanFindingsSummary"]["findingSeverityCounts"] == scan.severity_counts

    completed = Event.objects.filter(event_name="ImageScanCompleted", repository="team/app").get()
    assert completed.actor_type == "BerthService" and completed.actor_username == "scanner"


def test_start_image_scan_once_a_day_and_not_for_artifacts(tenant, registry_client, api_client, advisories, committed):
    with committed():
        repository_services.create_repository(account=tenant.account, name="manual", actor=TEST_ACTOR)
    client = registry_client(tenant)
    with committed():
        digest = push(client, f"{tenant.id}/manual", "v1", debian_python_layers())
    assert not ImageScan.objects.filter(manifest__digest=digest).exists()  # MANUAL: nothing on push
    api = api_client(tenant)
    missing = api.get("/api/v1/repositories/manual/-/images/scan-findings", {"imageTag": "v1"})
    assert missing.status_code == 404 and missing.json()["code"] == "scan_not_found"
    with committed():
        started = api.post("/api/v1/repositories/manual/-/images/scan", {"imageId": {"imageTag": "v1"}}, format="json")
    assert started.status_code == 200, started.content
    assert started.json()["imageScanStatus"]["status"] == "IN_PROGRESS"
    assert ImageScan.objects.get(manifest__digest=digest).status == "COMPLETE"
    again = api.post("/api/v1/repositories/manual/-/images/scan", {"imageId": {"imageTag": "v1"}}, format="json")
    assert again.status_code == 400 and again.json()["code"] == "limit_exceeded"

    empty = b"{}"
    artifact = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": "application/vnd.example.sbom",
        "config": {
            "mediaType": "application/vnd.oci.empty.v1+json",
            "digest": client.push_blob(f"{tenant.id}/manual", empty),
            "size": 2,
        },
        "layers": [
            {
                "mediaType": "application/json",
                "digest": client.push_blob(f"{tenant.id}/manual", b"[]"),
                "size": 2,
            }
        ],
    }
    assert client.push_manifest(f"{tenant.id}/manual", "artifact", artifact).status_code == 201
    refused = api.post(
        "/api/v1/repositories/manual/-/images/scan", {"imageId": {"imageTag": "artifact"}}, format="json"
    )
    assert refused.status_code == 400 and refused.json()["code"] == "unsupported_image_type"


def test_an_index_scans_each_platform(tenant, registry_client, api_client, advisories, scanned_repository, committed):
    client = registry_client(tenant)
    name = f"{tenant.id}/team/app"
    with committed():
        amd = push(client, name, "amd", debian_python_layers())
        arm = push(client, name, "arm", [compress(tar_bytes({"usr/lib/os-release": DEBIAN_OS_RELEASE}), "gzip")])
    children = [Manifest.objects.get(digest=d, repository=scanned_repository) for d in (amd, arm)]
    index = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            {
                "mediaType": OCI_MANIFEST,
                "digest": m.digest,
                "size": m.size,
                "platform": {"os": "linux", "architecture": a},
            }
            for m, a in zip(children, ("amd64", "arm64"))
        ],
    }
    with committed():
        response = client.push_manifest(name, "multi", index)
    assert response.status_code == 201
    index_scan = ImageScan.objects.get(manifest__digest=response["Docker-Content-Digest"])
    assert index_scan.status == "COMPLETE", index_scan.description
    amd_scan = ImageScan.objects.get(manifest=children[0])
    assert index_scan.severity_counts == amd_scan.severity_counts  # the arm image has no findings
    findings = (
        api_client(tenant)
        .get("/api/v1/repositories/team/app/-/images/scan-findings", {"imageTag": "multi", "max_results": 1000})
        .json()["imageScanFindings"]["findings"]
    )
    digests = {a["value"] for f in findings for a in f["attributes"] if a["key"] == "image_digest"}
    assert digests == {amd}


def test_continuous_scanning_rematches_stored_inventories_without_reading_a_layer(
    tenant, registry_client, advisories, committed, monkeypatch
):
    with committed():
        services.put_scanning_configuration(
            account_id=tenant.id,
            scan_type="ENHANCED",
            rules=[{"scanFrequency": "CONTINUOUS_SCAN", "repositoryFilters": [{"filter": "watched/*"}]}],
            actor=TEST_ACTOR,
        )
        repository_services.create_repository(account=tenant.account, name="watched/app", actor=TEST_ACTOR)
    with committed():
        digest = push(registry_client(tenant), f"{tenant.id}/watched/app", "v1", debian_python_layers())
    assert "PYSEC-2026-1473" not in advisory_ids(digest)
    before = dict(ImageScan.objects.get(manifest__digest=digest).severity_counts)

    def no_layer_reads(self, digest, start=0, end=None):
        raise AssertionError(f"a layer was read during a re-match: {digest}")

    monkeypatch.setattr(filesystem.FilesystemBlobStore, "open_range", no_layer_reads)
    with committed():
        result = vulndb.import_paths([str(LATER)])
    assert result.changed_ids == ["PYSEC-2026-1473"]
    assert "PYSEC-2026-1473" in advisory_ids(digest)  # Jinja2 2.11.2
    after = ImageScan.objects.get(manifest__digest=digest).severity_counts
    assert sum(after.values()) == sum(before.values()) + 1
    # importing the same file again changes nothing
    with committed():
        assert vulndb.import_paths([str(LATER)]).changed_ids == []


def test_a_hostile_layer_ends_the_scan_failed_with_the_reason(
    tenant, registry_client, advisories, scanned_repository, committed, settings
):
    settings.BERTH_SCAN_LIMITS = {"max_members": 50}
    many = {f"junk/{n}": b"" for n in range(200)}
    with committed():
        digest = push(registry_client(tenant), f"{tenant.id}/team/app", "bomb", [compress(tar_bytes(many), "gzip")])
    scan = ImageScan.objects.get(manifest__digest=digest)
    assert scan.status == "FAILED"
    assert "50" in scan.description
    assert not Inventory.objects.filter(digest=digest).exists()


def test_the_gallery_shows_a_public_images_severity_counts(
    tenant, registry_client, client, advisories, committed, settings
):
    with committed():
        repository_services.create_repository(
            account=tenant.account, name="public-app", visibility=Visibility.PUBLIC, scan_on_push=True, actor=TEST_ACTOR
        )
    with committed():
        digest = push(registry_client(tenant), f"{tenant.id}/public-app", "v1", debian_python_layers())
    summary = ScanSummary.objects.get(manifest__digest=digest)
    assert summary.status == "COMPLETE" and summary.severity_counts
    # The page names static files; the tests run without collectstatic's manifest.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    body = client.get(f"/{tenant.alias}/public-app?tab=tags").content.decode()
    level, count = summary.counts[0]
    assert f"{count} {level.lower()}" in body


def test_an_images_sbom_exports_and_attaches_as_a_referrer(
    tenant, registry_client, api_client, advisories, scanned_repository, committed
):
    client = registry_client(tenant)
    name = f"{tenant.id}/team/app"
    with committed():
        digest = push(client, name, "v1", debian_python_layers())
    api = api_client(tenant)
    cyclonedx = api.get("/api/v1/repositories/team/app/-/images/sbom", {"imageTag": "v1"})
    assert cyclonedx.status_code == 200, cyclonedx.content
    assert cyclonedx["Content-Type"] == "application/vnd.cyclonedx+json"
    bom = json.loads(cyclonedx.content)
    purls = {component.get("purl") for component in bom["components"]}
    assert "pkg:pypi/urllib3@1.26.4" in purls and "pkg:pypi/pyyaml@5.3" not in purls
    assert bom["metadata"]["component"]["version"] == digest
    spdx = api.get("/api/v1/repositories/team/app/-/images/sbom", {"imageTag": "v1", "sbomFormat": "spdx"})
    assert spdx.status_code == 200 and json.loads(spdx.content)["spdxVersion"] == "SPDX-2.3"

    with committed():
        attached = api.post(
            "/api/v1/repositories/team/app/-/images/sbom", {"imageId": {"imageTag": "v1"}}, format="json"
        )
    assert attached.status_code == 201, attached.content
    [referrer] = attached.json()["referrers"]
    assert referrer["subjectDigest"] == digest
    listed = client.request("GET", f"/v2/{name}/referrers/{digest}", scope=f"repository:{name}:pull").json()
    assert [(m["digest"], m["artifactType"]) for m in listed["manifests"]] == [
        (referrer["imageDigest"], "application/vnd.cyclonedx+json")
    ]
    with committed():  # attaching the same SBOM again stores nothing new
        again = api.post("/api/v1/repositories/team/app/-/images/sbom", {"imageId": {"imageTag": "v1"}}, format="json")
    assert again.status_code == 201 and again.json()["referrers"] == [referrer]
    # the SBOM artifact is not itself scanned on push
    assert not ImageScan.objects.filter(manifest__digest=referrer["imageDigest"]).exists()

    with committed():
        repository_services.create_repository(account=tenant.account, name="unscanned", actor=TEST_ACTOR)
        other = push(client, f"{tenant.id}/unscanned", "v1", debian_python_layers()[:1])
    missing = api.get("/api/v1/repositories/unscanned/-/images/sbom", {"imageDigest": other})
    assert missing.status_code == 404 and missing.json()["code"] == "scan_not_found"
