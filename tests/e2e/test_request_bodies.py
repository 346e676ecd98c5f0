"""Request bodies over a raw socket against `berth serve`: malformed, cut-off and
gzip-coded chunked bodies, chunks longer than their Content-Range, and early
answers to requests whose body was not read, followed by another request on the
same connection (keep-alive and pipelining), for every route that takes a body."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import time

import pytest
import requests

from .rawhttp import Connection, chunked, request

MiB = 1024 * 1024


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def account(berth):
    return berth.create_account("bodies")


@pytest.fixture(scope="module")
def name(account):
    return f"{account.account_id}/bodies"


@pytest.fixture(scope="module")
def auth(berth, account, name) -> dict[str, str]:
    challenge = requests.get(f"{berth.url}/v2/", timeout=10).headers["WWW-Authenticate"]
    realm = re.search(r'realm="([^"]+)"', challenge).group(1)
    service = re.search(r'service="([^"]+)"', challenge).group(1)
    response = requests.get(
        realm,
        params={"service": service, "scope": f"repository:{name}:pull,push"},
        auth=(account.username, account.password),
        timeout=30,
    )
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['token']}"}


def connect(berth) -> Connection:
    return Connection("127.0.0.1", berth.port)


def new_upload(berth, name: str, auth: dict, data: bytes = b"") -> str:
    """The path of a new upload session holding ``data``."""
    response = requests.post(f"{berth.url}/v2/{name}/blobs/uploads/", headers=auth, timeout=30)
    assert response.status_code == 202, response.text
    location = response.headers["Location"]
    if data:
        response = requests.patch(
            berth.url + location, data=data, timeout=30, headers={**auth, "Content-Range": f"0-{len(data) - 1}"}
        )
        assert response.status_code == 202, response.text
    return location


def upload_range(berth, location: str, auth: dict) -> str:
    response = requests.get(berth.url + location, headers=auth, timeout=30)
    assert response.status_code == 204, response.text
    return response.headers["Range"]


# ---- chunked bodies -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "framing",
    [
        pytest.param(b"4\r\nabcd\r\nzz\r\nefgh\r\n0\r\n\r\n", id="size-not-hex"),
        pytest.param(b"4\r\nabcdXY5\r\nefghi\r\n0\r\n\r\n", id="no-crlf-after-data"),
        pytest.param(b"4;=x\r\nabcd\r\n0\r\n\r\n", id="bad-extension"),
        pytest.param(b"4\r\nabcd\r\n0\r\nbad trailer\r\n\r\n", id="bad-trailer"),
    ],
)
def test_malformed_chunked_framing_is_refused_and_nothing_is_appended(berth, name, auth, framing):
    location = new_upload(berth, name, auth, b"0123456789")
    with connect(berth) as connection:
        connection.send(request("PATCH", location, body=framing, headers={**auth, "Transfer-Encoding": "chunked"}))
        response = connection.read_response()
        assert response.status == 400, response.body
        assert response.error_codes() == ["BLOB_UPLOAD_INVALID"]
        # where the next request would start is unknown
        assert response.header("Connection") == "close"
    assert upload_range(berth, location, auth) == "0-9"


def test_a_manifest_in_malformed_chunks_is_refused(berth, name, auth):
    with connect(berth) as connection:
        connection.send(
            request(
                "PUT",
                f"/v2/{name}/manifests/malformed",
                body=b"2\r\n{}\r\nzz\r\n0\r\n\r\n",
                headers={
                    **auth,
                    "Transfer-Encoding": "chunked",
                    "Content-Type": "application/vnd.oci.image.manifest.v1+json",
                },
            )
        )
        response = connection.read_response()
        assert response.status == 400, response.body
        assert response.error_codes() == ["MANIFEST_INVALID"]
    assert requests.head(f"{berth.url}/v2/{name}/manifests/malformed", headers=auth, timeout=30).status_code == 404


def test_a_chunked_body_cut_off_leaves_the_upload_unchanged(berth, name, auth):
    location = new_upload(berth, name, auth, b"0123456789")
    upload_id = location.rsplit("/", 1)[1]
    with connect(berth) as connection:
        # more than the server buffers before a thread reads the rest
        connection.send(
            request(
                "PATCH",
                location,
                body=b"%x\r\n" % MiB + b"x" * 300_000,
                headers={**auth, "Transfer-Encoding": "chunked"},
            )
        )
    # The client is gone: the server's answer is in its access log.
    deadline = time.monotonic() + 30
    while True:
        answers = re.findall(rf'"PATCH \S*{upload_id} HTTP/1.1" (\d+)', berth.log_path.read_text(errors="replace"))
        if len(answers) == 2 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert answers == ["202", "400"]
    assert upload_range(berth, location, auth) == "0-9"


def test_a_transfer_coding_other_than_chunked_is_refused(berth, name, auth):
    data = os.urandom(5000)
    coded = gzip.compress(data)
    location = new_upload(berth, name, auth, b"0123456789")
    with connect(berth) as connection:
        connection.send(
            request("PATCH", location, body=chunked(coded), headers={**auth, "Transfer-Encoding": "gzip, chunked"})
        )
        response = connection.read_response()
        assert response.status == 501, response.body
        assert response.error_codes() == ["UNSUPPORTED"]
    assert upload_range(berth, location, auth) == "0-9"
    for digest in (sha256(data), sha256(coded)):
        with connect(berth) as connection:
            connection.send(
                request(
                    "POST",
                    f"/v2/{name}/blobs/uploads/?digest={digest}",
                    body=chunked(coded),
                    headers={**auth, "Transfer-Encoding": "gzip, chunked"},
                )
            )
            assert connection.read_response().status == 501
        assert requests.head(f"{berth.url}/v2/{name}/blobs/{digest}", headers=auth, timeout=30).status_code == 404


def test_a_chunked_patch_longer_than_its_content_range_is_refused(berth, name, auth):
    location = new_upload(berth, name, auth, b"0123456789")
    with connect(berth) as connection:
        connection.send(
            request(
                "PATCH",
                location,
                body=chunked(b"a" * 10, b"b" * 10),
                headers={**auth, "Transfer-Encoding": "chunked", "Content-Range": "10-19"},
            )
        )
        response = connection.read_response()
        assert response.status == 400, response.body
        assert response.error_codes() == ["SIZE_INVALID"]
    assert upload_range(berth, location, auth) == "0-9"
    with connect(berth) as connection:
        connection.send(
            request(
                "PATCH",
                location,
                body=chunked(b"a" * 4, b"b" * 6),
                headers={**auth, "Transfer-Encoding": "chunked", "Content-Range": "10-19"},
            )
        )
        assert connection.read_response().status == 202
    assert upload_range(berth, location, auth) == "0-19"


def test_a_manifest_longer_than_what_arrives_with_its_head_is_read_whole(berth, name, auth):
    config = b'{"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}'
    response = requests.post(
        f"{berth.url}/v2/{name}/blobs/uploads/?digest={sha256(config)}", data=config, headers=auth, timeout=30
    )
    assert response.status_code == 201, response.text
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": sha256(config),
                "size": len(config),
            },
            "layers": [],
            "annotations": {f"note.{i}": "x" * 1000 for i in range(300)},
        }
    ).encode()
    with connect(berth) as connection:
        connection.send(
            request(
                "PUT",
                f"/v2/{name}/manifests/large",
                body=manifest,
                headers={**auth, "Content-Type": "application/vnd.oci.image.manifest.v1+json"},
            )
        )
        response = connection.read_response()
        assert response.status == 201, response.body
        assert response.header("Docker-Content-Digest") == sha256(manifest)


# ---- early answers, then the next request on the same connection ------------------------


def early_answers(name: str, auth: dict, location: str) -> dict[str, tuple[bytes, int]]:
    """A request with a body that each route family answers before reading the body,
    and the status it answers with."""
    small, large = os.urandom(1000), os.urandom(300_000)
    manifest = json.dumps({"schemaVersion": 2, "layers": [], "annotations": {"pad": "x" * 2000}}).encode()
    json_body = json.dumps({"repositoryName": "x" * 500}).encode()
    form = b"username=someone&password=" + b"p" * 500
    out_of_order = {**auth, "Content-Range": "5000-5999"}
    return {
        "upload PATCH out of order": (request("PATCH", location, body=small, headers=out_of_order), 416),
        "upload PATCH out of order, larger than buffered": (
            request("PATCH", location, body=large, headers={**auth, "Content-Range": f"5000-{5000 + len(large) - 1}"}),
            416,
        ),
        "upload PATCH out of order, chunked": (
            request(
                "PATCH", location, body=chunked(small, large), headers={**out_of_order, "Transfer-Encoding": "chunked"}
            ),
            416,
        ),
        "upload POST with a malformed digest": (
            request("POST", f"/v2/{name}/blobs/uploads/?digest=sha256:nothex", body=large, headers=auth),
            400,
        ),
        "upload PUT without a digest": (request("PUT", location, body=small, headers=auth), 400),
        "manifest PUT without a token": (
            request(
                "PUT",
                f"/v2/{name}/manifests/latest",
                body=manifest,
                headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"},
            ),
            401,
        ),
        "token POST that is not a form": (
            request("POST", "/token", body=json_body, headers={"Content-Type": "application/json"}),
            400,
        ),
        "API POST without credentials": (
            request("POST", "/api/v1/repositories", body=json_body, headers={"Content-Type": "application/json"}),
            401,
        ),
        "API PUT without credentials": (
            request(
                "PUT",
                f"/api/v1/repositories/{name}/-/image-tag-mutability",
                body=json_body,
                headers={"Content-Type": "application/json"},
            ),
            401,
        ),
        "API PATCH without credentials": (
            request(
                "PATCH",
                f"/api/v1/repositories/{name}/-/catalog-data",
                body=json_body,
                headers={"Content-Type": "application/json"},
            ),
            401,
        ),
        "sign-in form without its CSRF cookie": (
            request(
                "POST", "/accounts/login", body=form, headers={"Content-Type": "application/x-www-form-urlencoded"}
            ),
            403,
        ),
        "sign-up form without its CSRF cookie": (
            request(
                "POST", "/accounts/signup", body=form, headers={"Content-Type": "application/x-www-form-urlencoded"}
            ),
            403,
        ),
    }


FAMILIES = list(early_answers("n", {}, "/l"))
NEXT = request("GET", "/v2/")


def assert_next_answered(response) -> None:
    """The answer to NEXT: the registry's challenge, not a 400 for a broken request line."""
    assert response.status == 401, response.body
    assert response.error_codes() == ["UNAUTHORIZED"]


