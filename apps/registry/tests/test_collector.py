"""Garbage collection: deletes drop links at once, the collector frees what nothing
links after the grace window, and no re-link slips past it (apps/registry/collector.py)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import threading
import time
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection, connections, transaction
from django.utils import timezone

from apps.audit.models import Event
from apps.registry import collector, services
from apps.registry.models import Blob, Manifest, RepositoryBlob
from apps.registry.storage import get_blob_store
from apps.repositories.models import Repository

pytestmark = pytest.mark.django_db

NOW = timedelta(0)
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


@pytest.fixture(params=["filesystem", "s3"])
def stores(request):
    """Each test runs against both blob stores."""
    if request.param == "s3":
        request.getfixturevalue("s3_settings")
    get_blob_store.cache_clear()
    yield request.param
    get_blob_store.cache_clear()


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def repository(tenant, name: str) -> Repository:
    return Repository.objects.get(account_id=tenant.id, name=name)


def blobs_of(manifest: dict) -> list[str]:
    return [manifest["config"]["digest"], *(layer["digest"] for layer in manifest["layers"])]


def delete_manifest(client, repo: str, digest: str) -> None:
    response = client.request("DELETE", f"/v2/{repo}/manifests/{digest}", scope=f"repository:{repo}:delete")
    assert response.status_code == 202, response.content


def pull_blob(client, repo: str, digest: str):
    return client.request("GET", f"/v2/{repo}/blobs/{digest}", scope=f"repository:{repo}:pull")


def copy_image(client, source: str, target: str, manifest: dict) -> None:
    """Mount an image's blobs from ``source`` into ``target`` and push it there."""
    for blob in blobs_of(manifest):
        response = client.request(
            "POST",
            f"/v2/{target}/blobs/uploads/?mount={blob}&from={source}",
            scope=f"repository:{target}:pull,push repository:{source}:pull",
        )
        assert response.status_code == 201, response.content
    assert client.push_manifest(target, "copy", manifest).status_code == 201


def read_blob(client, repo: str, digest: str) -> bytes:
    with get_blob_store().open_range(digest) as stream:
        stored = stream.read()
    response = pull_blob(client, repo, digest)
    assert served(response)
    if response.status_code == 200:
        assert b"".join(response.streaming_content) == stored
    return stored


def served(response) -> bool:
    return response.status_code in (200, 307)  # 307: S3's presigned URL


def test_a_deleted_images_bytes_leave_the_store_after_the_grace_window(stores, tenant, alice, repo):
    digest, manifest = alice.push_image(repo, "v1", layers=2)
    kept_digest, kept = alice.push_image(repo, "v2", layers=1)
    store = get_blob_store()
    delete_manifest(alice, repo, digest)
    for blob in blobs_of(manifest):
        assert pull_blob(alice, repo, blob).status_code == 404  # at once
        assert store.exists(blob)  # the bytes wait for the grace window
    assert collector.collect().blobs == 0  # the default window (an hour) has not passed

    freed = sum(Blob.objects.filter(pk__in=blobs_of(manifest)).values_list("size", flat=True))
    report = collector.collect(grace=NOW)
    assert (report.blobs, report.bytes) == (3, freed)
    assert (report.per_repository[repo].blobs, report.per_repository[repo].bytes) == (3, freed)
    for blob in blobs_of(manifest):
        assert not store.exists(blob)
        assert not Blob.objects.filter(pk=blob).exists()
    for blob in blobs_of(kept):
        assert store.exists(blob)
        assert served(pull_blob(alice, repo, blob))
    [event] = Event.objects.filter(event_name="DeleteUnreferencedBlobs")
    assert (event.actor_type, event.actor_username) == ("BerthService", "gc")
    assert sorted(event.response_elements["blobDigests"]) == sorted(blobs_of(manifest))
    assert event.response_elements["bytes"] == freed
    assert Manifest.objects.filter(digest=kept_digest).exists()


def test_a_blob_another_repository_links_stays(stores, tenant, alice, repo):
    digest, manifest = alice.push_image(repo, "v1")
    other = f"{tenant.id}/other"
    copy_image(alice, repo, other, manifest)
    delete_manifest(alice, repo, digest)
    assert collector.collect(grace=NOW).blobs == 0
    for blob in blobs_of(manifest):
        assert pull_blob(alice, repo, blob).status_code == 404
        assert served(pull_blob(alice, other, blob))


