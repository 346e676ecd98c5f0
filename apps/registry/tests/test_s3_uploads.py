"""Uploads as S3 multipart uploads (storage/s3_uploads.py) against moto's server:
chunks of any size, each possibly on another process (a fresh store object: all
that passes between them is the Upload row and the bucket), failures that must
leave an upload as it was, the digest check with and without the hash state, and
nothing left behind in the bucket."""

from __future__ import annotations

import hashlib
import io
import os
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.audit.events import Actor
from apps.registry import services
from apps.registry.exceptions import BlobUploadBusy, ChunkIncomplete, DigestMismatch
from apps.registry.models import Blob, Upload
from apps.registry.storage import get_blob_store, hash_state
from apps.registry.storage.s3_uploads import S3UploadStore, part_size
from apps.registry.storage.uploads import UploadBusy
from apps.repositories.services import create_repository

# S3 uploads are the scaled-out set-up's (PostgreSQL, Redis, S3): they run in that pass only.
pytestmark = [pytest.mark.django_db, pytest.mark.database_independent(pass_="postgres")]

MiB = 1024 * 1024
PART = 5 * MiB  # S3's minimum, which moto enforces too
PUSHER = Actor.system("replication")


@pytest.fixture
def bucket(s3_settings, settings):
    settings.BERTH_S3_UPLOAD_PART_SIZE = PART
    get_blob_store.cache_clear()
    yield s3_settings
    get_blob_store.cache_clear()


@pytest.fixture
def repository(tenant, bucket):
    return create_repository(actor=Actor.system("test"), account=tenant.account, name="s3-uploads")


def another_process() -> S3UploadStore:
    """The store a web process elsewhere would have: nothing kept in memory."""
    get_blob_store.cache_clear()
    store = services.upload_area()
    assert isinstance(store, S3UploadStore)
    return store


def client():
    return get_blob_store()._client


def keys(bucket: str, prefix: str = "") -> set[str]:
    listing = client().list_objects_v2(Bucket=bucket, Prefix=prefix)
    return {item["Key"] for item in listing.get("Contents") or []}


def multipart_uploads(bucket: str) -> list:
    return client().list_multipart_uploads(Bucket=bucket).get("Uploads") or []


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def stored(bucket: str, digest: str) -> bytes:
    return client().get_object(Bucket=bucket, Key=f"blobs/sha256/{digest[7:9]}/{digest[7:]}")["Body"].read()


def append(upload: Upload, data: bytes, offset: int | None) -> int:
    another_process()
    return services.append_to_upload(
        upload=upload, stream=io.BytesIO(data), offset=offset, length=len(data), actor=PUSHER
    )


def push(repository, data: bytes, cuts: list[int]) -> Upload:
    upload = services.start_upload(repository=repository, actor=PUSHER)
    for first, end in zip(cuts, cuts[1:]):
        assert append(upload, data[first:end], first) == end
    return upload


class ShortStream:
    """A body that ends after ``give`` of the bytes announced."""

    def __init__(self, data: bytes, give: int) -> None:
        self.data = io.BytesIO(data[:give])

    def read(self, size: int) -> bytes:
        return self.data.read(size)


def test_parts_grow_every_thousand_so_that_ten_thousand_hold_ten_times_more():
    assert [part_size(PART, n) for n in (1, 1000, 1001, 2000, 2001, 10_000)] == [
        PART,
        PART,
        2 * PART,
        2 * PART,
        3 * PART,
        10 * PART,
    ]
    assert sum(part_size(8 * MiB, n) for n in range(1, 10_001)) == 8 * MiB * 1000 * 55  # about 430 GiB


def test_the_hash_state_travels_and_a_foreign_one_is_refused():
    assert hash_state.AVAILABLE
    data = os.urandom(1000)
    hasher = hash_state.new()
    for first, end in ((0, 1), (1, 64), (64, 129), (129, 1000)):
        hasher = hash_state.restore(hash_state.export(hasher))
        hasher.update(data[first:end])
    assert hasher.hexdigest() == hashlib.sha256(data).hexdigest()
    state = hash_state.export(hasher)
    tag, _, raw = state.partition(b"\0")
    with pytest.raises(hash_state.StateRefused):
        hash_state.restore(b"cpython-312/linux/8/112\0" + raw)
    with pytest.raises(hash_state.StateRefused):
        hash_state.restore(tag + b"\0" + raw[:-8] + b"\xff" * 8)  # local and digest size out of range
    assert hash_state.export(hashlib.sha256()) is None  # OpenSSL's: cannot travel


