"""Request bodies over Django's test client: transfer codings, and a chunked PATCH
longer than its Content-Range. (Under the test client a chunked body arrives
already decoded, as gunicorn hands it over, but cannot be read past its end;
malformed framing, exact lengths and keep-alive are tested against a live
server, tests/e2e/test_request_bodies.py.)"""

from __future__ import annotations

import gzip
import hashlib
import json

import pytest

from apps.registry.models import Blob

pytestmark = pytest.mark.django_db


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def error_codes(response) -> list[str]:
    return [e["code"] for e in json.loads(response.content)["errors"]]


@pytest.fixture
def token(alice, repo):
    return alice.token(f"repository:{repo}:pull,push")


@pytest.fixture
def location(alice, repo, token):
    location = alice.request("POST", f"/v2/{repo}/blobs/uploads/", token=token)["Location"]
    response = alice.request("PATCH", location, token=token, data=b"0123456789", headers={"Content-Range": "0-9"})
    assert response.status_code == 202
    return location


@pytest.mark.parametrize("codings", ["gzip, chunked", "deflate, chunked", "gzip", "identity, chunked"])
def test_a_transfer_coding_other_than_chunked_is_refused(alice, repo, token, location, codings):
    data = gzip.compress(b"layer bytes" * 100)
    response = alice.request("PATCH", location, token=token, data=data, headers={"Transfer-Encoding": codings})
    assert response.status_code == 501
    assert error_codes(response) == ["UNSUPPORTED"]
    assert alice.request("GET", location, token=token)["Range"] == "0-9"
    response = alice.request(
        "POST",
        f"/v2/{repo}/blobs/uploads/?digest={sha256(data)}",
        token=token,
        data=data,
        headers={"Transfer-Encoding": codings},
    )
    assert response.status_code == 501
    response = alice.request(
        "PUT",
        f"/v2/{repo}/manifests/latest",
        token=token,
        data=b"{}",
        content_type="application/vnd.oci.image.manifest.v1+json",
        headers={"Transfer-Encoding": codings},
    )
    assert response.status_code == 501
    assert not Blob.objects.filter(digest=sha256(data)).exists()


def test_a_chunked_patch_longer_than_its_content_range_is_refused(alice, token, location):
    response = alice.request(
        "PATCH",
        location,
        token=token,
        data=b"a" * 20,
        headers={"Transfer-Encoding": "chunked", "Content-Range": "10-19"},
    )
    assert response.status_code == 400
    assert error_codes(response) == ["SIZE_INVALID"]
    assert alice.request("GET", location, token=token)["Range"] == "0-9"
