"""A full disk (or quota, or database) mid-push: the client gets the registry's
JSON error (507, code UNKNOWN) or the API's, the upload keeps what it held or
goes, and no blob is linked whose bytes did not all land."""

from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import sqlite3

import psycopg
import pytest
from boto3.exceptions import S3UploadFailedError
from botocore.exceptions import ClientError
from django.db import OperationalError

from apps.registry import services
from apps.registry.exceptions import StorageFull
from apps.registry.models import Blob, Manifest, RepositoryBlob, Upload
from apps.registry.storage import filesystem, get_blob_store, uploads
from apps.registry.storage.space import out_of_space

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
KiB = 1024


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def no_space() -> OSError:
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def sqlite_full_error() -> sqlite3.OperationalError:
    """A real SQLITE_FULL, from a database that may not grow."""
    database = sqlite3.connect(":memory:")
    try:
        database.execute("CREATE TABLE t (x BLOB)")
        database.execute(f"PRAGMA max_page_count = {database.execute('PRAGMA page_count').fetchone()[0]}")
        database.execute("INSERT INTO t VALUES (zeroblob(100000))")
    except sqlite3.OperationalError as exc:
        return exc
    finally:
        database.close()
    raise AssertionError("the database grew past its page limit")


def database_full() -> OperationalError:
    """What Django raises when the database's disk is full: its OperationalError
    raised from the driver's."""
    try:
        raise OperationalError("database or disk is full") from sqlite_full_error()
    except OperationalError as exc:
        return exc


# -- knowing a full store when we see one ---------------------------------------------------


def s3_error(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "full"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "UploadPart"
    )


def raised_while_handling(cause: BaseException, exc: BaseException) -> BaseException:
    try:
        try:
            raise cause
        except type(cause):
            raise exc  # noqa: B904 - boto3 raises S3UploadFailedError this way, chaining only implicitly
    except type(exc) as raised:
        return raised


