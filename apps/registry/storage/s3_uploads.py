"""Uploads as S3 multipart uploads: any web process on any host takes the next
chunk, with nothing shared but the database and the bucket (docs/storage.md).

An upload's bytes are, in order, the parts of a multipart upload on the
temporary key ``<AWS_LOCATION>/uploads/<id>/data`` and a tail object
``uploads/<id>/tail-<token>`` holding what follows the last part (fewer bytes
than a part: S3 wants every part but the last to be at least 5 MiB, clients send
chunks of any size). The Upload row says where it stands: the multipart upload's
id, the parts (number, ETag, size), the tail's key, the size and the running
sha256 state (hash_state.py). A chunk is written first (full parts as the bytes
arrive, the new tail under a key of its own) and recorded in the row after, in
one conditional UPDATE: a chunk cut short, or a process dying under it, leaves
the row, and so the upload, as it was; what it wrote is overwritten by the next
attempt (part numbers) or swept (tails, keys no row names).

One writer at a time: a request takes the row's lease (a conditional UPDATE),
renews it while it writes and gives it back after; a lease whose holder died
expires. Completion uploads the tail as the last part, completes the multipart
upload, checks the digest (the state that travelled with the row; without one,
the assembled object is read back once and hashed) and copies the object to the
blob's key, server-side."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Collection
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, BinaryIO

from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError
from django.db.models import Q
from django.utils import timezone
from storages.utils import clean_name

from apps.kernel.digests import new_hasher
from apps.kernel.iterables import batched

from ..models import Upload
from . import encryption as storage_encryption
from . import hash_state
from .encryption import PLAIN, Encryption
from .uploads import CHUNK_SIZE, OffsetMismatch, ShortBody, UploadBusy, UploadStore

if TYPE_CHECKING:
    from .base import BlobStore
    from .s3 import S3BlobStore

logger = logging.getLogger(__name__)

MiB = 1024 * 1024
GiB = 1024 * MiB
MIN_PART_SIZE = 5 * MiB  # S3's minimum for every part but the last
MAX_PARTS = 10_000  # S3's maximum
# Parts grow by one base size every thousand parts, so that 10,000 parts of a
# base of 8 MiB hold about 430 GiB, while a part in memory stays small for most blobs.
PARTS_PER_SIZE = 1000
COPY_CONFIG = TransferConfig(multipart_threshold=5 * GiB, multipart_chunksize=512 * MiB, max_concurrency=4)
# Parts uploading at once while a request reads on: a request holds up to this
# many parts in flight besides the one it fills.
PARTS_IN_FLIGHT = 2
LEASE_SECONDS = 60
RENEW_SECONDS = 15


class UploadTooLarge(OSError):
    """More bytes than S3's 10,000 parts can hold at this part size."""


