"""The distribution API over Django's test client: every endpoint and error code."""

from __future__ import annotations

import hashlib
import json
import os

import pytest

from apps.audit.events import Actor
from apps.registry.models import Blob, Manifest, Tag, TagHistory, Upload
from apps.repositories.models import Repository

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
# What current clients send; without an Accept header a pull is Docker <= 1.9's (schema 1).
MODERN = {
    "Accept": f"{OCI_MANIFEST}, {OCI_INDEX}, application/vnd.docker.distribution.manifest.v2+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json"
}

pytestmark = pytest.mark.django_db


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def error_codes(response) -> list[str]:
    return [e["code"] for e in json.loads(response.content)["errors"]]


# -- base and auth ------------------------------------------------------------------


def test_base_challenges_then_accepts_token(alice):
    response = alice.request("GET", "/v2/")
    assert response.status_code == 401
    challenge = response["WWW-Authenticate"]
    assert challenge.startswith('Bearer realm="http://testserver/token"')
    assert 'service="berth-registry"' in challenge
    assert response["Docker-Distribution-API-Version"] == "registry/2.0"
    assert error_codes(response) == ["UNAUTHORIZED"]
    response = alice.request("GET", "/v2/", token=alice.token())
    assert response.status_code == 200


def test_garbage_token_is_rejected(alice):
    response = alice.request("GET", "/v2/", token="not.a.jwt")
    assert response.status_code == 401
    assert 'error="invalid_token"' in response["WWW-Authenticate"]


def test_token_response_shape(alice, repo):
    response = alice.client.get(
        f"/token?service=berth-registry&scope=repository:{repo}:pull,push",
        HTTP_AUTHORIZATION="Basic "
        + __import__("base64").b64encode(f"{alice.credentials[0]}:{alice.credentials[1]}".encode()).decode(),
    )
    body = response.json()
    assert set(body) >= {"token", "access_token", "expires_in", "issued_at"}
    assert body["token"] == body["access_token"]
    import jwt

    claims = jwt.decode(body["token"], options={"verify_signature": False})
    assert claims["access"] == [{"type": "repository", "name": repo, "actions": ["pull", "push"]}]
    assert claims["aud"] == "berth-registry"


def test_wrong_password_is_refused_and_throttled(tenant, registry_client, settings):
    settings.BERTH_LOGIN_FAILURES_ALLOWED = 3
    client = registry_client(tenant, password="wrong")
    auth = "Basic " + __import__("base64").b64encode(f"{tenant.username}:wrong".encode()).decode()
    for _ in range(3):
        response = client.client.get("/token?service=berth-registry", HTTP_AUTHORIZATION=auth)
        assert response.status_code == 401
        assert error_codes(response) == ["UNAUTHORIZED"]
    response = client.client.get("/token?service=berth-registry", HTTP_AUTHORIZATION=auth)
    assert response.status_code == 429
    assert error_codes(response) == ["TOOMANYREQUESTS"]
    assert int(response["Retry-After"]) > 0


def test_token_grants_only_what_is_allowed(tenant, other_tenant, registry_client):
    import jwt

    mallory = registry_client(other_tenant)
    token = mallory.token(f"repository:{tenant.id}/app:pull,push,delete")
    assert jwt.decode(token, options={"verify_signature": False})["access"][0]["actions"] == []
    anonymous = registry_client(None)
    token = anonymous.token(f"repository:{tenant.id}/app:pull")
    assert jwt.decode(token, options={"verify_signature": False})["access"][0]["actions"] == []


# -- uploads ------------------------------------------------------------------------


def test_monolithic_post_with_digest(alice, repo):
    data = os.urandom(5000)
    response = alice.request(
        "POST", f"/v2/{repo}/blobs/uploads/?digest={sha256(data)}", scope=f"repository:{repo}:push", data=data
    )
    assert response.status_code == 201
    assert response["Location"] == f"/v2/{repo}/blobs/{sha256(data)}"
    assert response["Docker-Content-Digest"] == sha256(data)
    assert Repository.objects.filter(account_id=repo.split("/")[0], name="app").exists()


def test_post_then_single_put(alice, repo):
    data = os.urandom(3000)
    token = alice.token(f"repository:{repo}:pull,push")
    response = alice.request("POST", f"/v2/{repo}/blobs/uploads/", token=token)
    assert response.status_code == 202
    assert response["Range"] == "0-0"
    location = response["Location"]
    assert response["Docker-Upload-UUID"] in location
    response = alice.request("PUT", f"{location}?digest={sha256(data)}", token=token, data=data)
    assert response.status_code == 201, response.content
    response = alice.request("GET", f"/v2/{repo}/blobs/{sha256(data)}", token=token)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == data