@pytest.mark.parametrize(
    "exc, full",
    [
        (no_space(), True),
        (OSError(errno.EDQUOT, "Disk quota exceeded"), True),
        (OSError(errno.EIO, "Input/output error"), False),
        (sqlite_full_error(), True),
        (database_full(), True),
        (OperationalError("database is locked"), False),
        (psycopg.errors.DiskFull("could not extend file: No space left on device"), True),
        (psycopg.errors.UniqueViolation("duplicate key"), False),
        (s3_error("XMinioStorageFull", 507), True),
        (s3_error("QuotaExceeded", 403), True),
        (s3_error("AccessDenied", 403), False),
        (raised_while_handling(s3_error("XMinioStorageFull", 507), S3UploadFailedError("Failed to upload")), True),
        (StorageFull("full"), True),
        (ValueError("no"), False),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else str(value),
)
def test_out_of_space_is_recognised_from_every_store(exc, full):
    assert out_of_space(exc) is full


# -- pushes -----------------------------------------------------------------------------


class DiskThatFills:
    """``os`` for the module under test, whose write (or fsync) fails with ENOSPC
    once ``room`` bytes were written; a short write first, as a filling disk gives."""

    def __init__(self, room: int | None = None, *, fsync_fails: bool = False) -> None:
        self.room = room
        self.fsync_fails = fsync_fails

    def __getattr__(self, name):
        return getattr(os, name)

    def write(self, fd, data) -> int:
        if self.room is None:
            return os.write(fd, data)
        if self.room <= 0:
            raise no_space()
        written = os.write(fd, bytes(data[: self.room]))
        self.room -= written
        return written

    def fsync(self, fd) -> None:
        if self.fsync_fails:
            raise no_space()
        os.fsync(fd)


def assert_storage_full(response, message_start: str) -> dict:
    assert response.status_code == 507
    assert response["Content-Type"] == "application/json"
    assert response["Docker-Distribution-API-Version"] == "registry/2.0"
    [error] = json.loads(response.content)["errors"]
    assert error["code"] == "UNKNOWN"
    assert error["message"].startswith(message_start), error["message"]
    return error


@pytest.mark.django_db
def test_a_chunk_that_does_not_fit_is_refused_and_the_upload_resumes(alice, repo, monkeypatch):
    data = os.urandom(600 * KiB)
    token = alice.token(f"repository:{repo}:pull,push")
    location = alice.request("POST", f"/v2/{repo}/blobs/uploads/", token=token)["Location"]

    def patch(first: int, last: int):
        return alice.request(
            "PATCH", location, token=token, data=data[first : last + 1], headers={"Content-Range": f"{first}-{last}"}
        )

    assert patch(0, 100 * KiB - 1).status_code == 202
    disk = DiskThatFills(room=250 * KiB)  # the next chunk fails part-way through
    monkeypatch.setattr(uploads, "os", disk)
    response = patch(100 * KiB, len(data) - 1)
    assert_storage_full(
        response,
        f"the registry's upload storage is full: the chunk was not stored and the upload holds {100 * KiB} bytes",
    )
    assert response["Range"] == f"0-{100 * KiB - 1}"
    upload = Upload.objects.get()
    assert services.upload_area().size(str(upload.id)) == 100 * KiB
    response = alice.request("GET", location, token=token)
    assert response.status_code == 204
    assert response["Range"] == f"0-{100 * KiB - 1}"

    disk.room = None  # space freed
    assert patch(100 * KiB, len(data) - 1).status_code == 202
    response = alice.request("PUT", f"{location}?digest={sha256(data)}", token=token)
    assert response.status_code == 201
    response = alice.request("GET", f"/v2/{repo}/blobs/{sha256(data)}", token=token)
    assert b"".join(response.streaming_content) == data


@pytest.mark.django_db
@pytest.mark.parametrize("how", ["chunked", "monolithic"])
def test_a_blob_the_store_cannot_take_is_not_linked_and_its_upload_goes(alice, repo, monkeypatch, how):
    data = os.urandom(300 * KiB)
    digest = sha256(data)
    token = alice.token(f"repository:{repo}:pull,push")
    area = services.upload_area().root
    area.mkdir(parents=True, exist_ok=True)
    spooled_before = set(area.iterdir())
    monkeypatch.setattr(filesystem, "os", DiskThatFills(fsync_fails=True))
    if how == "chunked":
        location = alice.request("POST", f"/v2/{repo}/blobs/uploads/", token=token)["Location"]
        assert alice.request("PATCH", location, token=token, data=data).status_code == 202
        response = alice.request("PUT", f"{location}?digest={digest}", token=token)
    else:
        response = alice.request("POST", f"/v2/{repo}/blobs/uploads/?digest={digest}", token=token, data=data)
    assert_storage_full(response, f"the registry's blob storage is full: blob {digest} was not stored")

    assert not Blob.objects.exists() and not RepositoryBlob.objects.exists()
    assert not Upload.objects.exists()
    assert set(area.iterdir()) == spooled_before
    assert not get_blob_store().exists(digest)
    assert alice.request("HEAD", f"/v2/{repo}/blobs/{digest}", token=token).status_code == 404
    if how == "chunked":
        assert alice.request("GET", location, token=token).status_code == 404

    monkeypatch.setattr(filesystem, "os", os)  # space freed
    assert alice.push_blob(repo, data) == digest
    response = alice.request("GET", f"/v2/{repo}/blobs/{digest}", token=token)
    assert b"".join(response.streaming_content) == data


@pytest.mark.django_db
def test_an_upload_that_cannot_start_is_refused(alice, repo, monkeypatch):
    def create(self, upload_id):
        raise no_space()

    monkeypatch.setattr(uploads.UploadArea, "create", create)
    response = alice.request("POST", f"/v2/{repo}/blobs/uploads/", scope=f"repository:{repo}:pull,push")
    assert_storage_full(response, "the registry's storage is full; nothing was stored")
    assert not Upload.objects.exists()


@pytest.mark.django_db
def test_a_manifest_the_database_cannot_take_gets_the_envelope(alice, repo, monkeypatch):
    config = alice.push_blob(repo, b"{}")
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "layers": [],
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 2},
    }

    def create(*args, **kwargs):
        raise database_full()

    monkeypatch.setattr(Manifest.objects, "create", create)
    response = alice.push_manifest(repo, "v1", manifest)
    assert_storage_full(response, "the registry's storage is full; nothing was stored")
    monkeypatch.undo()
    assert not Manifest.objects.exists()
    assert alice.push_manifest(repo, "v1", manifest).status_code == 201


@pytest.mark.django_db
def test_put_image_the_database_cannot_take_gets_the_api_error(alice, repo, tenant, api_client, monkeypatch):
    config = alice.push_blob(repo, b"{}")
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "layers": [],
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 2},
    }

    def create(*args, **kwargs):
        raise database_full()

    monkeypatch.setattr(Manifest.objects, "create", create)
    response = api_client(tenant).post(
        "/api/v1/repositories/app/-/images",
        {
            "imageManifest": json.dumps(manifest),
            "imageManifestMediaType": OCI_MANIFEST,
            "imageTag": "v1",
        },
        format="json",
    )
    assert response.status_code == 507
    assert response.json() == {
        "code": "insufficient_storage",
        "detail": "the registry's storage is full; nothing was stored, try again once space is freed",
    }
    assert not Manifest.objects.exists()


def test_a_short_write_then_no_space_leaves_the_area_as_it_was(tmp_path, monkeypatch):
    area = uploads.UploadArea(tmp_path)
    area.create("u1")
    area.append("u1", io.BytesIO(b"kept"), offset=0, length=4)
    monkeypatch.setattr(uploads, "os", DiskThatFills(room=3))
    with pytest.raises(OSError) as raised:
        area.append("u1", io.BytesIO(b"lost bytes"), offset=4, length=10)
    assert raised.value.errno == errno.ENOSPC
    assert (tmp_path / "u1").read_bytes() == b"kept"