def test_a_force_deleted_repository_frees_what_only_it_held(stores, tenant, alice, repo, api_client):
    _, manifest = alice.push_image(repo, "v1", layers=2)
    _, shared_image = alice.push_image(f"{tenant.id}/shared", "v1")
    layer = shared_image["layers"][0]["digest"]
    alice.request(
        "POST",
        f"/v2/{repo}/blobs/uploads/?mount={layer}&from={tenant.id}/shared",
        scope=f"repository:{repo}:pull,push repository:{tenant.id}/shared:pull",
    )
    response = api_client(tenant).delete(f"/api/v1/repositories/{repo.split('/', 1)[1]}?force=true")
    assert response.status_code in (200, 204), response.content
    plan = collector.plan(grace=NOW)
    assert (plan.blobs, plan.per_repository[repo].blobs) == (3, 3)
    assert collector.collect(grace=NOW).blobs == 3
    assert not Blob.objects.filter(pk__in=blobs_of(manifest)).exists()
    assert get_blob_store().exists(layer)
    assert served(pull_blob(alice, f"{tenant.id}/shared", layer))


def test_layers_pushed_without_a_manifest_go_after_the_window(tenant, alice, repo):
    alice.push_image(repo, "v1")
    stray = alice.push_blob(repo, b"pushed, never referenced")
    assert collector.collect().links == 0  # a manifest may yet come within the window
    report = collector.collect(grace=NOW)
    assert (report.links, report.blobs) == (1, 0)
    assert report.per_repository[repo].links == 1
    assert pull_blob(alice, repo, stray).status_code == 404
    [event] = Event.objects.filter(event_name="DropUnreferencedLayers")
    assert event.response_elements["layerDigests"] == [stray]
    # Dropping the link started the blob's own window: the next pass takes it.
    assert collector.collect(grace=NOW).blobs == 1
    assert not get_blob_store().exists(stray)


def test_a_manifest_put_after_its_layers_within_the_window_succeeds(tenant, alice, repo):
    config = alice.push_blob(repo, b"{}")
    collector.collect()
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 2},
        "layers": [],
    }
    assert alice.push_manifest(repo, "v1", manifest).status_code == 201


def test_an_upload_of_condemned_bytes_pardons_them(stores, tenant, alice, repo):
    data = b"condemned, then pushed again"
    digest = alice.push_blob(repo, data)
    RepositoryBlob.objects.filter(blob_id=digest).delete()
    Blob.objects.filter(pk=digest).update(condemned_at=timezone.now())
    alice.push_blob(repo, data)
    blob = Blob.objects.get(pk=digest)
    assert blob.condemned_at is None
    assert collector.collect().blobs == 0
    assert read_blob(alice, repo, digest) == data


def test_an_upload_rewrites_bytes_a_killed_collector_deleted(stores, tenant, alice, repo):
    """A collector killed after deleting the bytes but before committing leaves the
    row condemned: a push of the same bytes writes them again."""
    data = b"deleted by a collector that died"
    digest = alice.push_blob(repo, data)
    RepositoryBlob.objects.filter(blob_id=digest).delete()
    Blob.objects.filter(pk=digest).update(condemned_at=timezone.now())
    get_blob_store().delete(digest)
    alice.push_blob(repo, data)
    assert read_blob(alice, repo, digest) == data


def test_a_mount_of_a_condemned_blob_is_refused_and_the_client_uploads(tenant, alice, repo):
    digest = alice.push_blob(repo, b"about to be collected")
    other = f"{tenant.id}/other"
    # Linked in repo, condemned anyway: the race where the mount read the link just
    # before the collector dropped it and condemned the blob.
    Blob.objects.filter(pk=digest).update(condemned_at=timezone.now())
    response = alice.request(
        "POST",
        f"/v2/{other}/blobs/uploads/?mount={digest}&from={repo}",
        scope=f"repository:{other}:pull,push repository:{repo}:pull",
    )
    assert response.status_code == 202  # an upload session instead of a mount
    assert not RepositoryBlob.objects.filter(repository__name="other", blob_id=digest).exists()


def test_a_collector_that_fails_mid_batch_leaves_the_rest_for_the_next_pass(tenant, alice, repo, monkeypatch):
    digest, manifest = alice.push_image(repo, "v1", layers=2)
    delete_manifest(alice, repo, digest)
    store = get_blob_store()

    def refuse(digests, encryption=None):
        raise OSError("the store is down")

    monkeypatch.setattr(store, "delete_many", refuse)
    report = collector.collect(grace=NOW)
    assert report.blobs == 0
    assert Blob.objects.filter(condemned_at__isnull=False).count() == 3
    monkeypatch.undo()
    assert collector.collect(grace=NOW).blobs == 3
    assert not any(store.exists(blob) for blob in blobs_of(manifest))


