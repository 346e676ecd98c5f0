"""Blob storage: pick the backend from settings.BLOB_STORAGE."""

from __future__ import annotations

from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .base import BlobStore


@lru_cache(maxsize=1)
def get_blob_store() -> BlobStore:
    if settings.BLOB_STORAGE == "filesystem":
        from .filesystem import FilesystemBlobStore

        return FilesystemBlobStore(settings.BERTH_BLOB_DIR)
    if settings.BLOB_STORAGE == "s3":
        from .s3 import S3BlobStore

        return S3BlobStore.from_settings()
    raise ImproperlyConfigured(f"BLOB_STORAGE must be 'filesystem' or 's3', not {settings.BLOB_STORAGE!r}")


__all__ = ["BlobStore", "get_blob_store"]
