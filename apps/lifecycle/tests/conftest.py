from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.registry.models import Manifest
from apps.repositories.models import Repository

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


class Shelf:
    """A repository whose push and pull times the test sets: ``push`` pushes an
    image and dates it ``days`` ago; ``index`` and ``referrer`` push the others."""

    def __init__(self, client, name: str, tenant) -> None:
        self.client = client
        self.name = name
        self.tenant = tenant
        self.now = timezone.now()

    @property
    def repository(self) -> Repository:
        return Repository.objects.get(account=self.tenant.account, name=self.name.split("/", 1)[1])

    def date(self, digest: str, days: float, pulled_days: float | None = None) -> None:
        Manifest.objects.filter(digest=digest, repository__name=self.name.split("/", 1)[1]).update(
            created_at=self.now - timedelta(days=days),
            last_pulled_at=None if pulled_days is None else self.now - timedelta(days=pulled_days),
        )

    def push(self, reference: str, days: float, *, pulled_days: float | None = None, seed: str = "") -> str:
        digest, self.last_manifest = self.client.push_image(self.name, reference, seed=(seed or reference).encode())
        self.date(digest, days, pulled_days)
        return digest

    def untag(self, tag: str) -> None:
        response = self.client.request(
            "DELETE", f"/v2/{self.name}/manifests/{tag}", scope=f"repository:{self.name}:pull,push,delete"
        )
        assert response.status_code == 202, response.content

    def index(self, reference: str, days: float, children: list[str]) -> str:
        entries = []
        for child in children:
            body = Manifest.objects.get(digest=child, repository__name=self.name.split("/", 1)[1]).content
            entries.append(
                {
                    "mediaType": OCI_MANIFEST,
                    "digest": child,
                    "size": len(bytes(body)),
                    "platform": {"architecture": "amd64", "os": "linux"},
                }
            )
        index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}
        response = self.client.push_manifest(self.name, reference, index)
        assert response.status_code == 201, response.content
        digest = response["Docker-Content-Digest"]
        self.date(digest, days)
        return digest

    def referrer(self, subject: str, days: float, kind: str = "signature") -> str:
        body = bytes(Manifest.objects.get(digest=subject, repository__name=self.name.split("/", 1)[1]).content)
        media_type = json.loads(body).get("mediaType", OCI_MANIFEST)
        empty = self.client.push_blob(self.name, b"{}")
        layer = self.client.push_blob(self.name, kind.encode() + subject.encode())
        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": f"application/vnd.example.{kind}",
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2},
            "layers": [{"mediaType": "application/octet-stream", "digest": layer, "size": len(kind) + len(subject)}],
            "subject": {"mediaType": media_type, "digest": subject, "size": len(body)},
        }
        digest = "sha256:" + hashlib.sha256(json.dumps(manifest).encode()).hexdigest()
        response = self.client.push_manifest(self.name, digest, manifest)
        assert response.status_code == 201, response.content
        self.date(digest, days)
        return digest


@pytest.fixture
def shelf(tenant, registry_client) -> Shelf:
    return Shelf(registry_client(tenant), f"{tenant.id}/app", tenant)
