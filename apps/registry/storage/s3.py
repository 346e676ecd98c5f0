"""Blobs as objects in an S3 (or S3-compatible) bucket.

The bucket is configured with django-storages' ``AWS_*`` settings and must
already exist: Berth never creates buckets, the operator does (with its
lifecycle, encryption and access policy). Credentials need s3:GetObject,
s3:PutObject, s3:DeleteObject and s3:ListBucket on it; without ListBucket a
missing key answers 403 instead of 404 and reads as an error, not "missing".

Objects are stored under ``<AWS_LOCATION>/blobs/<algorithm>/<xx>/<encoded>``."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import BinaryIO

from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError
from django.conf import settings
from storages.backends.s3 import S3Storage
from storages.utils import clean_name

from apps.kernel.iterables import batched

from .base import BlobStore

MiB = 1024 * 1024
_MISSING = {"404", "NoSuchKey", "NotFound"}


def _is_missing(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") in _MISSING


class S3BlobStore(BlobStore):
    def __init__(
        self,
        storage: S3Storage,
        *,
        redirect: bool = True,
        redirect_expiry: int = 1200,
        part_size: int = 64 * MiB,
        max_concurrency: int = 4,
        upload_part_size: int = 8 * MiB,
    ) -> None:
        self.storage = storage
        self.upload_part_size = upload_part_size
        self._uploads = None
        self.redirect = redirect
        self.redirect_expiry = redirect_expiry
        self.transfer_config = TransferConfig(
            multipart_threshold=part_size, multipart_chunksize=part_size, max_concurrency=max_concurrency
        )

    @classmethod
    def from_settings(cls, **options) -> S3BlobStore:
        storage = S3Storage(
            bucket_name=settings.AWS_STORAGE_BUCKET_NAME,
            endpoint_url=settings.AWS_S3_ENDPOINT_URL,
            region_name=settings.AWS_S3_REGION_NAME,
            access_key=settings.AWS_ACCESS_KEY_ID,
            secret_key=settings.AWS_SECRET_ACCESS_KEY,
            location=settings.AWS_LOCATION,
            addressing_style=settings.AWS_S3_ADDRESSING_STYLE,
            signature_version=settings.AWS_S3_SIGNATURE_VERSION,
        )
        options.setdefault("redirect", settings.BERTH_S3_REDIRECT)
        options.setdefault("redirect_expiry", settings.BERTH_S3_REDIRECT_EXPIRY)
        options.setdefault("upload_part_size", settings.BERTH_S3_UPLOAD_PART_SIZE)
        return cls(storage, **options)

    @property
    def _client(self):
        # The storage keeps one boto3 connection per thread; fetch it per call so
        # every web thread uses its own.
        return self.storage.connection.meta.client

    def upload_store(self):
        """Uploads as S3 multipart uploads in this bucket (s3_uploads.py)."""
        if self._uploads is None:
            from .s3_uploads import S3UploadStore

            self._uploads = S3UploadStore(self, part_size=self.upload_part_size)
        return self._uploads

    def write_args(self, encryption=None) -> dict:
        """The arguments of every object Berth writes (PutObject, CreateMultipartUpload,
        CopyObject), as boto3's ExtraArgs."""
        return {"ContentType": "application/octet-stream"}

    def _name(self, digest: str) -> str:
        """The name relative to AWS_LOCATION, for the Storage API."""
        return f"blobs/{self.key(digest)}"

    def _object_key(self, digest: str) -> str:
        return self.storage._normalize_name(clean_name(self._name(digest)))

    def _head(self, digest: str) -> dict | None:
        try:
            return self._client.head_object(Bucket=self.storage.bucket_name, Key=self._object_key(digest))
        except ClientError as exc:
            if _is_missing(exc):
                return None
            raise

    def exists(self, digest: str) -> bool:
        return self._head(digest) is not None

    def commit(self, digest: str, source_path: str) -> None:
        if not self.exists(digest):
            # Managed transfer: multipart with parallel parts above the threshold,
            # so blobs of many GiB never sit in memory and a failed part is retried alone.
            self._client.upload_file(
                source_path,
                self.storage.bucket_name,
                self._object_key(digest),
                ExtraArgs=self.write_args(),
                Config=self.transfer_config,
            )
        # Only once the object is complete: a failed upload leaves the spool file
        # for a retry (or the upload sweep).
        os.unlink(source_path)

    def open_range(self, digest: str, start: int = 0, end: int | None = None) -> BinaryIO:
        params = {"Bucket": self.storage.bucket_name, "Key": self._object_key(digest)}
        # "bytes=0-" on an empty object is an unsatisfiable range (416): ask for
        # the whole object instead.
        if start or end is not None:
            params["Range"] = f"bytes={start}-{'' if end is None else end}"
        try:
            response = self._client.get_object(**params)
        except ClientError as exc:
            if _is_missing(exc):
                raise FileNotFoundError(digest) from None
            raise
        # botocore's StreamingBody reads from the socket as asked, and is an IOBase
        # (read, close, context manager), which is all FileResponse needs.
        return response["Body"]

    def delete(self, digest: str) -> None:
        # S3 answers a delete of a missing key with success too.
        self._client.delete_object(Bucket=self.storage.bucket_name, Key=self._object_key(digest))

    def delete_many(self, digests: Iterable[str]) -> None:
        # DeleteObjects takes up to 1,000 keys a request and answers missing keys as deleted.
        for batch in batched(digests, 1000):
            response = self._client.delete_objects(
                Bucket=self.storage.bucket_name,
                Delete={"Objects": [{"Key": self._object_key(digest)} for digest in batch], "Quiet": True},
            )
            errors = response.get("Errors") or []
            if errors:
                first = errors[0]
                raise OSError(
                    f"S3 refused to delete {len(errors)} of {len(batch)} blobs, e.g. {first.get('Key')}: "
                    f"{first.get('Code')} {first.get('Message')}"
                )

    def stored(self) -> Iterator[tuple[str, int, float]]:
        prefix = self._object_key("sha256:00")[: -len(self.key("sha256:00"))]
        paginator = self._client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.storage.bucket_name, Prefix=prefix):
            for item in page.get("Contents") or []:
                digest = self.digest_of(item["Key"][len(prefix) :])
                if digest is not None:
                    yield digest, item["Size"], item["LastModified"].timestamp()

    def redirect_url(self, digest: str) -> str | None:
        if not self.redirect:
            return None
        return self.storage.url(self._name(digest), expire=self.redirect_expiry)
