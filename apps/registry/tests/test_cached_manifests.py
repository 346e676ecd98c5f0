"""Cached manifests: the pull-through cache stores an upstream's manifest before its
blobs (PendingBlob), fills each blob through the upload area, verified, and the
/v2/ handlers ask the registered UpstreamSource only for what a rule covers."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import timedelta

import pytest

from apps.audit.events import Actor
from apps.audit.models import Event
from apps.events.models import DomainEvent
from apps.registry import collector, image_details, services, upstream
from apps.registry.exceptions import DigestMismatch
from apps.registry.models import Blob, Manifest, ManifestBlob, PendingBlob, RepositoryBlob, Upload
from apps.repositories.models import Repository

pytestmark = pytest.mark.django_db

ACTOR = Actor.system("pull-through-cache")
UPSTREAM = "https://upstream.example/library/app"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def image(config: bytes, *layers: bytes) -> bytes:
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": sha256(config),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": sha256(layer),
                    "size": len(layer),
                }
                for layer in layers
            ],
        }
    ).encode()


@pytest.fixture
def repository(tenant):
    return Repository.objects.create(account=tenant.account, name="hub/app")


def store(repository, body: bytes, tag: str | None = "v1"):
    return services.store_cached_manifest(
        repository=repository,
        body=body,
        media_type="application/vnd.oci.image.manifest.v1+json",
        tag=tag,
        digest=sha256(body),
        upstream=UPSTREAM,
        actor=ACTOR,
    )


def fill(repository, data: bytes, *, digest: str | None = None) -> services.BlobFill:
    blob_fill = services.BlobFill(repository=repository, digest=digest or sha256(data), upstream=UPSTREAM, actor=ACTOR)
    for start in range(0, len(data), 1000):
        blob_fill.write(data[start : start + 1000])
    return blob_fill


def test_a_cached_manifest_is_stored_before_its_blobs_which_a_fill_links(repository):
    config, layer = b'{"architecture":"amd64","os":"linux"}', os.urandom(5000)
    manifest, pending = store(repository, image(config, layer))
    assert sorted(d.digest for d in pending) == sorted([sha256(config), sha256(layer)])
    assert set(PendingBlob.objects.values_list("digest", flat=True)) == {sha256(config), sha256(layer)}
    assert not ManifestBlob.objects.filter(manifest=manifest).exists()
    pushed = DomainEvent.objects.filter(name="image.pushed").latest("id")
    assert pushed.payload["upstream"] == UPSTREAM
    event = Event.objects.filter(event_name="BatchImportUpstreamImage").latest("id")
    assert event.request_parameters["upstream"] == UPSTREAM and event.request_parameters["imageTag"] == "v1"

    blob = fill(repository, layer).commit()
    assert blob.digest == sha256(layer)
    assert RepositoryBlob.objects.filter(repository=repository, blob_id=blob.digest).exists()
    assert ManifestBlob.objects.filter(manifest=manifest, blob_id=blob.digest).exists()
    assert set(PendingBlob.objects.values_list("digest", flat=True)) == {sha256(config)}
    assert not Upload.objects.exists()


def test_a_fill_whose_bytes_do_not_match_keeps_nothing(repository):
    layer = os.urandom(3000)
    store(repository, image(b"{}", layer))
    blob_fill = fill(repository, os.urandom(3000), digest=sha256(layer))
    with pytest.raises(DigestMismatch):
        blob_fill.commit()
    blob_fill.discard()  # what the cache does whatever ended a fill early: harmless after a failed commit
    assert not Blob.objects.filter(digest=sha256(layer)).exists()
    assert PendingBlob.objects.filter(digest=sha256(layer)).exists()
    assert not Upload.objects.exists()
    # the spooled bytes went (the area is the session's: other tests' spools may be there)
    assert not services.upload_area().path(str(blob_fill.upload.pk)).exists()


def test_a_manifest_referencing_blobs_the_repository_links_references_them(repository):
    layer = os.urandom(2000)
    fill(repository, layer).commit()  # e.g. the layer of an earlier cached image
    manifest, pending = store(repository, image(b"{}", layer))
    assert [d.digest for d in pending] == [sha256(b"{}")]
    assert ManifestBlob.objects.filter(manifest=manifest, blob_id=sha256(layer)).exists()


def test_deletes_details_and_the_collector_cope_with_pending_blobs(repository):
    body = image(b'{"architecture":"arm64","os":"linux"}', os.urandom(100))
    manifest, _ = store(repository, body)
    image_details.record(Manifest.objects.get(pk=manifest.pk))  # its config is not here yet
    assert Manifest.objects.get(pk=manifest.pk).total_size is not None
    collector.collect(grace=timedelta(0))
    assert PendingBlob.objects.filter(manifest=manifest).count() == 2
    services.delete_manifest(repository=repository, digest=manifest.digest, actor=ACTOR)
    assert not PendingBlob.objects.exists()


class RecordingSource:
    """The registry's side of the port, seen from a source that records what it is asked."""

    def __init__(self, *, covered: bool, data: bytes = b"") -> None:
        self.covered = covered
        self.data = data
        self.asked: list[tuple] = []

    def covers(self, account_id, name, *, fresh=False):
        self.asked.append(("covers", name))
        return self.covered

    def create_repository(self, *, account, name, actor, context):
        return Repository.objects.create(account=account, name=name)

    def prepare_manifest(self, repository, reference, *, may_import):
        self.asked.append(("prepare", reference))

    def fetch_blob(self, repository, digest, size):
        self.asked.append(("fetch", digest))
        return iter([self.data[:10], self.data[10:]])