def test_tiny_chunks_and_chunks_across_parts_complete_on_any_process(repository, bucket):
    data = os.urandom(PART + 3 * MiB + 17)
    cuts = [0, 1, 100, 3 * MiB, PART + 10, PART + 11, len(data)]
    upload = push(repository, data, cuts[:4])
    row = Upload.objects.get(pk=upload.pk)
    assert (row.size, row.parts, row.multipart_id) == (3 * MiB, [], "")  # no part yet: the bytes are the tail
    assert keys(bucket) == {row.tail_key}

    for first, end in zip(cuts[3:], cuts[4:]):
        append(upload, data[first:end], first)
    row = Upload.objects.get(pk=upload.pk)
    assert row.size == len(data)
    assert [(number, size) for number, _, size in row.parts] == [(1, PART)]
    assert len(multipart_uploads(bucket)) == 1

    digest = digest_of(data)
    another_process()
    blob = services.complete_upload(upload=upload, digest=digest, actor=PUSHER)
    assert blob.digest == digest and blob.size == len(data)
    assert stored(bucket, digest) == data
    assert keys(bucket, "uploads/") == set()
    assert multipart_uploads(bucket) == []
    head = client().head_object(Bucket=bucket, Key=f"blobs/sha256/{digest[7:9]}/{digest[7:]}")
    assert head["ContentType"] == "application/octet-stream"


def test_a_short_body_leaves_the_upload_as_it_was(repository, bucket):
    data = os.urandom(PART + 2 * MiB)
    upload = push(repository, data, [0, MiB])
    before = Upload.objects.filter(pk=upload.pk).values().get()
    another_process()
    with pytest.raises(ChunkIncomplete):  # a part was written on the way, then the body ended
        services.append_to_upload(
            upload=upload, stream=ShortStream(data[MiB:], PART + 10), offset=MiB, length=len(data) - MiB, actor=PUSHER
        )
    after = Upload.objects.filter(pk=upload.pk).values().get()
    assert {k: v for k, v in after.items() if k != "multipart_id"} == {
        k: v for k, v in before.items() if k != "multipart_id"
    }
    assert keys(bucket, "uploads/") == {before["tail_key"]}  # the failed chunk's tail is gone

    append(upload, data[MiB:], MiB)
    another_process()
    services.complete_upload(upload=upload, digest=digest_of(data), actor=PUSHER)
    assert stored(bucket, digest_of(data)) == data
    assert keys(bucket, "uploads/") == set() and multipart_uploads(bucket) == []


def test_a_wrong_digest_commits_nothing(repository, bucket):
    data = os.urandom(PART + 100)
    upload = push(repository, data, [0, len(data)])
    with pytest.raises(DigestMismatch):
        services.complete_upload(upload=upload, digest=digest_of(b"something else"), actor=PUSHER)
    assert keys(bucket) == set()
    assert multipart_uploads(bucket) == []
    assert not Upload.objects.exists() and not Blob.objects.exists()


def test_without_a_state_that_travels_the_stored_bytes_are_hashed(repository, bucket):
    data = os.urandom(PART + 3)
    # written by a process whose state could not travel (None), or by another interpreter
    for state, digest in ((None, digest_of(data[:-1] + b"!")), (b"cpython-399/elsewhere/8/112\0" + bytes(112), None)):
        upload = push(repository, data, [0, 10])
        Upload.objects.filter(pk=upload.pk).update(hash_state=state)
        append(upload, data[10:], 10)
        assert Upload.objects.get(pk=upload.pk).hash_state is None
        if digest:
            with pytest.raises(DigestMismatch):
                services.complete_upload(upload=upload, digest=digest, actor=PUSHER)
            assert keys(bucket) == set() and multipart_uploads(bucket) == []
        else:
            services.complete_upload(upload=upload, digest=digest_of(data), actor=PUSHER)
            assert stored(bucket, digest_of(data)) == data
    assert keys(bucket, "uploads/") == set() and multipart_uploads(bucket) == []


