"""Replication tests' fixtures: images pushed through the registry's own services
(no HTTP), and a fake remote registry standing in for another deployment."""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass, field

import pytest

from apps.audit.events import Actor
from apps.iam import services as iam_services
from apps.registry import services as registry_services
from apps.registry.content import media_types as mt
from apps.replication import client as registry_client
from apps.replication import copying
from apps.repositories import services as repository_services

PUSHER = Actor.system("test-push")


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _blob(repository, data: bytes) -> dict:
    registry_services.upload_blob(
        repository=repository, digest=digest_of(data), stream=io.BytesIO(data), length=len(data), actor=PUSHER
    )
    return {"digest": digest_of(data), "size": len(data)}


def push_image(repository, *, tag: str | None = "latest", seed: str = "a", layers: int = 2) -> str:
    config = json.dumps({"architecture": "amd64", "os": "linux", "seed": seed}).encode()
    config_d = _blob(repository, config)
    layer_ds = [_blob(repository, f"layer {seed} {n}".encode() * 100) for n in range(layers)]
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": mt.OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config_d},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **d} for d in layer_ds],
        }
    ).encode()
    registry_services.put_image(
        repository=repository, body=manifest, media_type=mt.OCI_MANIFEST, tag=None, digest=digest_of(manifest),
        actor=PUSHER,
    )  # fmt: skip
    if tag:
        registry_services.put_image(
            repository=repository, body=manifest, media_type=mt.OCI_MANIFEST, tag=tag, digest=None, actor=PUSHER
        )
    return digest_of(manifest)


def push_index(repository, *, tag: str = "multi", seeds=("amd", "arm")) -> tuple[str, list[str]]:
    children = []
    for seed in seeds:
        digest = push_image(repository, tag=None, seed=seed)
        body = registry_services.selectors.manifest_by_reference(repository, digest)
        children.append({"mediaType": mt.OCI_MANIFEST, "digest": digest, "size": body.size,
                         "platform": {"architecture": seed, "os": "linux"}})  # fmt: skip
    index = json.dumps({"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": children}).encode()
    registry_services.put_image(
        repository=repository, body=index, media_type=mt.OCI_INDEX, tag=tag, digest=None, actor=PUSHER
    )
    return digest_of(index), [c["digest"] for c in children]


def push_signature(repository, subject: str) -> str:
    subject_row = registry_services.selectors.manifest_by_reference(repository, subject)
    empty = _blob(repository, b"{}")
    payload = _blob(repository, b"signature of " + subject.encode())
    body = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": mt.OCI_MANIFEST,
            "artifactType": "application/vnd.dev.cosign.artifact.sig.v1+json",
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", **empty},
            "layers": [{"mediaType": "application/vnd.dev.cosign.simplesigning.v1+json", **payload}],
            "subject": {"mediaType": subject_row.media_type, "digest": subject, "size": subject_row.size},
        }
    ).encode()
    registry_services.put_image(
        repository=repository, body=body, media_type=mt.OCI_MANIFEST, tag=None, digest=digest_of(body), actor=PUSHER
    )
    return digest_of(body)


@pytest.fixture
def make_repository():
    def make(account, name: str = "team/app"):
        return repository_services.create_repository(account=account, name=name, actor=PUSHER)

    return make


def allow_replication(destination_account, source_account_id: str, *actions: str) -> None:
    """The destination's registry policy lets the source replicate (and create repositories)."""
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Replication",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{source_account_id}:root"},
                "Action": list(actions or ("ecr:ReplicateImage", "ecr:CreateRepository")),
                "Resource": f"arn:aws:ecr:*:{destination_account.pk}:repository/*",
            }
        ],
    }
    iam_services.put_registry_policy(account=destination_account, document=json.dumps(document), actor=PUSHER)


@dataclass
class FakeRemote:
    """Another deployment, as RegistryClient sees it: what it holds, what it was sent,
    and failures to inject."""

    blobs: dict[str, set[str]] = field(default_factory=dict)  # repository -> digests
    manifests: dict[tuple[str, str], tuple[bytes, str]] = field(default_factory=dict)  # (repository, ref)
    calls: list[tuple] = field(default_factory=list)
    fail_with: Exception | None = None
    fail_after: int = 0

    def _call(self, *call):
        self.calls.append(call)
        if self.fail_with is not None and len(self.calls) > self.fail_after:
            raise self.fail_with

    def head_manifest(self, repository, reference, **kwargs):
        self._call("head_manifest", repository, reference)
        held = self.manifests.get((repository, reference))
        if held is None:
            return None
        return registry_client.Descriptor(held[1], digest_of(held[0]), len(held[0]))

    def upload_blob(self, repository, digest, size, source, *, mount_from=()):
        self._call("upload_blob", repository, digest, tuple(mount_from))
        held = self.blobs.setdefault(repository, set())
        if digest in held:
            return "present"
        for other in mount_from:
            if digest in self.blobs.get(other, set()):
                held.add(digest)
                return "mounted"
        data = b"".join(source(0))
        assert digest_of(data) == digest and len(data) == size
        held.add(digest)
        return "uploaded"

    def put_manifest(self, repository, reference, body, media_type):
        self._call("put_manifest", repository, reference)
        document = json.loads(body)
        for descriptor in [document.get("config")] + document.get("layers", []):
            if descriptor:
                assert descriptor["digest"] in self.blobs.get(repository, set()), "a manifest before its blobs"
        for child in document.get("manifests", []):
            assert (repository, child["digest"]) in self.manifests, "an index before its entries"
        self.manifests[(repository, reference)] = (body, media_type)
        self.manifests[(repository, digest_of(body))] = (body, media_type)
        return digest_of(body)

    def delete_manifest(self, repository, digest):
        self._call("delete_manifest", repository, digest)
        return self.manifests.pop((repository, digest), None) is not None

    def delete_tag(self, repository, tag):
        self._call("delete_tag", repository, tag)
        return self.manifests.pop((repository, tag), None) is not None


@pytest.fixture
def remote(monkeypatch):
    fake = FakeRemote()
    monkeypatch.setattr(copying, "make_client", lambda destination: fake)
    return fake