def test_chunked_upload_with_status_and_out_of_order_chunk(alice, repo):
    data = os.urandom(10_000)
    token = alice.token(f"repository:{repo}:pull,push")
    location = alice.request("POST", f"/v2/{repo}/blobs/uploads/", token=token)["Location"]
    response = alice.request("PATCH", location, token=token, data=data[:4000], headers={"Content-Range": "0-3999"})
    assert response.status_code == 202
    assert response["Range"] == "0-3999"
    # a chunk that skips ahead is refused with the current range
    response = alice.request(
        "PATCH", location, token=token, data=data[5000:6000], headers={"Content-Range": "5000-5999"}
    )
    assert response.status_code == 416
    assert response["Range"] == "0-3999"
    assert error_codes(response) == ["BLOB_UPLOAD_INVALID"]
    response = alice.request("GET", location, token=token)
    assert response.status_code == 204
    assert response["Range"] == "0-3999"
    response = alice.request("PATCH", location, token=token, data=data[4000:], headers={"Content-Range": "4000-9999"})
    assert response.status_code == 202
    response = alice.request("PUT", f"{location}?digest={sha256(data)}", token=token)
    assert response.status_code == 201
    assert Blob.objects.get(digest=sha256(data)).size == len(data)


def test_patch_without_range_appends(alice, repo):
    token = alice.token(f"repository:{repo}:pull,push")
    location = alice.request("POST", f"/v2/{repo}/blobs/uploads/", token=token)["Location"]
    alice.request("PATCH", location, token=token, data=b"abc")
    alice.request("PATCH", location, token=token, data=b"def")
    response = alice.request("PUT", f"{location}?digest={sha256(b'abcdef')}", token=token)
    assert response.status_code == 201


def test_wrong_digest_keeps_nothing(alice, repo):
    data = b"some bytes"
    wrong = sha256(b"other bytes")
    response = alice.request(
        "POST", f"/v2/{repo}/blobs/uploads/?digest={wrong}", scope=f"repository:{repo}:push", data=data
    )
    assert response.status_code == 400
    assert error_codes(response) == ["DIGEST_INVALID"]
    assert not Blob.objects.filter(digest__in=[wrong, sha256(data)]).exists()
    assert not Upload.objects.exists()


def test_sha512_digest(alice, repo):
    data = os.urandom(100)
    digest = "sha512:" + hashlib.sha512(data).hexdigest()
    response = alice.request(
        "POST", f"/v2/{repo}/blobs/uploads/?digest={digest}", scope=f"repository:{repo}:push", data=data
    )
    assert response.status_code == 201
    response = alice.request("HEAD", f"/v2/{repo}/blobs/{digest}", scope=f"repository:{repo}:pull")
    assert response.status_code == 200
    assert response["Content-Length"] == "100"


def test_malformed_digest(alice, repo):
    response = alice.request(
        "POST", f"/v2/{repo}/blobs/uploads/?digest=sha256:xyz", scope=f"repository:{repo}:push", data=b"x"
    )
    assert response.status_code == 400
    assert error_codes(response) == ["DIGEST_INVALID"]


def test_cancel_upload(alice, repo):
    token = alice.token(f"repository:{repo}:pull,push")
    location = alice.request("POST", f"/v2/{repo}/blobs/uploads/", token=token)["Location"]
    assert alice.request("DELETE", location, token=token).status_code == 204
    response = alice.request("GET", location, token=token)
    assert response.status_code == 404
    assert error_codes(response) == ["BLOB_UPLOAD_UNKNOWN"]


def test_unknown_upload_id(alice, repo):
    token = alice.token(f"repository:{repo}:pull,push")
    alice.request("POST", f"/v2/{repo}/blobs/uploads/", token=token)
    for upload_id in ("not-a-uuid", "6f1c0f5e-1a7b-4d7e-9a57-3ad0b2f3c111"):
        response = alice.request("PATCH", f"/v2/{repo}/blobs/uploads/{upload_id}", token=token, data=b"x")
        assert response.status_code == 404
        assert error_codes(response) == ["BLOB_UPLOAD_UNKNOWN"]


