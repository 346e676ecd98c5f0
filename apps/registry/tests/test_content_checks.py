"""What a push must describe truly: an index's entries and a referrer's subject
as the repository holds them."""
from __future__ import annotations

import hashlib
import json

import pytest

from apps.registry.models import Manifest

pytestmark = pytest.mark.django_db

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def errors(response) -> list[dict]:
    return json.loads(response.content)["errors"]


@pytest.fixture
def alice(tenant, registry_client):
    return registry_client(tenant)


@pytest.fixture
def repo(tenant):
    return f"{tenant.id}/app"


def entry(digest: str, manifest: dict, **changes) -> dict:
    return {"mediaType": OCI_MANIFEST, "digest": digest, "size": len(json.dumps(manifest)),
            "platform": {"architecture": "amd64", "os": "linux"}, **changes}


# -- an index's entries ---------------------------------------------------------------


@pytest.mark.parametrize("change", [{"size": 1}, {"mediaType": DOCKER_MANIFEST}], ids=["size", "media-type"])
def test_an_index_entry_must_describe_the_manifest_as_stored(alice, repo, change):
    digest, manifest = alice.push_image(repo, "amd64")
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [entry(digest, manifest, **change)]}
    response = alice.push_manifest(repo, "multi", index)
    assert response.status_code == 400
    [error] = errors(response)
    assert error["code"] == "MANIFEST_INVALID"
    assert error["message"].startswith(f"manifests[0] describes {digest} as ")
    assert f"the repository holds it as {len(json.dumps(manifest))} bytes of {OCI_MANIFEST}" in error["message"]
    assert not Manifest.objects.filter(media_type=OCI_INDEX).exists()

    index["manifests"] = [entry(digest, manifest)]
    assert alice.push_manifest(repo, "multi", index).status_code == 201


# -- a referrer's subject -------------------------------------------------------------


def referrer(alice, repo: str, subject: dict) -> dict:
    empty = alice.push_blob(repo, b"{}")
    layer = alice.push_blob(repo, b"signature")
    return {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": "application/vnd.example.signature",
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2},
            "layers": [{"mediaType": "application/octet-stream", "digest": layer, "size": 9}],
            "subject": subject}


def test_a_subject_that_is_here_must_be_described_as_stored(alice, repo):
    digest, manifest = alice.push_image(repo, "v1")
    wrong = referrer(alice, repo, {"mediaType": OCI_MANIFEST, "digest": digest, "size": 3})
    response = alice.push_manifest(repo, sha256(json.dumps(wrong).encode()), wrong)
    assert response.status_code == 400
    [error] = errors(response)
    assert error["code"] == "MANIFEST_INVALID"
    assert error["message"].startswith(f"subject describes {digest} as 3 bytes")

    right = referrer(alice, repo, {"mediaType": OCI_MANIFEST, "digest": digest, "size": len(json.dumps(manifest))})
    response = alice.push_manifest(repo, sha256(json.dumps(right).encode()), right)
    assert response.status_code == 201
    assert response["OCI-Subject"] == digest


def test_a_subject_not_pushed_yet_is_accepted_as_described(alice, repo):
    """The spec: a registry accepts a referrer before its subject, whatever it says of it."""
    absent = sha256(b"pushed later")
    manifest = referrer(alice, repo, {"mediaType": OCI_MANIFEST, "digest": absent, "size": 3})
    response = alice.push_manifest(repo, sha256(json.dumps(manifest).encode()), manifest)
    assert response.status_code == 201
    assert response["OCI-Subject"] == absent
