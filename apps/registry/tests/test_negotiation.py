"""What a manifest pull gets: stored bytes, Docker ⇄ OCI conversions, an index's
default platform, schema 1 for old Docker engines, and the referrers tag scheme."""

from __future__ import annotations

import base64
import hashlib
import json
import os

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from apps.registry.content import media_types as mt
from apps.registry.content import schema1
from apps.registry.models import ManifestConversion

pytestmark = pytest.mark.django_db

DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
MODERN = ", ".join(sorted(mt.MANIFEST_TYPES))


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def error_codes(response) -> list[str]:
    return [e["code"] for e in json.loads(response.content)["errors"]]


@pytest.fixture
def repo(tenant):
    return f"{tenant.id}/formats"


def push_docker_image(client, repo, tag, *, architecture="amd64", empty_layers=True):
    layers = [os.urandom(300) for _ in range(2)]
    layer_descriptors = [
        {"mediaType": DOCKER_LAYER, "digest": client.push_blob(repo, data), "size": len(data)} for data in layers
    ]
    history = [{"created": "2024-01-01T00:00:00Z", "created_by": "/bin/sh -c #(nop) ADD file:abc in /"}]
    if empty_layers:
        history.append(
            {"created": "2024-01-01T00:00:01Z", "created_by": "/bin/sh -c #(nop) ENV A=b", "empty_layer": True}
        )
    history.append({"created": "2024-01-01T00:00:02Z", "created_by": "/bin/sh -c apt-get install -y curl"})
    if empty_layers:
        history.append(
            {"created": "2024-01-01T00:00:03Z", "created_by": '/bin/sh -c #(nop)  CMD ["sh"]', "empty_layer": True}
        )
    config = json.dumps(
        {
            "architecture": architecture,
            "os": "linux",
            "created": "2024-01-01T00:00:03Z",
            "config": {"Cmd": ["sh"], "Env": ["A=b"]},
            "history": history,
            "rootfs": {"type": "layers", "diff_ids": [sha256(d) for d in layers]},
        }
    ).encode()
    manifest = {
        "schemaVersion": 2,
        "mediaType": mt.DOCKER_MANIFEST,
        "config": {"mediaType": mt.DOCKER_CONFIG, "digest": client.push_blob(repo, config), "size": len(config)},
        "layers": layer_descriptors,
    }
    body = json.dumps(manifest, indent=3).encode()
    response = client.push_manifest(repo, tag, body, media_type=mt.DOCKER_MANIFEST)
    assert response.status_code == 201, response.content
    return response["Docker-Content-Digest"], body


def get(client, repo, reference, accept=None, method="GET"):
    headers = {"Accept": accept} if accept is not None else {}
    return client.request(method, f"/v2/{repo}/manifests/{reference}", scope=f"repository:{repo}:pull", headers=headers)


def test_client_accepting_the_stored_type_gets_the_stored_bytes(alice, repo):
    digest, body = push_docker_image(alice, repo, "v1")
    response = get(alice, repo, "v1", MODERN)
    assert response.content == body
    assert response["Docker-Content-Digest"] == digest


def test_oci_only_client_gets_a_stable_converted_manifest(alice, repo):
    digest, body = push_docker_image(alice, repo, "v1")
    first = get(alice, repo, "v1", f"{mt.OCI_MANIFEST}, {mt.OCI_INDEX}")
    assert first.status_code == 200
    assert first["Content-Type"] == mt.OCI_MANIFEST
    converted = json.loads(first.content)
    assert converted["config"]["mediaType"] == mt.OCI_CONFIG
    assert {layer["mediaType"] for layer in converted["layers"]} == {OCI_LAYER}
    assert [layer["digest"] for layer in converted["layers"]] == [
        layer["digest"] for layer in json.loads(body)["layers"]
    ]
    assert first["Docker-Content-Digest"] == sha256(first.content) != digest
    second = get(alice, repo, "v1", mt.OCI_MANIFEST)
    assert second.content == first.content
    by_digest = get(alice, repo, first["Docker-Content-Digest"], MODERN)
    assert by_digest.content == first.content
    # a pull by digest is exact, whatever the Accept header says
    original = get(alice, repo, digest, mt.OCI_MANIFEST)
    assert original.content == body
    head = get(alice, repo, "v1", mt.OCI_MANIFEST, method="HEAD")
    assert head["Docker-Content-Digest"] == first["Docker-Content-Digest"]
    assert head["Content-Length"] == str(len(first.content))