def test_put_without_digest(alice, repo):
    token = alice.token(f"repository:{repo}:pull,push")
    location = alice.request("POST", f"/v2/{repo}/blobs/uploads/", token=token)["Location"]
    response = alice.request("PUT", location, token=token, data=b"abc")
    assert response.status_code == 400
    assert error_codes(response) == ["DIGEST_INVALID"]


def test_content_length_must_match_content_range(alice, repo):
    token = alice.token(f"repository:{repo}:pull,push")
    location = alice.request("POST", f"/v2/{repo}/blobs/uploads/", token=token)["Location"]
    response = alice.request("PATCH", location, token=token, data=b"abc", headers={"Content-Range": "0-9"})
    assert response.status_code == 400
    assert error_codes(response) == ["SIZE_INVALID"]


def test_cross_repository_mount(alice, tenant, repo):
    digest = alice.push_blob(repo, b"shared layer")
    target = f"{tenant.id}/other"
    token = alice.token(f"repository:{target}:pull,push", f"repository:{repo}:pull")
    response = alice.request("POST", f"/v2/{target}/blobs/uploads/?mount={digest}&from={repo}", token=token)
    assert response.status_code == 201
    assert response["Docker-Content-Digest"] == digest
    assert alice.request("HEAD", f"/v2/{target}/blobs/{digest}", token=token).status_code == 200


def test_mount_from_foreign_private_repository_falls_back_to_upload(alice, repo, other_tenant, registry_client):
    digest = alice.push_blob(repo, b"secret layer")
    mallory = registry_client(other_tenant)
    target = f"{other_tenant.id}/loot"
    token = mallory.token(f"repository:{target}:pull,push", f"repository:{repo}:pull")
    response = mallory.request("POST", f"/v2/{target}/blobs/uploads/?mount={digest}&from={repo}", token=token)
    assert response.status_code == 202
    assert mallory.request("HEAD", f"/v2/{target}/blobs/{digest}", token=token).status_code == 404


# -- blobs --------------------------------------------------------------------------


def test_blob_head_get_and_ranges(alice, repo):
    data = bytes(range(256)) * 4
    digest = alice.push_blob(repo, data)
    token = alice.token(f"repository:{repo}:pull")
    response = alice.request("HEAD", f"/v2/{repo}/blobs/{digest}", token=token)
    assert response.status_code == 200
    assert response["Content-Length"] == str(len(data))
    assert response["Docker-Content-Digest"] == digest
    response = alice.request("GET", f"/v2/{repo}/blobs/{digest}", token=token, headers={"Range": "bytes=10-19"})
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes 10-19/{len(data)}"
    assert response["Content-Length"] == "10"
    assert b"".join(response.streaming_content) == data[10:20]
    response = alice.request("GET", f"/v2/{repo}/blobs/{digest}", token=token, headers={"Range": "bytes=-5"})
    assert b"".join(response.streaming_content) == data[-5:]
    response = alice.request("GET", f"/v2/{repo}/blobs/{digest}", token=token, headers={"Range": "bytes=1000-"})
    assert b"".join(response.streaming_content) == data[1000:]
    response = alice.request("GET", f"/v2/{repo}/blobs/{digest}", token=token, headers={"Range": f"bytes={len(data)}-"})
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{len(data)}"


def test_blob_unknown_and_delete(alice, repo):
    digest = alice.push_blob(repo, b"to delete")
    token = alice.token(f"repository:{repo}:pull,delete")
    missing = sha256(b"never pushed")
    response = alice.request("GET", f"/v2/{repo}/blobs/{missing}", token=token)
    assert response.status_code == 404
    assert error_codes(response) == ["BLOB_UNKNOWN"]
    response = alice.request("HEAD", f"/v2/{repo}/blobs/{missing}", token=token)
    assert response.status_code == 404
    assert response.content == b""
    assert alice.request("DELETE", f"/v2/{repo}/blobs/{digest}", token=token).status_code == 202
    assert alice.request("HEAD", f"/v2/{repo}/blobs/{digest}", token=token).status_code == 404
    assert alice.request("DELETE", f"/v2/{repo}/blobs/{digest}", token=token).status_code == 404


# -- manifests ----------------------------------------------------------------------