def part_size(base: int, number: int) -> int:
    """The size of part ``number`` (from 1) for a base part size."""
    return base * (1 + (number - 1) // PARTS_PER_SIZE)


@dataclass
class _Lease:
    upload_id: str
    token: str
    renewed_at: float

    def renew(self, *, every: float = RENEW_SECONDS) -> None:
        """Extend the lease if it is due; raises UploadBusy when it was lost."""
        if time.monotonic() - self.renewed_at < every:
            return
        extended = Upload.objects.filter(pk=self.upload_id, lease_token=self.token).update(
            lease_expires_at=timezone.now() + timedelta(seconds=LEASE_SECONDS)
        )
        if not extended:
            raise UploadBusy()
        self.renewed_at = time.monotonic()


class S3UploadStore(UploadStore):
    def __init__(self, blobs: S3BlobStore, *, part_size: int = 8 * MiB) -> None:
        if part_size < MIN_PART_SIZE:
            raise ValueError(f"an S3 upload part is at least {MIN_PART_SIZE} bytes, not {part_size}")
        self.blobs = blobs
        self.part_size = part_size
        self.batch_size = part_size

    # -- names ----------------------------------------------------------------------

    @property
    def _client(self):
        return self.blobs._client

    @property
    def _bucket(self) -> str:
        return self.blobs.storage.bucket_name

    def _key(self, name: str) -> str:
        return self.blobs.storage._normalize_name(clean_name(name))

    def _prefix(self, upload_id: str | None = None) -> str:
        return self._key("uploads/x")[:-1] + (f"{upload_id}/" if upload_id else "")

    def data_key(self, upload_id: str) -> str:
        return self._key(f"uploads/{upload_id}/data")

    def _tail_key(self, upload_id: str, token: str) -> str:
        return self._key(f"uploads/{upload_id}/tail-{token}")

    # -- the session ----------------------------------------------------------------

    def create(self, upload_id: str) -> None:
        """Nothing to do yet: the multipart upload starts with the first full part,
        so a blob smaller than a part (a config, a small layer) never needs one."""

    def size(self, upload_id: str) -> int | None:
        return Upload.objects.filter(pk=upload_id).values_list("size", flat=True).first()

    def settled_size(self, upload_id: str) -> int | None:
        # The row is the truth (the caller has just read it): nothing counts until
        # a chunk's UPDATE committed.
        return None

    @contextmanager
    def exclusive(self, upload_id: str):
        upload_id = str(upload_id)
        token = secrets.token_hex(16)
        now = timezone.now()
        taken = (
            Upload.objects.filter(pk=upload_id)
            .filter(Q(lease_token="") | Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now))
            .update(lease_token=token, lease_expires_at=now + timedelta(seconds=LEASE_SECONDS))
        )
        if not taken:
            if not Upload.objects.filter(pk=upload_id).exists():
                raise FileNotFoundError(upload_id)
            raise UploadBusy()
        try:
            yield _Lease(upload_id, token, time.monotonic())
        finally:
            Upload.objects.filter(pk=upload_id, lease_token=token).update(lease_token="", lease_expires_at=None)

    # -- writing --------------------------------------------------------------------

    def append(self, upload_id: str, stream: BinaryIO, *, offset: int | None, length: int | None) -> int:
        upload_id = str(upload_id)
        with self.exclusive(upload_id) as lease:
            upload = Upload.objects.select_related("repository").filter(pk=upload_id).first()
            if upload is None:  # cancelled just now
                raise FileNotFoundError(upload_id)
            start = upload.size
            if offset is not None and offset != start:
                raise OffsetMismatch(start)
            return self._append(upload, lease, stream, length)

    def _append(self, upload: Upload, lease: _Lease, stream: BinaryIO, length: int | None) -> int:
        upload_id, start = str(upload.id), upload.size
        # The upload's objects are encrypted as its repository's blobs will be.
        encryption = storage_encryption.of(upload.repository)
        hasher = self._hasher(upload)
        parts = [list(part) for part in upload.parts]
        multipart_id = upload.multipart_id
        in_parts = sum(part[2] for part in parts)
        buffer = bytearray(self._read_tail(upload, start - in_parts))
        new_tail = ""
        received = 0
        client = self._client  # boto3 clients are thread-safe; the pool's threads share this one
        # Parts go up in the background while the body is read on: up to
        # PARTS_IN_FLIGHT at once, each a copy out of the buffer.
        pool = ThreadPoolExecutor(max_workers=PARTS_IN_FLIGHT, thread_name_prefix="s3-upload-part")
        in_flight: list[Future] = []
        try:
            while length is None or received < length:
                want = CHUNK_SIZE if length is None else min(CHUNK_SIZE, length - received)
                data = stream.read(want)
                if not data:
                    break
                if hasher is not None:
                    hasher.update(data)
                buffer += data
                received += len(data)
                while len(buffer) >= part_size(self.part_size, len(parts) + len(in_flight) + 1):
                    number = len(parts) + len(in_flight) + 1
                    if number > MAX_PARTS:
                        raise UploadTooLarge(f"upload {upload_id} is larger than S3's {MAX_PARTS} parts hold")
                    if not multipart_id:
                        multipart_id = self._start_multipart(upload_id, lease, encryption)
                    size = part_size(self.part_size, number)
                    with memoryview(buffer) as view:
                        body = bytes(view[:size])
                    del buffer[:size]
                    in_flight.append(pool.submit(self._put_part, client, upload_id, multipart_id, number, body))
                    if len(in_flight) >= PARTS_IN_FLIGHT:
                        parts.append(in_flight.pop(0).result())
                        lease.renew(every=0)
                lease.renew()
            if length is not None and received != length:
                raise ShortBody(length, received)
            parts += [future.result() for future in in_flight]
            if not received:
                return start
            if buffer:
                new_tail = self._tail_key(upload_id, lease.token)
                self._client.put_object(
                    Bucket=self._bucket, Key=new_tail, Body=bytes(buffer), **self.blobs.write_args(encryption)
                )
            recorded = Upload.objects.filter(pk=upload_id, lease_token=lease.token).update(
                size=start + received,
                parts=parts,
                multipart_id=multipart_id,
                tail_key=new_tail,
                hash_state=hash_state.export(hasher) if hasher is not None else None,
                updated_at=timezone.now(),
            )
            if not recorded:  # the lease expired under us, or the upload was cancelled
                raise UploadBusy() if Upload.objects.filter(pk=upload_id).exists() else FileNotFoundError(upload_id)
        except BaseException:
            if new_tail:
                self._delete_quietly(new_tail)
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        if upload.tail_key and upload.tail_key != new_tail:
            self._delete_quietly(upload.tail_key)
        return start + received

    def _hasher(self, upload: Upload):
        """The running sha256 of the upload's bytes, or None when it cannot be had
        (then the digest is computed from the stored bytes at completion)."""
        if upload.size == 0:
            return hash_state.new()
        if upload.hash_state is None:
            return None
        try:
            return hash_state.restore(upload.hash_state)
        except hash_state.StateRefused as exc:
            logger.warning("upload %s: %s; its digest is computed from the stored bytes at completion", upload.id, exc)
            return None

    def _read_tail(self, upload: Upload, size: int) -> bytes:
        if not size:
            return b""
        data = self._client.get_object(Bucket=self._bucket, Key=upload.tail_key)["Body"].read()
        if len(data) != size:
            raise OSError(f"upload {upload.id}: its tail object {upload.tail_key} holds {len(data)} bytes, not {size}")
        return data

    def _start_multipart(self, upload_id: str, lease: _Lease, encryption: Encryption = PLAIN) -> str:
        response = self._client.create_multipart_upload(
            Bucket=self._bucket, Key=self.data_key(upload_id), **self.blobs.write_args(encryption)
        )
        multipart_id = response["UploadId"]
        # Recorded at once, so that a cancel or the sweep aborts it whatever comes next.
        Upload.objects.filter(pk=upload_id, lease_token=lease.token).update(multipart_id=multipart_id)
        return multipart_id

    def _put_part(self, client, upload_id: str, multipart_id: str, number: int, body: bytes) -> list:
        response = client.upload_part(
            Bucket=self._bucket, Key=self.data_key(upload_id), UploadId=multipart_id, PartNumber=number, Body=body
        )
        return [number, response["ETag"], len(body)]

    # -- completing -----------------------------------------------------------------

    def hexdigest(self, upload_id: str, algorithm: str) -> str:
        upload = Upload.objects.get(pk=upload_id)
        if algorithm == "sha256" and upload.size == 0:
            return new_hasher(algorithm).hexdigest()
        if algorithm == "sha256" and upload.hash_state is not None:
            try:
                return hash_state.restore(upload.hash_state).hexdigest()
            except hash_state.StateRefused as exc:
                logger.warning("upload %s: %s; hashing the stored bytes", upload.id, exc)
        # No state that travelled: read the stored bytes back once.
        key = self._assemble(upload)
        hasher = new_hasher(algorithm)
        if key:
            body = self._client.get_object(Bucket=self._bucket, Key=key)["Body"]
            try:
                while chunk := body.read(CHUNK_SIZE):
                    hasher.update(chunk)
            finally:
                body.close()
        return hasher.hexdigest()

    def _assemble(self, upload: Upload) -> str:
        """The key of one object holding exactly the upload's bytes ("" when it is
        empty): the tail alone, or the parts and the tail as a completed multipart
        upload on the data key."""
        if upload.assembled:
            return self.data_key(str(upload.id))
        if not upload.parts:
            return upload.tail_key
        upload_id = str(upload.id)
        parts = [list(part) for part in upload.parts]
        in_parts = sum(part[2] for part in parts)
        if upload.size > in_parts:
            # The tail is the last part, which may be smaller than the minimum.
            tail = self._read_tail(upload, upload.size - in_parts)
            response = self._client.upload_part(
                Bucket=self._bucket,
                Key=self.data_key(upload_id),
                UploadId=upload.multipart_id,
                PartNumber=len(parts) + 1,
                Body=tail,
            )
            parts.append([len(parts) + 1, response["ETag"], len(tail)])
        self._client.complete_multipart_upload(
            Bucket=self._bucket,
            Key=self.data_key(upload_id),
            UploadId=upload.multipart_id,
            MultipartUpload={"Parts": [{"PartNumber": number, "ETag": etag} for number, etag, _ in parts]},
        )
        stored = self._client.head_object(Bucket=self._bucket, Key=self.data_key(upload_id))["ContentLength"]
        if stored != upload.size:
            raise OSError(f"upload {upload_id}: S3 assembled {stored} bytes of {upload.size}")
        Upload.objects.filter(pk=upload_id).update(assembled=True, parts=parts, multipart_id="")
        upload.assembled, upload.parts, upload.multipart_id = True, parts, ""
        if upload.tail_key:
            self._delete_quietly(upload.tail_key)
        return self.data_key(upload_id)

    def commit(self, upload_id: str, digest: str, blob_store: BlobStore, encryption: Encryption = PLAIN) -> None:
        upload = Upload.objects.get(pk=upload_id)
        if blob_store.exists(digest, encryption):
            # Content addressing: the stored copy is these bytes already.
            self.discard(upload_id)
            return
        target = {"Bucket": self._bucket, "Key": blob_store._object_key(digest, encryption)}
        source = self._assemble(upload)
        if not source:
            self._client.put_object(**target, Body=b"", **blob_store.write_args(encryption))
        else:
            # Server-side: one CopyObject up to S3's 5 GiB limit for it, parallel
            # UploadPartCopy requests above.
            self._client.copy(
                {"Bucket": self._bucket, "Key": source},
                target["Bucket"],
                target["Key"],
                ExtraArgs={**blob_store.write_args(encryption), "MetadataDirective": "REPLACE"},
                Config=COPY_CONFIG,
            )
        self.discard(upload_id, quietly=True)

    # -- throwing away --------------------------------------------------------------

    def forget(self, upload_id: str) -> None:
        """Nothing: a process keeps nothing of an S3 upload; commit removed its objects."""

    def discard(self, upload_id: str, *, quietly: bool = False) -> None:
        """Abort the upload's multipart upload and delete its objects, found by
        their prefix: this works with the row gone too (a deleted repository)."""
        prefix = self._prefix(str(upload_id))
        try:
            self._abort_all(prefix, lambda upload: True)
            self._delete_all(prefix, lambda item: True)
        except ClientError:
            if not quietly:
                raise
            logger.warning("upload %s: leftovers under %s stay for the sweep", upload_id, prefix, exc_info=True)

    def sweep(self, live: Collection[str], before: datetime) -> int:
        prefix = self._prefix()

        def orphan(key: str, when: datetime) -> bool:
            upload_id = key[len(prefix) :].split("/", 1)[0]
            return upload_id not in live and when < before

        aborted = self._abort_all(prefix, lambda upload: orphan(upload["Key"], upload["Initiated"]))
        return aborted + self._delete_all(prefix, lambda item: orphan(item["Key"], item["LastModified"]))

    def _abort_all(self, prefix: str, which) -> int:
        aborted = 0
        for page in self._client.get_paginator("list_multipart_uploads").paginate(Bucket=self._bucket, Prefix=prefix):
            for upload in page.get("Uploads") or []:
                if which(upload):
                    try:
                        self._client.abort_multipart_upload(
                            Bucket=self._bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                        )
                    except ClientError as exc:
                        if exc.response.get("Error", {}).get("Code") != "NoSuchUpload":
                            raise
                    aborted += 1
        return aborted

    def _delete_all(self, prefix: str, which) -> int:
        keys = []
        for page in self._client.get_paginator("list_objects_v2").paginate(Bucket=self._bucket, Prefix=prefix):
            keys += [item["Key"] for item in page.get("Contents") or [] if which(item)]
        for batch in batched(keys, 1000):
            self._client.delete_objects(
                Bucket=self._bucket, Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True}
            )
        return len(keys)

    def _delete_quietly(self, key: str) -> None:
        try:
            self._client.delete_object(Bucket=self._bucket, Key=key)
        except ClientError:
            logger.warning("could not delete %s: the upload sweep will", key, exc_info=True)
