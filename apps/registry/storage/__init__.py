"""Blob storage: pick the backend from settings.BLOB_STORAGE."""

from __future__ import annotations

from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .base import BlobStore
from .uploads import UploadArea, UploadStore


@lru_cache(maxsize=1)
def get_blob_store() -> BlobStore:
    if settings.BLOB_STORAGE == "filesystem":
        from .filesystem import FilesystemBlobStore

        return FilesystemBlobStore(settings.BERTH_BLOB_DIR)
    if settings.BLOB_STORAGE == "s3":
        from .s3 import S3BlobStore

        return S3BlobStore.from_settings()
    raise ImproperlyConfigured(f"BLOB_STORAGE must be 'filesystem' or 's3', not {settings.BLOB_STORAGE!r}")


def get_upload_store() -> UploadStore:
    """Where uploads wait: the blob store's own (S3 multipart uploads), or the
    local upload area (BERTH_UPLOAD_DIR) for the filesystem store."""
    return get_blob_store().upload_store() or _upload_area(str(settings.BERTH_UPLOAD_DIR))


@lru_cache(maxsize=4)
def _upload_area(root: str) -> UploadArea:
    return UploadArea(root)


__all__ = ["BlobStore", "UploadStore", "get_blob_store", "get_upload_store"]