def test_manifest_push_and_pull_by_tag_and_digest(alice, repo):
    digest, manifest = alice.push_image(repo, "v1", layers=2)
    body = json.dumps(manifest).encode()
    assert digest == sha256(body)
    token = alice.token(f"repository:{repo}:pull")
    for reference in ("v1", digest):
        response = alice.request(
            "GET", f"/v2/{repo}/manifests/{reference}", token=token, headers={"Accept": f"{OCI_MANIFEST}, {OCI_INDEX}"}
        )
        assert response.status_code == 200
        assert response.content == body
        assert response["Content-Type"] == OCI_MANIFEST
        assert response["Docker-Content-Digest"] == digest
        assert response["Content-Length"] == str(len(body))
        head = alice.request("HEAD", f"/v2/{repo}/manifests/{reference}", token=token, headers=MODERN)
        assert head.status_code == 200
        assert head.content == b""
        assert head["Content-Length"] == str(len(body))
        assert head["Docker-Content-Digest"] == digest


def test_manifest_records_details_after_push(alice, repo, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        digest, _ = alice.push_image(repo, "v1", layers=2)
    manifest = Manifest.objects.get(digest=digest)
    assert manifest.layer_count == 2
    assert manifest.platforms == [{"os": "linux", "architecture": "amd64"}]
    assert manifest.image_created_at.year == 2026
    assert manifest.total_size > 2048


def test_accept_negotiation_refuses_what_cannot_be_converted(alice, repo):
    config = alice.push_blob(repo, b'{"name":"chart"}')
    layer = alice.push_blob(repo, b"chart bytes")
    helm = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.cncf.helm.config.v1+json", "digest": config, "size": 16},
        "layers": [{"mediaType": "application/vnd.cncf.helm.chart.content.v1.tar+gzip", "digest": layer, "size": 11}],
    }
    assert alice.push_manifest(repo, "chart", helm).status_code == 201
    response = alice.request(
        "GET",
        f"/v2/{repo}/manifests/chart",
        scope=f"repository:{repo}:pull",
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
    )
    assert response.status_code == 404
    assert error_codes(response) == ["MANIFEST_UNKNOWN"]


def test_manifest_without_media_type_uses_content_type(alice, repo):
    config = alice.push_blob(repo, b"{}")
    manifest = {
        "schemaVersion": 2,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 2},
        "layers": [],
    }
    response = alice.push_manifest(repo, "podman", json.dumps(manifest).encode(), media_type=OCI_MANIFEST)
    assert response.status_code == 201
    response = alice.request("GET", f"/v2/{repo}/manifests/podman", scope=f"repository:{repo}:pull", headers=MODERN)
    assert response["Content-Type"] == OCI_MANIFEST


def test_manifest_errors(alice, repo):
    response = alice.push_manifest(repo, "bad", b"{not json", media_type=OCI_MANIFEST)
    assert error_codes(response) == ["MANIFEST_INVALID"]
    missing = sha256(b"missing")
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": missing, "size": 7},
        "layers": [],
    }
    response = alice.push_manifest(repo, "v1", manifest)
    assert response.status_code == 400
    assert error_codes(response) == ["MANIFEST_BLOB_UNKNOWN"]
    response = alice.push_manifest(repo, sha256(b"other"), {**manifest, "config": {**manifest["config"]}})
    assert error_codes(response) in (["DIGEST_INVALID"], ["MANIFEST_BLOB_UNKNOWN"])
    response = alice.push_manifest(repo, "bad tag!", manifest)
    assert error_codes(response) == ["TAG_INVALID"]
    response = alice.push_manifest(repo, "v1", {"schemaVersion": 2, "mediaType": "application/x-unknown"})
    assert error_codes(response) == ["MANIFEST_INVALID"]
    response = alice.request("GET", f"/v2/{repo}/manifests/nope", scope=f"repository:{repo}:pull")
    assert response.status_code == 404
    assert error_codes(response) == ["MANIFEST_UNKNOWN"]


def test_manifest_put_by_digest_must_match(alice, repo):
    config = alice.push_blob(repo, b"{}")
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 2},
            "layers": [],
        }
    ).encode()
    response = alice.push_manifest(repo, sha256(b"something else"), manifest, media_type=OCI_MANIFEST)
    assert response.status_code == 400
    assert error_codes(response) == ["DIGEST_INVALID"]
    response = alice.push_manifest(repo, sha256(manifest), manifest, media_type=OCI_MANIFEST)
    assert response.status_code == 201
    assert not Tag.objects.exists()


