"""What a push must describe truly: an index's entries and a referrer's subject
as the repository holds them."""

from __future__ import annotations

import hashlib
import json

import pytest

from apps.audit.events import Actor
from apps.registry.models import Manifest

pytestmark = pytest.mark.django_db

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def errors(response) -> list[dict]:
    return json.loads(response.content)["errors"]


def entry(digest: str, manifest: dict, **changes) -> dict:
    return {
        "mediaType": OCI_MANIFEST,
        "digest": digest,
        "size": len(json.dumps(manifest)),
        "platform": {"architecture": "amd64", "os": "linux"},
        **changes,
    }


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
    return {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": "application/vnd.example.signature",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2},
        "layers": [{"mediaType": "application/octet-stream", "digest": layer, "size": 9}],
        "subject": subject,
    }


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


# -- blob deletes -----------------------------------------------------------------------


def delete_blob(alice, repo: str, digest: str):
    return alice.request("DELETE", f"/v2/{repo}/blobs/{digest}", scope=f"repository:{repo}:delete")


def pull_blob(alice, repo: str, digest: str):
    return alice.request("GET", f"/v2/{repo}/blobs/{digest}", scope=f"repository:{repo}:pull")


@pytest.mark.parametrize("reference", ["tag", "digest"])
def test_a_blob_a_manifest_references_cannot_be_deleted(alice, repo, reference):
    tag = "v1" if reference == "tag" else None
    digest, manifest = alice.push_image(repo, tag or "v1", layers=2)
    if tag is None:  # the same manifest, pushed by digest only: untagged
        alice.request("DELETE", f"/v2/{repo}/manifests/v1", scope=f"repository:{repo}:delete")
        assert alice.push_manifest(repo, digest, manifest).status_code == 201
    for blob in (manifest["config"]["digest"], manifest["layers"][1]["digest"]):
        response = delete_blob(alice, repo, blob)
        assert response.status_code == 405
        assert response["Allow"] == "GET, HEAD"
        [error] = errors(response)
        assert error["code"] == "DENIED"
        assert error["message"] == (
            f"blob {blob} is referenced by manifest {digest} of this repository; "
            "delete the manifests that reference it first"
        )
        assert error["detail"] == {"digest": blob, "manifests": [digest]}
        assert pull_blob(alice, repo, blob).status_code == 200

    response = alice.request("DELETE", f"/v2/{repo}/manifests/{digest}", scope=f"repository:{repo}:delete")
    assert response.status_code == 202
    # The manifest took the repository's links to its blobs with it: nothing left to delete.
    for blob in (manifest["config"]["digest"], manifest["layers"][1]["digest"]):
        assert pull_blob(alice, repo, blob).status_code == 404
        assert errors(delete_blob(alice, repo, blob))[0]["code"] == "BLOB_UNKNOWN"


def test_a_reference_from_another_repository_does_not_keep_the_link(alice, repo, tenant):
    other = f"{tenant.id}/other"
    _, manifest = alice.push_image(other, "v1")
    layer = manifest["layers"][0]["digest"]
    token = alice.token(f"repository:{repo}:pull,push", f"repository:{other}:pull")
    response = alice.request("POST", f"/v2/{repo}/blobs/uploads/?mount={layer}&from={other}", token=token)
    assert response.status_code == 201
    assert delete_blob(alice, repo, layer).status_code == 202
    assert delete_blob(alice, other, layer).status_code == 405


def test_deleting_a_manifest_digest_as_a_blob_leaves_the_manifest(alice, repo):
    digest, _ = alice.push_image(repo, "v1")
    response = delete_blob(alice, repo, digest)
    assert response.status_code == 404
    assert [e["code"] for e in errors(response)] == ["BLOB_UNKNOWN"]
    response = alice.request(
        "GET", f"/v2/{repo}/manifests/v1", scope=f"repository:{repo}:pull", headers={"Accept": OCI_MANIFEST}
    )
    assert response.status_code == 200
    assert response["Docker-Content-Digest"] == digest