def test_a_collector_killed_after_the_store_delete_is_finished_by_the_next(tenant, alice, repo, monkeypatch):
    from apps.audit import services as audit_services

    digest, manifest = alice.push_image(repo, "v1")
    delete_manifest(alice, repo, digest)

    def killed(**kwargs):
        raise KeyboardInterrupt  # the process dies before its transaction commits

    monkeypatch.setattr(audit_services, "record_change", killed)
    with pytest.raises(KeyboardInterrupt):
        collector.collect(grace=NOW)
    monkeypatch.undo()
    assert Blob.objects.filter(condemned_at__isnull=False).count() == 2  # rolled back, still condemned
    assert not get_blob_store().exists(manifest["config"]["digest"])  # the bytes went
    assert collector.collect(grace=NOW).blobs == 2
    assert not Blob.objects.exists() or not Blob.objects.filter(pk__in=blobs_of(manifest)).exists()


def test_reconciliation_condemns_bytes_with_no_row(stores, tmp_path):
    store = get_blob_store()
    old, young = b"left by a crash", b"being committed now"
    for data in (old, young):
        path = tmp_path / "spool"
        path.write_bytes(data)
        store.commit(sha256(data), str(path))
    if stores == "filesystem":
        past = time.time() - 7200
        os.utime(store.path(sha256(old)), (past, past))
        report = collector.reconcile(grace=timedelta(hours=1))
        assert (report.orphans, report.orphan_bytes) == (1, len(old))
    else:  # moto stamps objects with the time of the write: a zero window takes both
        report = collector.reconcile(grace=NOW)
        assert report.orphans == 2
    assert Blob.objects.get(pk=sha256(old)).condemned_at is not None
    collector.collect(grace=NOW)
    assert not store.exists(sha256(old))
    assert store.exists(sha256(young)) == (stores == "filesystem")


def test_the_schema1_empty_layer_stays_while_a_conversion_lists_it(tenant, alice, repo):
    from apps.registry.content.schema1 import EMPTY_LAYER_DIGEST
    from apps.registry.models import ManifestConversion

    layer = os.urandom(512)
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [sha256(layer)]},
            # An instruction that made no layer: schema 1 lists the empty layer for it.
            "history": [{"created_by": "COPY app /app"}, {"created_by": "ENV A=1", "empty_layer": True}],
        }
    ).encode()
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "digest": alice.push_blob(repo, config),
            "size": len(config),
        },
        "layers": [
            {
                "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                "digest": alice.push_blob(repo, layer),
                "size": len(layer),
            }
        ],
    }
    response = alice.push_manifest(repo, "v1", manifest)
    assert response.status_code == 201, response.content
    digest = response["Docker-Content-Digest"]
    response = alice.request(
        "GET",
        f"/v2/{repo}/manifests/v1",
        scope=f"repository:{repo}:pull",
        headers={"Accept": "application/vnd.docker.distribution.manifest.v1+prettyjws"},
    )
    assert response.status_code == 200, response.content
    assert ManifestConversion.objects.exists()
    assert RepositoryBlob.objects.filter(blob_id=EMPTY_LAYER_DIGEST).exists()
    collector.collect(grace=NOW)
    assert served(pull_blob(alice, repo, EMPTY_LAYER_DIGEST))
    delete_manifest(alice, repo, digest)
    collector.collect(grace=NOW)
    assert collector.collect(grace=NOW).blobs >= 1
    assert not Blob.objects.filter(pk=EMPTY_LAYER_DIGEST).exists()


def test_gc_command_dry_run_reports_and_changes_nothing(tenant, alice, repo):
    digest, manifest = alice.push_image(repo, "v1", layers=2)
    delete_manifest(alice, repo, digest)
    out = io.StringIO()
    call_command("gc", "--dry-run", "--grace", "0", "--json", stdout=out)
    report = json.loads(out.getvalue())
    assert report["dryRun"] is True
    assert report["blobs"] == 3
    assert report["repositories"][repo]["blobs"] == 3
    assert Blob.objects.filter(pk__in=blobs_of(manifest)).count() == 3
    out = io.StringIO()
    call_command("gc", "--grace", "0", "--no-progress", stdout=out)
    assert "deleted 3 blobs" in out.getvalue()
    assert repo in out.getvalue()
    assert not Blob.objects.filter(pk__in=blobs_of(manifest)).exists()