def test_manifest_size_limit(alice, repo, settings):
    settings.BERTH_MAX_MANIFEST_BYTES = 1000
    response = alice.push_manifest(repo, "big", b" " * 1001, media_type=OCI_MANIFEST)
    assert response.status_code == 413
    assert error_codes(response) == ["SIZE_INVALID"]


def test_index_requires_its_manifests(alice, repo):
    amd, amd_manifest = alice.push_image(repo, "amd64")
    missing = sha256(b"arm manifest never pushed")
    index = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            {
                "mediaType": OCI_MANIFEST,
                "digest": amd,
                "size": len(json.dumps(amd_manifest)),
                "platform": {"architecture": "amd64", "os": "linux"},
            },
            {
                "mediaType": OCI_MANIFEST,
                "digest": missing,
                "size": 10,
                "platform": {"architecture": "arm64", "os": "linux"},
            },
        ],
    }
    response = alice.push_manifest(repo, "multi", index)
    assert error_codes(response) == ["MANIFEST_BLOB_UNKNOWN"]
    index["manifests"].pop()
    response = alice.push_manifest(repo, "multi", index)
    assert response.status_code == 201
    # a manifest an index references cannot be deleted from under it
    response = alice.request("DELETE", f"/v2/{repo}/manifests/{amd}", scope=f"repository:{repo}:delete")
    assert response.status_code == 409


def test_tag_move_is_recorded(alice, repo):
    first, _ = alice.push_image(repo, "latest", seed=b"1")
    second, _ = alice.push_image(repo, "latest", seed=b"2")
    history = list(TagHistory.objects.filter(tag="latest").order_by("id").values_list("old_digest", "new_digest"))
    assert history == [("", first), (first, second)]


def test_delete_manifest_and_tag(alice, repo):
    digest, _ = alice.push_image(repo, "v1")
    alice.push_image(repo, "v2", seed=b"x")
    token = alice.token(f"repository:{repo}:pull,delete")
    assert alice.request("DELETE", f"/v2/{repo}/manifests/v2", token=token).status_code == 202
    assert alice.request("GET", f"/v2/{repo}/manifests/v2", token=token).status_code == 404
    assert alice.request("DELETE", f"/v2/{repo}/manifests/{digest}", token=token).status_code == 202
    assert alice.request("GET", f"/v2/{repo}/manifests/{digest}", token=token).status_code == 404
    assert alice.request("GET", f"/v2/{repo}/manifests/v1", token=token).status_code == 404
    response = alice.request("DELETE", f"/v2/{repo}/manifests/{digest}", token=token)
    assert error_codes(response) == ["MANIFEST_UNKNOWN"]


# -- referrers ----------------------------------------------------------------------


def test_referrers_and_artifact_type_filter(alice, repo):
    subject, subject_manifest = alice.push_image(repo, "v1")
    empty = alice.push_blob(repo, b"{}")
    subject_descriptor = {"mediaType": OCI_MANIFEST, "digest": subject, "size": len(json.dumps(subject_manifest))}
    digests = {}
    for artifact_type in ("application/vnd.example.sbom", "application/vnd.example.signature"):
        layer = alice.push_blob(repo, artifact_type.encode())
        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": artifact_type,
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2},
            "layers": [{"mediaType": "application/octet-stream", "digest": layer, "size": len(artifact_type)}],
            "subject": subject_descriptor,
            "annotations": {"org.example": artifact_type},
        }
        response = alice.push_manifest(repo, sha256(json.dumps(manifest).encode()), manifest)
        assert response.status_code == 201
        assert response["OCI-Subject"] == subject
        digests[artifact_type] = response["Docker-Content-Digest"]
    token = alice.token(f"repository:{repo}:pull")
    response = alice.request("GET", f"/v2/{repo}/referrers/{subject}", token=token)
    assert response.status_code == 200
    assert response["Content-Type"] == OCI_INDEX
    index = response.json()
    assert {m["digest"] for m in index["manifests"]} == set(digests.values())
    assert all(m["annotations"]["org.example"] == m["artifactType"] for m in index["manifests"])
    response = alice.request(
        "GET", f"/v2/{repo}/referrers/{subject}?artifactType=application/vnd.example.sbom", token=token
    )
    assert response["OCI-Filters-Applied"] == "artifactType"
    assert [m["digest"] for m in response.json()["manifests"]] == [digests["application/vnd.example.sbom"]]
    response = alice.request("GET", f"/v2/{repo}/referrers/{sha256(b'nothing')}", token=token)
    assert response.status_code == 200
    assert response.json()["manifests"] == []