def test_a_blob_delete_between_a_pushs_check_and_its_commit_refuses_the_push(alice, repo, monkeypatch):
    """The interleaving a concurrent delete can produce, made deterministic: the
    push's reference check has passed, the delete lands, then the push commits."""
    from apps.registry import services

    config = alice.push_blob(repo, b"{}")
    layer = alice.push_blob(repo, b"layer bytes")
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 2},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer, "size": 11}],
    }
    check_references = services._check_references

    def check_then_delete(repository, parsed):
        checked = check_references(repository, parsed)
        assert services.unlink_blob(repository=repository, digest=layer, actor=Actor.system("lifecycle"))
        return checked

    monkeypatch.setattr(services, "_check_references", check_then_delete)
    response = alice.push_manifest(repo, "v1", manifest)
    assert response.status_code == 400
    [error] = errors(response)
    assert error["code"] == "MANIFEST_BLOB_UNKNOWN"
    assert error["detail"] == {"digest": layer}
    assert not Manifest.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_blob_delete_waits_for_a_push_that_holds_the_link_and_is_refused(tenant, registry_client, monkeypatch):
    import threading

    from django.db import connection, connections

    from apps.kernel.errors import DomainError
    from apps.registry import services
    from apps.registry.exceptions import BlobInUse
    from apps.repositories.models import Repository

    if connection.vendor != "postgresql":
        pytest.skip("row locks (select_for_update) are what is tested; SQLite runs one writer at a time")
    alice, repo = registry_client(tenant), f"{tenant.id}/race"
    config = alice.push_blob(repo, b"{}")
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 2},
        "layers": [],
    }
    repository = Repository.objects.get(account_id=tenant.id, name="race")
    holding, release = threading.Event(), threading.Event()
    hold_links = services._hold_links

    def hold_then_pause(repository, blobs):
        hold_links(repository, blobs)
        holding.set()
        release.wait(timeout=30)

    monkeypatch.setattr(services, "_hold_links", hold_then_pause)
    outcome: dict[str, object] = {}

    def run(name, call):
        try:
            outcome[name] = call()
        except DomainError as exc:
            outcome[name] = exc
        finally:
            connections.close_all()

    push = threading.Thread(
        target=run,
        args=(
            "push",
            lambda: services.put_manifest(
                repository=repository,
                name=repo,
                reference="v1",
                body=json.dumps(manifest).encode(),
                content_type=OCI_MANIFEST,
                actor=Actor.system("replication"),
            ),
        ),
    )
    delete = threading.Thread(
        target=run,
        args=(
            "delete",
            lambda: services.unlink_blob(repository=repository, digest=config, actor=Actor.system("lifecycle")),
        ),
    )
    push.start()
    try:
        assert holding.wait(timeout=30)
        delete.start()
        delete.join(timeout=1)
        assert delete.is_alive(), "the delete must wait for the push's lock on the link"
    finally:
        release.set()
        push.join(timeout=30)
        if delete.ident is not None:  # started
            delete.join(timeout=30)
    assert isinstance(outcome["push"], Manifest)
    assert isinstance(outcome["delete"], BlobInUse)
    assert pull_blob(alice, repo, config).status_code == 200


# -- referrers --------------------------------------------------------------------------


EMPTY_INDEX = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}


def referrers(client, name: str, digest: str, query: str = ""):
    return client.request("GET", f"/v2/{name}/referrers/{digest}{query}", scope=f"repository:{name}:pull")


@pytest.mark.parametrize("creates_on_push", [True, False])
def test_referrers_of_a_repository_not_created_yet_are_an_empty_index(alice, tenant, creates_on_push):
    tenant.account.create_on_push = creates_on_push
    tenant.account.save()
    name = f"{tenant.id}/not-pushed-yet"
    for digest in (sha256(b"anything"), "sha512:" + hashlib.sha512(b"anything").hexdigest()):
        response = referrers(alice, name, digest)
        assert response.status_code == 200
        assert response["Content-Type"] == OCI_INDEX
        assert response.json() == EMPTY_INDEX
    response = referrers(alice, name, sha256(b"anything"), "?artifactType=application/vnd.example.sbom")
    assert response.json() == EMPTY_INDEX
    assert response["OCI-Filters-Applied"] == "artifactType"
    response = referrers(alice, name, "sha256:not-hex")
    assert response.status_code == 400
    assert [e["code"] for e in errors(response)] == ["DIGEST_INVALID"]
    # a read creates nothing
    assert alice.request("GET", f"/v2/{name}/tags/list", scope=f"repository:{name}:pull").status_code == 404


def test_referrers_of_an_empty_repository_are_an_empty_index(alice, tenant):
    from apps.repositories.services import create_repository

    create_repository(actor=Actor.system("test"), account=tenant.account, name="empty")
    response = referrers(alice, f"{tenant.id}/empty", sha256(b"anything"))
    assert response.status_code == 200
    assert response.json() == EMPTY_INDEX


def test_outsiders_get_the_same_referrers_refusal_for_a_repository_not_created_yet(
    alice, tenant, other_tenant, registry_client
):
    alice.push_image(f"{tenant.id}/private", "v1")
    mallory = registry_client(other_tenant)
    answers = []
    for name in (f"{tenant.id}/private", f"{tenant.id}/not-pushed-yet"):
        response = referrers(mallory, name, sha256(b"anything"))
        assert response.status_code == 401
        answers.append(
            (response.content.replace(name.encode(), b"<name>"), response["WWW-Authenticate"].replace(name, "<name>"))
        )
    assert answers[0] == answers[1]