def test_gc_command_refuses_a_negative_grace():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="--grace"):
        call_command("gc", "--grace", "-1")


def _push_index(client, repo: str) -> tuple[str, list[str], str]:
    """An index of two images, and a referrer (an SBOM-like artifact) of the index."""
    children = []
    for seed in (b"amd64", b"arm64"):
        digest, manifest = client.push_image(repo, seed.decode(), seed=seed)
        children.append((digest, len(json.dumps(manifest).encode())))
        client.request("DELETE", f"/v2/{repo}/manifests/{seed.decode()}", scope=f"repository:{repo}:delete")
    index = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [{"mediaType": OCI_MANIFEST, "digest": d, "size": s} for d, s in children],
    }
    response = client.push_manifest(repo, "multi", index)
    assert response.status_code == 201, response.content
    index_digest = response["Docker-Content-Digest"]
    body = json.dumps(index).encode()
    artifact_blob = client.push_blob(repo, b"an sbom")
    empty = client.push_blob(repo, b"{}")
    referrer = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": "application/spdx+json",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2},
        "layers": [{"mediaType": "application/spdx+json", "digest": artifact_blob, "size": 7}],
        "subject": {"mediaType": OCI_INDEX, "digest": index_digest, "size": len(body)},
    }
    response = client.push_manifest(repo, sha256(json.dumps(referrer).encode()), referrer)
    assert response.status_code == 201, response.content
    return index_digest, [d for d, _ in children], response["Docker-Content-Digest"]


def test_batch_delete_with_dependents_takes_an_indexs_entries_and_referrers(tenant, alice, repo, api_client):
    index, children, referrer = _push_index(alice, repo)
    name = repo.split("/", 1)[1]
    response = api_client(tenant).post(
        f"/api/v1/repositories/{name}/-/images/batch-delete",
        {"imageIds": [{"imageTag": "multi"}], "withDependents": True},
        format="json",
    )
    assert response.status_code == 200, response.content
    deleted = {image["imageDigest"] for image in response.json()["imageIds"]}
    assert deleted == {index, referrer, *children}
    assert not Manifest.objects.filter(repository__name=name).exists()
    assert collector.collect(grace=NOW).blobs > 0
    assert not RepositoryBlob.objects.filter(repository__name=name).exists()


def test_batch_delete_without_dependents_leaves_them(tenant, alice, repo, api_client):
    index, children, referrer = _push_index(alice, repo)
    name = repo.split("/", 1)[1]
    response = api_client(tenant).post(
        f"/api/v1/repositories/{name}/-/images/batch-delete", {"imageIds": [{"imageTag": "multi"}]}, format="json"
    )
    assert [image["imageDigest"] for image in response.json()["imageIds"]] == [index]
    assert set(Manifest.objects.filter(repository__name=name).values_list("digest", flat=True)) == {
        referrer,
        *children,
    }


def test_an_entry_another_index_lists_or_a_tag_names_stays_with_dependents(tenant, alice, repo):
    from apps.audit.events import Actor

    index, children, _ = _push_index(alice, repo)
    tagged = children[0]
    body = bytes(Manifest.objects.get(digest=tagged, repository__name="app").content)
    assert alice.push_manifest(repo, "kept", body, OCI_MANIFEST).status_code == 201
    services.batch_delete_image(
        repository=repository(tenant, "app"), image_ids=[(index, None)], actor=Actor.system("lifecycle"), cascade=True
    )
    assert list(Manifest.objects.filter(repository__name="app").values_list("digest", flat=True)) == [tagged]


# -- races, with real row locks ---------------------------------------------------------


def _in_thread(call):
    """Run ``call`` in a thread with its own connection; returns (thread, outcome)."""
    outcome: dict[str, object] = {}

    def run():
        try:
            outcome["value"] = call()
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            outcome["error"] = exc
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


