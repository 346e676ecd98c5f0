"""The one narrow interface every blob store implements.

Blobs are immutable and addressed by digest; a store never decides who may read
them (that is the repository link's job) and never verifies digests (the upload
path does, before ``commit``).

Every call names the blob's encryption scope (apps.registry.storage.encryption):
the copy of a blob in one scope is independent of its copies in the others."""

from __future__ import annotations

import abc
from collections.abc import Iterable, Iterator
from typing import BinaryIO

from .encryption import PLAIN, Encryption


class BlobStore(abc.ABC):
    @abc.abstractmethod
    def exists(self, digest: str, encryption: Encryption = PLAIN) -> bool:
        """Whether the blob's bytes are in the store."""

    @abc.abstractmethod
    def commit(self, digest: str, source_path: str, encryption: Encryption = PLAIN) -> None:
        """Take a verified file from the upload area into the store under ``digest``.

        The source file is consumed (moved or deleted). Committing a digest that is
        already stored keeps the stored copy: content addressing makes them equal."""

    @abc.abstractmethod
    def open_range(
        self, digest: str, start: int = 0, end: int | None = None, encryption: Encryption = PLAIN
    ) -> BinaryIO:
        """A readable stream of bytes ``start..end`` inclusive (``end`` None = to the end)."""

    @abc.abstractmethod
    def delete(self, digest: str, encryption: Encryption = PLAIN) -> None:
        """Remove the bytes; deleting a missing blob is not an error."""

    def delete_many(self, digests: Iterable[str], encryption: Encryption = PLAIN) -> None:
        """Remove the bytes of several blobs; missing ones are not an error."""
        for digest in digests:
            self.delete(digest, encryption)

    def scopes(self) -> list[Encryption]:
        """Every scope the store holds blobs in (PLAIN always)."""
        return [PLAIN]

    def delete_everywhere(self, digests: Iterable[str]) -> None:
        """Remove the blobs' copies in every scope: what the collector does with a
        blob no repository links. Copies are found by listing the scopes, not by a
        record of them, so a copy written by a process that died before it said so
        goes too."""
        digests = list(digests)
        for encryption in self.scopes():
            self.delete_many(digests, encryption=encryption)

    @abc.abstractmethod
    def stored(self) -> Iterator[tuple[str, int, float]]:
        """Every blob in the store, in every scope, as (digest, size, when it was written
        in epoch seconds): for the collector's reconciliation, which looks for bytes
        with no row. A digest stored in several scopes is listed once per scope."""

    def upload_store(self):
        """The UploadStore that keeps uploads in this store, or None for the local
        upload area (storage/uploads.py)."""
        return None

    def redirect_url(self, digest: str, encryption: Encryption = PLAIN) -> str | None:
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