def test_index_for_a_client_without_index_support_and_for_the_other_family(alice, repo):
    amd, amd_body = push_docker_image(alice, repo, "amd", architecture="amd64")
    arm, arm_body = push_docker_image(alice, repo, "arm", architecture="arm64")
    index = {
        "schemaVersion": 2,
        "mediaType": mt.DOCKER_MANIFEST_LIST,
        "manifests": [
            {
                "mediaType": mt.DOCKER_MANIFEST,
                "digest": arm,
                "size": len(arm_body),
                "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"},
            },
            {
                "mediaType": mt.DOCKER_MANIFEST,
                "digest": amd,
                "size": len(amd_body),
                "platform": {"architecture": "amd64", "os": "linux"},
            },
        ],
    }
    assert alice.push_manifest(repo, "multi", index).status_code == 201
    response = get(alice, repo, "multi", mt.DOCKER_MANIFEST)
    assert response.content == amd_body
    assert response["Docker-Content-Digest"] == amd
    oci = get(alice, repo, "multi", f"{mt.OCI_INDEX}, {mt.OCI_MANIFEST}")
    assert oci["Content-Type"] == mt.OCI_INDEX
    entries = json.loads(oci.content)["manifests"]
    assert [e["platform"]["architecture"] for e in entries] == ["arm64", "amd64"]
    for entry in entries:
        assert entry["mediaType"] == mt.OCI_MANIFEST
        child = get(alice, repo, entry["digest"], mt.OCI_MANIFEST)
        assert child.status_code == 200 and child["Content-Type"] == mt.OCI_MANIFEST
        assert sha256(child.content) == entry["digest"] and len(child.content) == entry["size"]


def test_docker_1_9_gets_a_signed_schema1_manifest(alice, repo, tenant):
    push_docker_image(alice, repo, "v1")
    for accept in (None, mt.DOCKER_SCHEMA1_SIGNED):
        response = get(alice, repo, "v1", accept)
        assert response.status_code == 200, response.content
        assert response["Content-Type"] == mt.DOCKER_SCHEMA1_SIGNED
        document = json.loads(response.content)
        assert document["name"] == repo and document["tag"] == "v1"
        assert len(document["fsLayers"]) == len(document["history"]) == 4
        assert document["fsLayers"][0]["blobSum"] == schema1.EMPTY_LAYER_DIGEST
        # verified with PyJWT, independently of the registry's own code
        signature = document["signatures"][0]
        protected = json.loads(b64url_decode(signature["protected"]))
        payload = response.content[: protected["formatLength"]] + b64url_decode(protected["formatTail"])
        signing_input = f"{signature['protected']}.{base64.urlsafe_b64encode(payload).rstrip(b'=').decode()}".encode()
        key = jwt.PyJWK(signature["header"]["jwk"], algorithm=signature["header"]["alg"])
        assert key.Algorithm.verify(signing_input, key.key, b64url_decode(signature["signature"]))
        assert response["Docker-Content-Digest"] == sha256(payload)
    by_digest = get(alice, repo, response["Docker-Content-Digest"], MODERN)
    assert by_digest.content == response.content
    token = alice.token(f"repository:{repo}:pull")
    for layer in document["fsLayers"]:
        blob = alice.request("HEAD", f"/v2/{repo}/blobs/{layer['blobSum']}", token=token)
        assert blob.status_code == 200, layer
    assert ManifestConversion.objects.filter(media_type=mt.DOCKER_SCHEMA1_SIGNED).count() == 1


def test_schema1_request_for_an_artifact_is_refused_clearly(alice, repo):
    config = alice.push_blob(repo, b'{"name":"chart"}')
    layer = alice.push_blob(repo, b"chart")
    helm = {
        "schemaVersion": 2,
        "mediaType": mt.OCI_MANIFEST,
        "config": {"mediaType": mt.HELM_CONFIG, "digest": config, "size": 16},
        "layers": [{"mediaType": "application/vnd.cncf.helm.chart.content.v1.tar+gzip", "digest": layer, "size": 5}],
    }
    assert alice.push_manifest(repo, "chart", helm).status_code == 201
    response = get(alice, repo, "chart")
    assert response.status_code == 400
    assert error_codes(response) == ["MANIFEST_INVALID"]
    assert "schema 1" in json.loads(response.content)["errors"][0]["message"]


