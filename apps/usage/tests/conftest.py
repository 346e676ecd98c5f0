"""Images of known bytes, so that each test can say which blobs repositories share."""

from __future__ import annotations

import hashlib
import json

import pytest

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def push(client, name: str, tag: str, config: bytes, layers: list[bytes]) -> bytes:
    """Push an image of exactly these blobs; returns the manifest's bytes."""
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": client.push_blob(name, config),
            "size": len(config),
        },
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": client.push_blob(name, layer),
                "size": len(layer),
            }
            for layer in layers
        ],
    }
    body = json.dumps(manifest).encode()
    response = client.push_manifest(name, tag, body, media_type=OCI_MANIFEST)
    assert response.status_code == 201, response.content
    return body


def config_of(label: str) -> bytes:
    return json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers"}, "label": label}).encode()


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture
def shared_estate(tenant, other_tenant, registry_client):
    """tenant's `a` and `b` share the layer `common`; `b` and other_tenant's `c`
    share `wide`; each has its own config, `a` a layer of its own too.
    Returns the bytes, by name, to compute the expected figures from."""
    alice, mallory = registry_client(tenant), registry_client(other_tenant)
    common, own, wide = b"c" * 3000, b"o" * 5000, b"w" * 7000
    config_a, config_b, config_c = config_of("a"), config_of("b"), config_of("c")
    manifest_a = push(alice, f"{tenant.id}/a", "v1", config_a, [common, own])
    manifest_b = push(alice, f"{tenant.id}/b", "v1", config_b, [common, wide])
    manifest_c = push(mallory, f"{other_tenant.id}/c", "v1", config_c, [wide])
    return {
        "common": common,
        "own": own,
        "wide": wide,
        "config_a": config_a,
        "config_b": config_b,
        "config_c": config_c,
        "manifest_a": manifest_a,
        "manifest_b": manifest_b,
        "manifest_c": manifest_c,
    }
