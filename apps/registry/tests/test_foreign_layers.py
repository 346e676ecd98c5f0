"""Foreign (non-distributable) layers: Windows base images name their base layers
by URL and never push them. Such a manifest is accepted without those blobs when
the URLs pass BERTH_FOREIGN_LAYER_URLS_ALLOW / _DENY, served as pushed, and its
details still computed."""

from __future__ import annotations

import hashlib
import json

import pytest

from apps.registry.models import Manifest

pytestmark = pytest.mark.django_db

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_FOREIGN = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_NONDISTRIBUTABLE = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"

# servercore ltsc2022's base layer as Microsoft's registry names it: 1.4 GiB never pushed anywhere else.
BASE_DIGEST = "sha256:" + hashlib.sha256(b"windows servercore base layer").hexdigest()
BASE_SIZE = 1_480_813_415
BASE_URL = f"https://mcr.microsoft.com/v2/windows/servercore/blobs/{BASE_DIGEST}"

FAMILIES = {
    "docker": (DOCKER_MANIFEST, DOCKER_CONFIG, DOCKER_LAYER, DOCKER_FOREIGN),
    "oci": (OCI_MANIFEST, OCI_CONFIG, OCI_LAYER, OCI_NONDISTRIBUTABLE),
}


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def errors(response) -> list[dict]:
    return json.loads(response.content)["errors"]


@pytest.fixture
def repo(tenant):
    return f"{tenant.id}/windows/app"


def windows_image(alice, repo: str, family: str, *, urls=(BASE_URL,)) -> dict:
    """A Windows image as `docker build` on Windows pushes it: the config and the
    application layer pushed, the base layer only named."""
    manifest_type, config_type, layer_type, foreign_type = FAMILIES[family]
    app_layer = b"\x1f\x8b" + b"application layer" * 64
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "windows",
            "os.version": "10.0.20348.2340",
            "created": "2026-03-04T05:06:07Z",
            "rootfs": {"type": "layers", "diff_ids": [sha256(b"base diff"), sha256(b"app diff")]},
        }
    ).encode()
    base = {"mediaType": foreign_type, "size": BASE_SIZE, "digest": BASE_DIGEST}
    if urls:
        base["urls"] = list(urls)
    return {
        "schemaVersion": 2,
        "mediaType": manifest_type,
        "config": {"mediaType": config_type, "size": len(config), "digest": alice.push_blob(repo, config)},
        "layers": [base, {"mediaType": layer_type, "size": len(app_layer), "digest": alice.push_blob(repo, app_layer)}],
    }


@pytest.mark.parametrize("family", FAMILIES)
def test_a_windows_image_is_accepted_without_its_foreign_base_layer(
    alice, repo, family, django_capture_on_commit_callbacks
):
    manifest = windows_image(alice, repo, family)
    body = json.dumps(manifest, indent=3).encode()
    with django_capture_on_commit_callbacks(execute=True):
        response = alice.push_manifest(repo, "ltsc2022", body, media_type=manifest["mediaType"])
    assert response.status_code == 201, response.content
    digest = response["Docker-Content-Digest"]
    assert digest == sha256(body)

    token = alice.token(f"repository:{repo}:pull")
    response = alice.request(
        "GET", f"/v2/{repo}/manifests/ltsc2022", token=token, headers={"Accept": manifest["mediaType"]}
    )
    assert response.status_code == 200
    assert response.content == body
    # the base layer is fetched from its URL; this registry never had it
    response = alice.request("GET", f"/v2/{repo}/blobs/{BASE_DIGEST}", token=token)
    assert response.status_code == 404
    assert [e["code"] for e in errors(response)] == ["BLOB_UNKNOWN"]
    assert alice.request("HEAD", f"/v2/{repo}/blobs/{BASE_DIGEST}", token=token).status_code == 404

    stored = Manifest.objects.get(digest=digest)
    assert stored.layer_count == 2
    assert stored.total_size == manifest["config"]["size"] + BASE_SIZE + manifest["layers"][1]["size"]
    assert stored.platforms == [{"os": "windows", "architecture": "amd64"}]
    assert stored.image_created_at.year == 2026


def test_the_other_family_keeps_the_foreign_layer_and_its_urls(alice, repo):
    manifest = windows_image(alice, repo, "docker")
    assert alice.push_manifest(repo, "ltsc2022", manifest).status_code == 201
    response = alice.request(
        "GET", f"/v2/{repo}/manifests/ltsc2022", scope=f"repository:{repo}:pull", headers={"Accept": OCI_MANIFEST}
    )
    assert response.status_code == 200
    base = response.json()["layers"][0]
    assert base == {"mediaType": OCI_NONDISTRIBUTABLE, "size": BASE_SIZE, "digest": BASE_DIGEST, "urls": [BASE_URL]}