@pytest.fixture
def source():
    def install(**kwargs) -> RecordingSource:
        recording = RecordingSource(**kwargs)
        upstream.register(recording)
        return recording

    previous = upstream.current()
    yield install
    upstream.register(previous)


def test_a_pending_blob_is_streamed_from_the_source_and_a_head_answers_its_size(alice, repository, source):
    layer = os.urandom(3000)
    store(repository, image(b"{}", layer))
    recording = source(covered=True, data=layer)
    name = f"{repository.account_id}/{repository.name}"
    scope = f"repository:{name}:pull"
    head = alice.request("HEAD", f"/v2/{name}/blobs/{sha256(layer)}", scope=scope)
    assert head.status_code == 200 and head["Content-Length"] == "3000"
    response = alice.request("GET", f"/v2/{name}/blobs/{sha256(layer)}", scope=scope)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == layer
    assert ("fetch", sha256(layer)) in recording.asked
    unknown = alice.request("GET", f"/v2/{name}/blobs/{sha256(b'other')}", scope=scope)
    assert unknown.status_code == 404 and ("fetch", sha256(b"other")) not in recording.asked


def test_a_repository_no_rule_covers_is_never_prepared(alice, repository, source):
    # a config of its own: the session's blob store may hold another test's "{}"
    store(repository, image(json.dumps({"test": os.urandom(8).hex()}).encode()))
    recording = source(covered=False)
    name = f"{repository.account_id}/{repository.name}"
    response = alice.request("GET", f"/v2/{name}/manifests/v1", scope=f"repository:{name}:pull")
    assert response.status_code == 404  # schema 1 (no Accept) needs the config, which is not here yet
    assert response.json()["errors"][0]["code"] == "MANIFEST_UNKNOWN"
    accept = {"Accept": "application/vnd.oci.image.manifest.v1+json"}
    response = alice.request("GET", f"/v2/{name}/manifests/v1", scope=f"repository:{name}:pull", headers=accept)
    assert response.status_code == 200
    assert set(recording.asked) == {("covers", "hub/app")}


def test_a_members_pull_of_a_missing_covered_repository_creates_it(alice, tenant, source):
    recording = source(covered=True)
    name = f"{tenant.account.pk}/hub/new"
    response = alice.request("GET", f"/v2/{name}/manifests/v1", scope=f"repository:{name}:pull")
    assert Repository.objects.filter(account=tenant.account, name="hub/new").exists()
    assert ("prepare", "v1") in recording.asked
    assert response.status_code == 404  # the recording source fetched nothing


def test_a_fill_that_committed_after_the_handler_looked_is_served_locally(repository, source):
    layer = os.urandom(2000)
    store(repository, image(b"{}", layer))
    recording = source(covered=True, data=layer)
    fill(repository, layer).commit()  # between the handler's linked_blob and its pending_blob

    class Authorized:
        pass

    authorized = Authorized()
    authorized.repository = repository
    served = upstream.pending_blob(authorized, sha256(layer), head=False)
    assert isinstance(served, Blob) and served.digest == sha256(layer)
    assert not any(asked[0] == "fetch" for asked in recording.asked)
