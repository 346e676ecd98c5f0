"""What the registry's writes tell the rest of Berth: the domain events a push, a
retag and the deletes publish, in the transaction of the change."""

from __future__ import annotations

from apps.audit.events import Actor
from apps.events.models import DomainEvent
from apps.registry import services
from apps.registry.models import Manifest
from apps.repositories.models import Repository


def published() -> list[tuple[str, dict]]:
    """The events published so far (inside the test's transaction nothing is delivered), and clear them."""
    events = [(event.name, event.payload) for event in DomainEvent.objects.order_by("pk")]
    DomainEvent.objects.all().delete()
    return events


def test_pushes_retags_and_deletes_publish_what_they_changed(alice, repo, tenant):
    digest, _ = alice.push_image(repo, "v1")
    repository = Repository.objects.get()
    about = {"repositoryId": repository.pk, "accountId": tenant.id, "repository": "app"}
    manifest = Manifest.objects.get(digest=digest)
    blobs_and_image = published()
    assert blobs_and_image[-2:] == [
        ("image.pushed", {**about, "manifestId": manifest.pk, "digest": digest,
                          "mediaType": manifest.media_type, "tag": "v1"}),
        ("tag.moved", {**about, "tag": "v1", "digest": digest, "previousDigest": ""}),
    ]  # fmt: skip
    assert [name for name, _ in blobs_and_image] == ["repository.created", "image.pushed", "tag.moved"]

    # The same manifest again under a second tag: no new image, one tag more.
    body = bytes(manifest.content)
    assert alice.push_manifest(repo, "v2", body, manifest.media_type).status_code == 201
    assert published() == [("tag.moved", {**about, "tag": "v2", "digest": digest, "previousDigest": ""})]
    # A push that changes nothing tells nothing.
    assert alice.push_manifest(repo, "v2", body, manifest.media_type).status_code == 201
    assert published() == []

    other, _ = alice.push_image(repo, "v2", seed=b"other")
    assert published()[-1] == ("tag.moved", {**about, "tag": "v2", "digest": other, "previousDigest": digest})

    scope = f"repository:{repo}:delete,pull,push"
    assert alice.request("DELETE", f"/v2/{repo}/manifests/v2", scope=scope).status_code == 202
    assert published() == [("tag.deleted", {**about, "tag": "v2", "digest": other})]
    assert alice.request("DELETE", f"/v2/{repo}/manifests/{digest}", scope=scope).status_code == 202
    assert published() == [("image.deleted", {**about, "digest": digest, "tags": ["v1"], "reason": "request"})]

    services.delete_repository(actor=Actor.system("test"), repository=repository, force=True)
    assert published() == [("repository.deleted", {**about, "uploadIds": []})]


def test_image_details_are_recorded_after_the_push_and_published(alice, repo, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        digest, _ = alice.push_image(repo, "v1")
    manifest = Manifest.objects.get(digest=digest)
    assert manifest.platforms == [{"os": "linux", "architecture": "amd64"}]
    # Each event went to its subscribers, the details' one too (which no one here is left waiting for).
    assert not DomainEvent.objects.exists()