def test_referrers_tag_scheme_answers_from_the_referrers_api(alice, repo):
    subject, body = push_docker_image(alice, repo, "v1", empty_layers=False)
    empty = alice.push_blob(repo, b"{}")
    signature = {
        "schemaVersion": 2,
        "mediaType": mt.OCI_MANIFEST,
        "artifactType": "application/vnd.dev.cosign.artifact.sig.v1+json",
        "config": {"mediaType": mt.OCI_EMPTY, "digest": empty, "size": 2},
        "layers": [{"mediaType": "application/octet-stream", "digest": alice.push_blob(repo, b"sig"), "size": 3}],
        "subject": {"mediaType": mt.DOCKER_MANIFEST, "digest": subject, "size": len(body)},
    }
    pushed = alice.push_manifest(repo, sha256(json.dumps(signature).encode()), signature)
    assert pushed.status_code == 201
    response = get(alice, repo, "sha256-" + subject.split(":")[1], mt.OCI_INDEX)
    assert response.status_code == 200
    assert response["Content-Type"] == mt.OCI_INDEX
    assert [m["digest"] for m in json.loads(response.content)["manifests"]] == [pushed["Docker-Content-Digest"]]


# -- schema 1 pushes ----------------------------------------------------------------


def schema1_manifest(client, repo, tag, *, name=None):
    layer = os.urandom(200)
    digest = client.push_blob(repo, layer)
    return {
        "schemaVersion": 1,
        "name": name or repo,
        "tag": tag,
        "architecture": "amd64",
        "fsLayers": [{"blobSum": digest}],
        "history": [
            {
                "v1Compatibility": json.dumps(
                    {"id": "a" * 64, "created": "2015-01-01T00:00:00Z", "os": "linux", "architecture": "amd64"}
                )
            }
        ],
    }


def test_signed_schema1_push_is_stored_byte_for_byte(alice, repo, django_capture_on_commit_callbacks):
    key = ec.generate_private_key(ec.SECP256R1())
    body = schema1.sign_schema1(schema1_manifest(alice, repo, "old"), key)
    with django_capture_on_commit_callbacks(execute=True):
        response = alice.push_manifest(repo, "old", body, media_type=mt.DOCKER_SCHEMA1_SIGNED)
    assert response.status_code == 201, response.content
    digest = response["Docker-Content-Digest"]
    assert digest == schema1.parse_schema1(body, mt.DOCKER_SCHEMA1_SIGNED).digest
    pulled = get(alice, repo, "old", f"{mt.DOCKER_SCHEMA1_SIGNED}, {MODERN}")
    assert pulled.content == body
    assert pulled["Docker-Content-Digest"] == digest
    assert get(alice, repo, digest).content == body
    from apps.registry.models import Manifest

    stored = Manifest.objects.get(digest=digest)
    assert stored.platforms == [{"os": "linux", "architecture": "amd64"}] and stored.layer_count == 1


def test_schema1_push_errors(alice, repo):
    key = ec.generate_private_key(ec.SECP256R1())
    body = schema1.sign_schema1(schema1_manifest(alice, repo, "v1"), key)
    tampered = body.replace(b'"amd64"', b'"arm64"', 1)
    response = alice.push_manifest(repo, "v1", tampered, media_type=mt.DOCKER_SCHEMA1_SIGNED)
    assert error_codes(response) == ["MANIFEST_UNVERIFIED"]
    response = alice.push_manifest(repo, "v2", body, media_type=mt.DOCKER_SCHEMA1_SIGNED)
    assert error_codes(response) == ["TAG_INVALID"]
    other = schema1.sign_schema1(schema1_manifest(alice, repo, "v1", name="someone/else"), key)
    response = alice.push_manifest(repo, "v1", other, media_type=mt.DOCKER_SCHEMA1_SIGNED)
    assert error_codes(response) == ["NAME_INVALID"]
    missing = schema1_manifest(alice, repo, "v1")
    missing["fsLayers"][0]["blobSum"] = sha256(b"never uploaded")
    response = alice.push_manifest(repo, "v1", json.dumps(missing).encode(), media_type=mt.DOCKER_SCHEMA1)
    assert error_codes(response) == ["MANIFEST_BLOB_UNKNOWN"]
    unsigned = json.dumps(schema1_manifest(alice, repo, "v1")).encode()
    response = alice.push_manifest(repo, "v1", unsigned, media_type=mt.DOCKER_SCHEMA1)
    assert response.status_code == 201