@pytest.mark.parametrize("family", FAMILIES)
def test_an_early_answer_keeps_the_connection_usable(berth, name, auth, family):
    location = new_upload(berth, name, auth)
    first, status = early_answers(name, auth, location)[family]
    with connect(berth) as connection:
        connection.send(first)
        response = connection.read_response()
        assert response.status == status, response.body
        assert response.header("Connection") != "close"
        connection.send(NEXT)
        assert_next_answered(connection.read_response())


@pytest.mark.parametrize("family", FAMILIES)
def test_an_early_answer_to_a_pipelined_request(berth, name, auth, family):
    location = new_upload(berth, name, auth)
    first, status = early_answers(name, auth, location)[family]
    with connect(berth) as connection:
        connection.send(first + NEXT)
        assert connection.read_response().status == status
        assert_next_answered(connection.read_response())


def test_an_early_answer_to_a_huge_body_closes_the_connection(berth, name, auth):
    location = new_upload(berth, name, auth)
    body_length = 64 * MiB
    with connect(berth) as connection:
        # the head and the body's start; a client reading the answer then stops sending
        connection.send(
            request(
                "PATCH",
                location,
                body=os.urandom(256 * 1024),
                headers={**auth, "Content-Range": f"5000-{5000 + body_length - 1}", "Content-Length": str(body_length)},
            )
        )
        response = connection.read_response()
        assert response.status == 416
        assert response.header("Connection") == "close"
        assert connection.closed_by_server()
