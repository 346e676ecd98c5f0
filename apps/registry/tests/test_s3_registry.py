"""The distribution API end to end with blobs in S3 (moto)."""

from __future__ import annotations

import hashlib
import os

import pytest

from apps.registry.storage import get_blob_store

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(tenant, registry_client, s3_settings):
    return registry_client(tenant)


@pytest.fixture
def repo(tenant):
    return f"{tenant.id}/app"


def object_keys(bucket: str) -> set[str]:
    store = get_blob_store()
    listing = store._client.list_objects_v2(Bucket=bucket)
    return {o["Key"] for o in listing.get("Contents", [])}


def test_push_then_pull_through_presigned_redirect(alice, repo, s3_settings, settings, http):
    manifest_digest, manifest = alice.push_image(repo, "v1", layers=2)
    digests = [manifest["config"]["digest"]] + [layer["digest"] for layer in manifest["layers"]]
    assert object_keys(s3_settings) == {f"blobs/sha256/{d[7:9]}/{d[7:]}" for d in digests}

    token = alice.token(f"repository:{repo}:pull")
    response = alice.request(
        "GET", f"/v2/{repo}/manifests/v1", token=token, headers={"Accept": "application/vnd.oci.image.manifest.v1+json"}
    )
    assert response.status_code == 200
    assert response["Docker-Content-Digest"] == manifest_digest
    for layer in manifest["layers"]:
        response = alice.request("GET", f"/v2/{repo}/blobs/{layer['digest']}", token=token)
        assert response.status_code == 307
        assert response["Docker-Content-Digest"] == layer["digest"]
        assert response["Location"].startswith(f"{settings.AWS_S3_ENDPOINT_URL}/{s3_settings}/blobs/")
        fetched = http.get(response["Location"], timeout=10)
        assert fetched.status_code == 200
        assert "sha256:" + hashlib.sha256(fetched.content).hexdigest() == layer["digest"]
        assert len(fetched.content) == layer["size"]


def test_pull_streams_without_redirect_and_serves_ranges(alice, repo, settings):
    settings.BERTH_S3_REDIRECT = False
    get_blob_store.cache_clear()
    data = os.urandom(300_000)
    digest = alice.push_blob(repo, data)
    token = alice.token(f"repository:{repo}:pull")

    response = alice.request("GET", f"/v2/{repo}/blobs/{digest}", token=token)
    assert response.status_code == 200
    assert response["Content-Length"] == str(len(data))
    assert b"".join(response.streaming_content) == data

    response = alice.request("GET", f"/v2/{repo}/blobs/{digest}", token=token, headers={"Range": "bytes=1000-199999"})
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes 1000-199999/{len(data)}"
    assert response["Content-Length"] == str(199_000)
    assert b"".join(response.streaming_content) == data[1000:200_000]

    response = alice.request("GET", f"/v2/{repo}/blobs/{digest}", token=token, headers={"Range": "bytes=-10"})
    assert response.status_code == 206
    assert b"".join(response.streaming_content) == data[-10:]


def test_range_request_is_served_even_with_redirects_on(alice, repo):
    data = os.urandom(5000)
    digest = alice.push_blob(repo, data)
    response = alice.request(
        "GET", f"/v2/{repo}/blobs/{digest}", scope=f"repository:{repo}:pull", headers={"Range": "bytes=4990-"}
    )
    assert response.status_code == 206
    assert b"".join(response.streaming_content) == data[4990:]


def test_empty_blob_streams(alice, repo, settings):
    settings.BERTH_S3_REDIRECT = False
    get_blob_store.cache_clear()
    digest = alice.push_blob(repo, b"")
    response = alice.request("GET", f"/v2/{repo}/blobs/{digest}", scope=f"repository:{repo}:pull")
    assert response.status_code == 200
    assert response["Content-Length"] == "0"
    assert b"".join(response.streaming_content) == b""


def test_blob_missing_from_the_bucket_is_unknown(alice, repo, settings):
    settings.BERTH_S3_REDIRECT = False
    get_blob_store.cache_clear()
    digest = alice.push_blob(repo, b"lost")
    get_blob_store().delete(digest)
    response = alice.request("GET", f"/v2/{repo}/blobs/{digest}", scope=f"repository:{repo}:pull")
    assert response.status_code == 404
    assert b"BLOB_UNKNOWN" in response.content