def test_cancel_and_the_sweep_abort_the_multipart_upload(repository, bucket):
    data = os.urandom(PART + 100)
    cancelled = push(repository, data, [0, len(data)])
    assert len(multipart_uploads(bucket)) == 1
    services.cancel_upload(upload=cancelled)
    assert multipart_uploads(bucket) == [] and keys(bucket) == set()

    stale = push(repository, data, [0, len(data)])
    Upload.objects.filter(pk=stale.pk).update(updated_at=timezone.now() - timedelta(days=2))
    crashed = push(repository, data, [0, len(data)])
    Upload.objects.filter(pk=crashed.pk).delete()  # its row went, its bytes stayed
    live = push(repository, data, [0, 10])
    assert len(multipart_uploads(bucket)) == 2
    # (moto dates every multipart upload 2010: the crashed one's may go already)
    assert services.expire_abandoned_uploads(older_than=timedelta(hours=1)) >= 1
    assert list(Upload.objects.values_list("pk", flat=True)) == [live.pk]
    # an hour on, the sweep finds the crashed upload's bytes with no session
    assert services.upload_area().sweep({str(live.pk)}, timezone.now() + timedelta(hours=1)) >= 1
    assert multipart_uploads(bucket) == []
    assert keys(bucket) == {Upload.objects.get().tail_key}


def test_a_second_writer_is_refused_until_the_first_lease_expires(repository, bucket):
    upload = push(repository, b"first", [0, 5])
    with another_process().exclusive(str(upload.id)):
        with pytest.raises(BlobUploadBusy):
            append(upload, b"second", 5)
        # its holder died: the lease runs out
        Upload.objects.filter(pk=upload.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
        assert append(upload, b"second", 5) == 11
        with another_process().exclusive(str(upload.id)):  # a new holder
            with pytest.raises(UploadBusy):
                with another_process().exclusive(str(upload.id)):
                    pass
    services.complete_upload(upload=upload, digest=digest_of(b"firstsecond"), actor=PUSHER)


def test_a_blob_stored_already_aborts_the_upload_and_keeps_the_stored_copy(repository, bucket):
    data = os.urandom(PART + 1)
    digest = digest_of(data)
    services.upload_blob(repository=repository, digest=digest, stream=io.BytesIO(data), length=len(data), actor=PUSHER)
    assert stored(bucket, digest) == data
    upload = push(repository, data, [0, PART, len(data)])
    services.complete_upload(upload=upload, digest=digest, actor=PUSHER)
    assert stored(bucket, digest) == data
    assert keys(bucket) == {f"blobs/sha256/{digest[7:9]}/{digest[7:]}"}
    assert multipart_uploads(bucket) == []
    # and the empty blob, pushed whole
    empty = services.upload_blob(
        repository=repository, digest=digest_of(b""), stream=io.BytesIO(b""), length=0, actor=PUSHER
    )
    assert empty.size == 0 and stored(bucket, digest_of(b"")) == b""


def test_a_patch_while_another_process_writes_gets_the_registry_error(tenant, registry_client, bucket):
    client = registry_client(tenant)
    repo = f"{tenant.id}/app"
    token = client.token(f"repository:{repo}:pull,push")
    location = client.request("POST", f"/v2/{repo}/blobs/uploads/", token=token)["Location"]
    upload = Upload.objects.get()
    with another_process().exclusive(str(upload.id)):
        response = client.request("PATCH", location, token=token, data=b"chunk", headers={"Content-Range": "0-4"})
        assert response.status_code == 409
        assert response.json()["errors"][0]["code"] == "BLOB_UPLOAD_INVALID"
    response = client.request("PATCH", location, token=token, data=b"chunk", headers={"Content-Range": "0-4"})
    assert response.status_code == 202 and response["Range"] == "0-4"
