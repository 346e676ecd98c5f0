"""Blobs as objects in an S3 (or S3-compatible) bucket.

The bucket is configured with django-storages' ``AWS_*`` settings and must
already exist: Berth never creates buckets, the operator does (with its
lifecycle, encryption and access policy). Credentials need s3:GetObject,
s3:PutObject, s3:DeleteObject and s3:ListBucket on it; without ListBucket a
missing key answers 403 instead of 404 and reads as an error, not "missing".

Objects are stored under ``<AWS_LOCATION>/blobs/<algorithm>/<xx>/<encoded>``; an
encrypted scope's (apps.registry.storage.encryption) under
``<AWS_LOCATION>/encrypted/<scope>/<algorithm>/<xx>/<encoded>``, each written with
its server-side encryption: SSE-S3 (``AES256``) or SSE-KMS with the repository's
key (``KMS``; the credentials then need kms:GenerateDataKey and kms:Decrypt on
it). S3 decrypts on read, presigned GETs included, so redirects stay."""

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
from .encryption import AES256, KMS, PLAIN, Encryption

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

    @staticmethod
    def _prefix(encryption: Encryption = PLAIN) -> str:
        return f"encrypted/{encryption.scope}/" if encryption.encrypted else "blobs/"

    def _name(self, digest: str, encryption: Encryption = PLAIN) -> str:
        """The name relative to AWS_LOCATION, for the Storage API."""
        return f"{self._prefix(encryption)}{self.key(digest)}"

    def _object_key(self, digest: str, encryption: Encryption = PLAIN) -> str:
        return self.storage._normalize_name(clean_name(self._name(digest, encryption)))

    @staticmethod
    def write_args(encryption: Encryption | None = None) -> dict:
        """The arguments of every object written for ``encryption``'s scope: its
        content type and server-side encryption (boto3's ExtraArgs names)."""
        args = {"ContentType": "application/octet-stream"}
        if encryption is not None and encryption.type == AES256:
            args["ServerSideEncryption"] = "AES256"
        elif encryption is not None and encryption.type == KMS:
            args["ServerSideEncryption"] = "aws:kms"
            args["SSEKMSKeyId"] = encryption.key
        return args

    def _head(self, digest: str, encryption: Encryption = PLAIN) -> dict | None:
        try:
            return self._client.head_object(Bucket=self.storage.bucket_name, Key=self._object_key(digest, encryption))
        except ClientError as exc:
            if _is_missing(exc):
                return None
            raise

    def exists(self, digest: str, encryption: Encryption = PLAIN) -> bool:
        return self._head(digest, encryption) is not None

    def commit(self, digest: str, source_path: str, encryption: Encryption = PLAIN) -> None:
        if not self.exists(digest, encryption):
            # Managed transfer: multipart with parallel parts above the threshold,
            # so blobs of many GiB never sit in memory and a failed part is retried alone.
            self._client.upload_file(
                source_path,
                self.storage.bucket_name,
                self._object_key(digest, encryption),
                ExtraArgs=self.write_args(encryption),
                Config=self.transfer_config,
            )
        # Only once the object is complete: a failed upload leaves the spool file
        # for a retry (or the upload sweep).
        os.unlink(source_path)

    def open_range(
        self, digest: str, start: int = 0, end: int | None = None, encryption: Encryption = PLAIN
    ) -> BinaryIO:
        params = {"Bucket": self.storage.bucket_name, "Key": self._object_key(digest, encryption)}
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

    def delete(self, digest: str, encryption: Encryption = PLAIN) -> None:
        # S3 answers a delete of a missing key with success too.
        self._client.delete_object(Bucket=self.storage.bucket_name, Key=self._object_key(digest, encryption))

    def delete_many(self, digests: Iterable[str], encryption: Encryption = PLAIN) -> None:
        # DeleteObjects takes up to 1,000 keys a request and answers missing keys as deleted.
        for batch in batched(digests, 1000):
            response = self._client.delete_objects(
                Bucket=self.storage.bucket_name,
                Delete={
                    "Objects": [{"Key": self._object_key(digest, encryption)} for digest in batch],
                    "Quiet": True,
                },
            )
            errors = response.get("Errors") or []
            if errors:
                first = errors[0]
                raise OSError(
                    f"S3 refused to delete {len(errors)} of {len(batch)} blobs, e.g. {first.get('Key')}: "
                    f"{first.get('Code')} {first.get('Message')}"
                )

    def scopes(self) -> list[Encryption]:
        """PLAIN and every scope under ``encrypted/`` (a listing by delimiter: one
        request a thousand scopes)."""
        found = [PLAIN]
        top = self._object_key("sha256:00", Encryption(AES256))[: -len(f"aes256/{self.key('sha256:00')}")]
        paginator = self._client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.storage.bucket_name, Prefix=top, Delimiter="/"):
            for common in page.get("CommonPrefixes") or []:
                name = common["Prefix"][len(top) :].rstrip("/")
                if name == "aes256":
                    found.append(Encryption(AES256))
                elif name == "kms":
                    for kms_page in paginator.paginate(
                        Bucket=self.storage.bucket_name, Prefix=f"{top}kms/", Delimiter="/"
                    ):
                        for key in kms_page.get("CommonPrefixes") or []:
                            try:
                                found.append(Encryption.from_scope(key["Prefix"][len(top) :].rstrip("/")))
                            except ValueError:
                                continue
        return found

    def stored(self) -> Iterator[tuple[str, int, float]]:
        for encryption in self.scopes():
            yield from self._stored_in(encryption)

    def _stored_in(self, encryption: Encryption) -> Iterator[tuple[str, int, float]]:
        prefix = self._object_key("sha256:00", encryption)[: -len(self.key("sha256:00"))]
        paginator = self._client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.storage.bucket_name, Prefix=prefix):
            for item in page.get("Contents") or []:
                digest = self.digest_of(item["Key"][len(prefix) :])
                if digest is not None:
                    yield digest, item["Size"], item["LastModified"].timestamp()

    def redirect_url(self, digest: str, encryption: Encryption = PLAIN) -> str | None:
        if not self.redirect:
            return None
        return self.storage.url(self._name(digest, encryption), expire=self.redirect_expiry)