# -- discovery ----------------------------------------------------------------------


def test_tags_list_pagination(alice, repo):
    digest, manifest = alice.push_image(repo, "a")
    for tag in ("c", "b", "d"):
        alice.push_manifest(repo, tag, manifest)
    token = alice.token(f"repository:{repo}:pull")
    response = alice.request("GET", f"/v2/{repo}/tags/list", token=token)
    assert response.json() == {"name": repo, "tags": ["a", "b", "c", "d"]}
    assert "Link" not in response
    response = alice.request("GET", f"/v2/{repo}/tags/list?n=2", token=token)
    assert response.json()["tags"] == ["a", "b"]
    assert response["Link"] == f'</v2/{repo}/tags/list?n=2&last=b>; rel="next"'
    response = alice.request("GET", f"/v2/{repo}/tags/list?n=2&last=b", token=token)
    assert response.json()["tags"] == ["c", "d"]
    assert "Link" not in response


def test_catalog_lists_only_visible_repositories(tenant, other_tenant, registry_client):
    from apps.repositories.services import create_repository

    alice, mallory, anonymous = registry_client(tenant), registry_client(other_tenant), registry_client(None)
    alice.push_image(f"{tenant.id}/secret", "v1")
    create_repository(actor=Actor.system("test"), account=tenant.account, name="shared", visibility="public")
    mallory.push_image(f"{other_tenant.id}/mine", "v1")

    def catalog(client, query=""):
        response = client.request("GET", f"/v2/_catalog{query}", scope="registry:catalog:*")
        assert response.status_code == 200
        return response

    assert catalog(alice).json()["repositories"] == sorted(
        [f"{tenant.id}/secret", f"{tenant.id}/shared", f"{tenant.alias}/shared"]
    )
    assert catalog(mallory).json()["repositories"] == sorted([f"{other_tenant.id}/mine", f"{tenant.alias}/shared"])
    assert catalog(anonymous).json()["repositories"] == [f"{tenant.alias}/shared"]
    page = catalog(alice, "?n=1")
    assert len(page.json()["repositories"]) == 1
    assert 'rel="next"' in page["Link"]


def test_catalog_needs_a_token(alice):
    response = alice.request("GET", "/v2/_catalog")
    assert response.status_code == 401
    assert 'scope="registry:catalog:*"' in response["WWW-Authenticate"]


# -- repositories and namespaces ----------------------------------------------------


def test_create_on_push_disabled(tenant, alice):
    tenant.account.create_on_push = False
    tenant.account.save()
    response = alice.request("POST", f"/v2/{tenant.id}/new/blobs/uploads/", scope=f"repository:{tenant.id}/new:push")
    assert response.status_code == 404
    assert error_codes(response) == ["NAME_UNKNOWN"]
    assert "create_repository" in json.loads(response.content)["errors"][0]["message"]


def test_invalid_repository_name(alice, tenant):
    name = f"{tenant.id}/Bad_Name"
    # Refused before authorization: the token service grants no scope on such a name either.
    response = alice.request("POST", f"/v2/{name}/blobs/uploads/", token=alice.token())
    assert response.status_code == 400
    assert error_codes(response) == ["NAME_INVALID"]


def test_public_repository_pulls_anonymously_through_alias(tenant, alice, registry_client):
    from apps.repositories.services import create_repository

    create_repository(actor=Actor.system("test"), account=tenant.account, name="tools/cli", visibility="public")
    digest, _ = alice.push_image(f"{tenant.id}/tools/cli", "1.0")
    anonymous = registry_client(None)
    name = f"{tenant.alias}/tools/cli"
    token = anonymous.token(f"repository:{name}:pull,push")
    response = anonymous.request("GET", f"/v2/{name}/manifests/1.0", token=token, headers=MODERN)
    assert response.status_code == 200
    assert response["Docker-Content-Digest"] == digest
    response = anonymous.request("POST", f"/v2/{name}/blobs/uploads/", token=token)
    assert response.status_code == 401


def test_unknown_endpoint_and_method(alice, repo):
    response = alice.request("GET", "/v2/nothing-here")
    assert response.status_code == 404
    response = alice.request("POST", f"/v2/{repo}/tags/list", scope=f"repository:{repo}:pull")
    assert response.status_code == 405
    assert error_codes(response) == ["UNSUPPORTED"]
