"""The one narrow interface every blob store implements.

Blobs are immutable and addressed by digest; a store never decides who may read
them (that is the repository link's job) and never verifies digests (the upload
path does, before ``commit``)."""

from __future__ import annotations

import abc
from collections.abc import Iterable, Iterator
from typing import BinaryIO


class BlobStore(abc.ABC):
    @abc.abstractmethod
    def exists(self, digest: str) -> bool:
        """Whether the blob's bytes are in the store."""

    @abc.abstractmethod
    def commit(self, digest: str, source_path: str) -> None:
        """Take a verified file from the upload area into the store under ``digest``.

        The source file is consumed (moved or deleted). Committing a digest that is
        already stored keeps the stored copy: content addressing makes them equal."""

    @abc.abstractmethod
    def open_range(self, digest: str, start: int = 0, end: int | None = None) -> BinaryIO:
        """A readable stream of bytes ``start..end`` inclusive (``end`` None = to the end)."""

    @abc.abstractmethod
    def delete(self, digest: str) -> None:
        """Remove the bytes; deleting a missing blob is not an error."""

    def delete_many(self, digests: Iterable[str]) -> None:
        """Remove the bytes of several blobs; missing ones are not an error."""
        for digest in digests:
            self.delete(digest)

    @abc.abstractmethod
    def stored(self) -> Iterator[tuple[str, int, float]]:
        """Every blob in the store, as (digest, size, when it was written in epoch
        seconds): for the collector's reconciliation, which looks for bytes with no row."""

    def upload_store(self):
        """The UploadStore that keeps uploads in this store, or None for the local
        upload area (storage/uploads.py)."""
        return None

    def redirect_url(self, digest: str) -> str | None:
        """A URL the client can fetch the blob from directly, or None to stream it."""
        return None

    @staticmethod
    def key(digest: str) -> str:
        algorithm, encoded = digest.split(":", 1)
        return f"{algorithm}/{encoded[:2]}/{encoded}"

    @staticmethod
    def digest_of(key: str) -> str | None:
        """The digest a key names (key's inverse), or None for anything else."""
        parts = key.split("/")
        if len(parts) != 3 or not parts[2].startswith(parts[1]) or len(parts[1]) != 2:
            return None
        return f"{parts[0]}:{parts[2]}"
