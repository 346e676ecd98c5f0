"""The contract every BlobStore keeps, run against each backend and in each
encryption scope (plain, AES256, KMS): one suite every blob store must pass."""

from __future__ import annotations

import functools
import hashlib
import os
import time
import tracemalloc

import pytest

from apps.kernel.keyring import KeyRing
from apps.registry.storage.base import BlobStore
from apps.registry.storage.encryption import AES256, KMS, PLAIN, Encryption
from apps.registry.storage.filesystem import FilesystemBlobStore
from apps.registry.storage.s3 import MiB, S3BlobStore

SCOPED = {"exists", "commit", "open_range", "delete", "delete_many", "redirect_url", "_object_key"}
ENCRYPTIONS = {"plain": PLAIN, "aes256": Encryption(AES256), "kms": Encryption(KMS, "test-key")}


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Scoped:
    """A store whose calls all name one encryption scope."""

    def __init__(self, store: BlobStore, encryption: Encryption) -> None:
        self.inner = store
        self.encryption = encryption

    def __getattr__(self, name):
        value = getattr(self.inner, name)
        return functools.partial(value, encryption=self.encryption) if name in SCOPED else value

    def __setattr__(self, name, value):
        if name in ("inner", "encryption"):
            object.__setattr__(self, name, value)
        else:
            setattr(self.inner, name, value)


def key_ring(tmp_path) -> KeyRing:
    ring = KeyRing(tmp_path / "key-ring.json", [os.urandom(32)])
    ring.create("test-key")
    return ring


# S3's AES256 differs from its KMS only by the write arguments, which
# test_encryption.py checks on every object of a push: not run twice here.
@pytest.fixture(params=[*(f"filesystem-{scope}" for scope in ENCRYPTIONS), "s3-plain", "s3-kms"])
def store(request, tmp_path) -> Scoped:
    backend, scope = request.param.split("-")
    if backend == "filesystem":
        return Scoped(FilesystemBlobStore(tmp_path / "blobs", key_ring=key_ring(tmp_path)), ENCRYPTIONS[scope])
    request.getfixturevalue("s3_settings")
    # A small part size makes multi-MiB blobs take the multipart path.
    return Scoped(S3BlobStore.from_settings(part_size=5 * MiB), ENCRYPTIONS[scope])


@pytest.fixture
def spool(tmp_path):
    """Write bytes to a file in a stand-in upload area; returns its path."""
    (tmp_path / "uploads").mkdir()
    counter = iter(range(1_000_000))

    def write(data: bytes) -> str:
        path = tmp_path / "uploads" / f"upload-{next(counter)}"
        path.write_bytes(data)
        return str(path)

    return write


def commit(store: BlobStore, spool, data: bytes) -> str:
    digest = sha256(data)
    store.commit(digest, spool(data))
    return digest


def read(store: BlobStore, digest: str, start: int = 0, end: int | None = None, chunk: int = 64 * 1024) -> bytes:
    parts = []
    with store.open_range(digest, start, end) as stream:
        while block := stream.read(chunk):
            assert len(block) <= chunk
            parts.append(block)
    return b"".join(parts)


def test_commit_then_exists_and_read(store, spool):
    data = os.urandom(1000)
    digest = sha256(data)
    assert not store.exists(digest)
    source = spool(data)
    store.commit(digest, source)
    assert store.exists(digest)
    assert read(store, digest) == data
    assert not os.path.exists(source)


def test_committing_a_stored_digest_keeps_the_first_copy(store, spool):
    data = os.urandom(100)
    digest = commit(store, spool, data)
    # Never happens for real (the upload path verifies digests); proves the second copy is not written.
    impostor = spool(b"x" * 50)
    store.commit(digest, impostor)
    assert not os.path.exists(impostor)
    assert read(store, digest) == data


def test_open_range(store, spool):
    data = os.urandom(1000)
    digest = commit(store, spool, data)
    assert read(store, digest) == data
    assert read(store, digest, 0, 999) == data
    assert read(store, digest, 100, 199) == data[100:200]
    assert read(store, digest, 999, 999) == data[999:]
    assert read(store, digest, 500) == data[500:]
    assert read(store, digest, chunk=7) == data