@pytest.mark.django_db(transaction=True)
def test_a_mount_holding_its_claim_keeps_the_blob_from_a_collector(tenant, registry_client):
    """The mount's transaction has claimed the blob (row locked) and not yet linked
    it: a collector skips the row; it is linked when the collector looks again."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks are what is tested; SQLite runs one writer at a time")
    alice, repo = registry_client(tenant), f"{tenant.id}/race"
    digest = alice.push_blob(repo, b"mounted during a collection")
    RepositoryBlob.objects.filter(blob_id=digest).delete()
    Blob.objects.filter(pk=digest).update(touched_at=timezone.now() - timedelta(days=1))
    claimed, release = threading.Event(), threading.Event()

    def mount():
        with transaction.atomic():
            assert services._claim_blob(digest)
            claimed.set()
            release.wait(timeout=30)
            services.link_blob(repository=repository(tenant, "race"), blob=Blob(digest=digest, size=0))

    thread, outcome = _in_thread(mount)
    try:
        assert claimed.wait(timeout=30)
        gc_thread, gc_outcome = _in_thread(lambda: collector.collect(grace=timedelta(hours=1)))
        gc_thread.join(timeout=30)
        assert not gc_thread.is_alive(), "the collector must skip a claimed row, not wait for it"
        assert "error" not in gc_outcome, gc_outcome
        assert gc_outcome["value"].blobs == 0
    finally:
        release.set()
        thread.join(timeout=30)
    assert "error" not in outcome, outcome
    collector.collect(grace=NOW)
    assert Blob.objects.get(pk=digest).condemned_at is None
    assert get_blob_store().exists(digest)


@pytest.mark.django_db(transaction=True)
def test_a_push_holding_a_link_keeps_it_from_the_link_sweep(tenant, registry_client, monkeypatch):
    """A manifest push has locked the links of its layers (older than the window, no
    manifest yet): the sweep waits for it, then finds the manifest and keeps them."""
    from apps.audit.events import Actor

    if connection.vendor != "postgresql":
        pytest.skip("row locks are what is tested; SQLite runs one writer at a time")
    alice, repo = registry_client(tenant), f"{tenant.id}/race"
    config = alice.push_blob(repo, b"{}")
    RepositoryBlob.objects.filter(blob_id=config).update(created_at=timezone.now() - timedelta(days=1))
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 2},
        "layers": [],
    }
    holding, release = threading.Event(), threading.Event()
    hold_links = services._hold_links

    def hold_then_pause(repository, blobs):
        hold_links(repository, blobs)
        holding.set()
        release.wait(timeout=30)

    monkeypatch.setattr(services, "_hold_links", hold_then_pause)
    push, pushed = _in_thread(
        lambda: services.put_manifest(
            repository=repository(tenant, "race"),
            name=repo,
            reference="v1",
            body=json.dumps(manifest).encode(),
            content_type=OCI_MANIFEST,
            actor=Actor.system("replication"),
        )
    )
    try:
        assert holding.wait(timeout=30)
        sweep, swept = _in_thread(lambda: collector.collect(grace=timedelta(hours=1)))
        sweep.join(timeout=30)
        # SKIP LOCKED: the sweep passes the held link by rather than wait.
        assert "error" not in swept, swept
        assert swept["value"].links == 0
    finally:
        release.set()
        push.join(timeout=30)
    assert "error" not in pushed, pushed
    collector.collect(grace=timedelta(hours=1))
    assert RepositoryBlob.objects.filter(blob_id=config).exists()
    assert served(pull_blob(alice, repo, config))


@pytest.mark.django_db(transaction=True)
def test_two_collectors_at_once_delete_each_blob_once(tenant, registry_client):
    if connection.vendor != "postgresql":
        pytest.skip("two collectors side by side need a database with row locks")
    alice, repo = registry_client(tenant), f"{tenant.id}/many"
    digests = [alice.push_blob(repo, os.urandom(64)) for _ in range(30)]
    RepositoryBlob.objects.filter(blob_id__in=digests).delete()
    Blob.objects.filter(pk__in=digests).update(touched_at=timezone.now() - timedelta(days=1))
    threads = [_in_thread(lambda: collector.collect(grace=timedelta(hours=1))) for _ in range(2)]
    for thread, _ in threads:
        thread.join(timeout=60)
    outcomes = [outcome for _, outcome in threads]
    assert all("error" not in outcome for outcome in outcomes), outcomes
    assert sum(outcome["value"].blobs for outcome in outcomes) == 30
    assert Event.objects.filter(event_name="DeleteUnreferencedBlobs").count() >= 1
    assert not Blob.objects.filter(pk__in=digests).exists()
    assert not any(get_blob_store().exists(digest) for digest in digests)