@pytest.mark.parametrize(
    "url, reason",
    [
        ("ftp://mcr.microsoft.com/base.tar.gz", "it is not an http or https URL without a fragment"),
        ("https://mcr.microsoft.com/base.tar.gz#part", "it is not an http or https URL without a fragment"),
        ("", "it is not an http or https URL without a fragment"),
        (
            "https://downloads.example.net/base.tar.gz",
            "it does not match the URLs this registry allows for foreign layers",
        ),
        (
            "https://mcr.microsoft.com/private/base.tar.gz",
            "it matches the URLs this registry denies for foreign layers",
        ),
    ],
)
def test_foreign_layer_urls_must_pass_the_allow_and_deny_patterns(alice, repo, settings, url, reason):
    settings.BERTH_FOREIGN_LAYER_URLS_ALLOW = r"^https://mcr\.microsoft\.com/"
    settings.BERTH_FOREIGN_LAYER_URLS_DENY = r"/private/"
    manifest = windows_image(alice, repo, "oci", urls=(BASE_URL, url))
    response = alice.push_manifest(repo, "ltsc2022", manifest)
    assert response.status_code == 400
    [error] = errors(response)
    assert error["code"] == "MANIFEST_INVALID"
    assert error["message"] == f"layers[0].urls: {url!r} is refused: {reason}"
    assert not Manifest.objects.exists()


def test_an_empty_allow_pattern_refuses_every_foreign_layer_url(alice, repo, settings):
    settings.BERTH_FOREIGN_LAYER_URLS_ALLOW = ""
    response = alice.push_manifest(repo, "ltsc2022", windows_image(alice, repo, "docker"))
    assert [e["code"] for e in errors(response)] == ["MANIFEST_INVALID"]


def test_a_foreign_layer_without_urls_needs_its_blob(alice, repo):
    response = alice.push_manifest(repo, "ltsc2022", windows_image(alice, repo, "docker", urls=()))
    assert response.status_code == 400
    [error] = errors(response)
    assert error["code"] == "MANIFEST_BLOB_UNKNOWN"
    assert error["detail"] == {"digest": BASE_DIGEST}


def test_an_ordinary_layer_with_urls_still_needs_its_blob(alice, repo):
    manifest = windows_image(alice, repo, "oci")
    manifest["layers"][0]["mediaType"] = OCI_LAYER
    response = alice.push_manifest(repo, "ltsc2022", manifest)
    assert [e["code"] for e in errors(response)] == ["MANIFEST_BLOB_UNKNOWN"]


def test_a_foreign_layer_pushed_anyway_is_linked_checked_and_served(alice, repo):
    """`dockerd --allow-nondistributable-artifacts` pushes the base layer too."""
    base = b"\x1f\x8b" + b"redistributable base" * 100
    manifest = windows_image(alice, repo, "oci")
    manifest["layers"][0].update(digest=alice.push_blob(repo, base), size=len(base) + 1)
    response = alice.push_manifest(repo, "ltsc2022", manifest)
    assert [e["code"] for e in errors(response)] == ["MANIFEST_INVALID"]

    manifest["layers"][0]["size"] = len(base)
    assert alice.push_manifest(repo, "ltsc2022", manifest).status_code == 201
    digest = manifest["layers"][0]["digest"]
    response = alice.request("GET", f"/v2/{repo}/blobs/{digest}", scope=f"repository:{repo}:pull")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == base
    # the manifest references it: it stays while the manifest does
    response = alice.request("DELETE", f"/v2/{repo}/blobs/{digest}", scope=f"repository:{repo}:delete")
    assert response.status_code == 405


def test_put_image_accepts_a_windows_image(alice, repo, tenant, api_client):
    manifest = windows_image(alice, repo, "docker")
    api = api_client(tenant)
    response = api.post(
        "/api/v1/repositories/windows/app/-/images",
        {
            "imageManifest": json.dumps(manifest),
            "imageManifestMediaType": DOCKER_MANIFEST,
            "imageTag": "ltsc2022",
        },
        format="json",
    )
    assert response.status_code == 201, response.content


def test_urls_must_be_an_array_of_strings(alice, repo):
    manifest = windows_image(alice, repo, "docker")
    manifest["layers"][0]["urls"] = BASE_URL
    response = alice.push_manifest(repo, "ltsc2022", manifest)
    assert [(e["code"], e["message"]) for e in errors(response)] == [
        ("MANIFEST_INVALID", "layers[0].urls must be an array of strings")
    ]