def test_empty_blob(store, spool):
    digest = commit(store, spool, b"")
    assert store.exists(digest)
    assert read(store, digest) == b""


def test_missing_blob(store):
    digest = sha256(b"never stored")
    assert store.exists(digest) is False
    with pytest.raises(FileNotFoundError):
        store.open_range(digest)
    with pytest.raises(FileNotFoundError):
        store.open_range(digest, 1, 2)


def test_delete(store, spool):
    digest = commit(store, spool, b"short-lived")
    store.delete(digest)
    assert not store.exists(digest)
    store.delete(digest)
    store.delete(sha256(b"never stored"))


def test_delete_many_removes_each_and_ignores_missing(store, spool):
    digests = [commit(store, spool, os.urandom(10 + i)) for i in range(5)]
    store.delete_many([*digests[:3], sha256(b"never stored")])
    assert [store.exists(digest) for digest in digests] == [False, False, False, True, True]
    store.delete_many(digests[:3])  # again: nothing left to delete is not an error


def test_stored_lists_every_blob_with_its_size_and_time(store, spool):
    before = time.time() - 5
    blobs = {commit(store, spool, os.urandom(size)): size for size in (0, 1, 3000)}
    listed = {digest: (size, written) for digest, size, written in store.stored()}
    assert {digest: size for digest, (size, _) in listed.items()} == blobs
    assert all(before <= written <= time.time() + 5 for _, written in listed.values())
    store.delete(next(iter(blobs)))
    assert len(list(store.stored())) == 2


def test_large_blob_streams_back_in_chunks(store, spool):
    data = os.urandom(20 * MiB + 12345)
    digest = commit(store, spool, data)
    assert read(store, digest, chunk=MiB) == data
    tracemalloc.start()
    try:
        hasher = hashlib.sha256()
        with store.open_range(digest) as stream:
            while block := stream.read(MiB):
                hasher.update(block)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert hasher.hexdigest() == digest[7:]
    assert peak < 8 * MiB, f"streaming held {peak} bytes at once"
    assert read(store, digest, 7 * MiB, 13 * MiB) == data[7 * MiB : 13 * MiB + 1]
    if isinstance(store.inner, S3BlobStore):
        head = store._client.head_object(Bucket=store.storage.bucket_name, Key=store._object_key(digest))
        assert head["ETag"].strip('"').endswith("-5"), "20 MiB in 5 MiB parts is a multipart upload"
        assert head.get("ServerSideEncryption") == store.inner.write_args(store.encryption).get("ServerSideEncryption")


def test_redirect_url(store, spool, http):
    data = os.urandom(3000)
    digest = commit(store, spool, data)
    url = store.redirect_url(digest)
    if isinstance(store.inner, FilesystemBlobStore):
        assert url is None
        return
    assert url.startswith(store.storage.endpoint_url)
    assert "X-Amz-Signature=" in url and "X-Amz-Expires=300" in url
    response = http.get(url, timeout=10)
    assert response.status_code == 200
    assert response.content == data
    store.redirect = False
    assert store.redirect_url(digest) is None


def test_s3_keys_live_under_the_location(s3_settings, settings, spool):
    settings.AWS_LOCATION = "registry/prod"
    store = S3BlobStore.from_settings()
    digest = commit(store, spool, b"placed")
    _, encoded = digest.split(":")
    listing = store._client.list_objects_v2(Bucket=s3_settings)
    assert [o["Key"] for o in listing["Contents"]] == [f"registry/prod/blobs/sha256/{encoded[:2]}/{encoded}"]
    assert read(store, digest) == b"placed"
    # Objects of the bucket outside the location are not the store's blobs.
    store._client.put_object(Bucket=s3_settings, Key=f"elsewhere/blobs/sha256/{encoded[:2]}/{encoded}", Body=b"x")
    assert [(d, size) for d, size, _ in store.stored()] == [(digest, 6)]
