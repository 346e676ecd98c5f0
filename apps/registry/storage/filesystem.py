"""Blobs as files under a directory; the default, and the fastest (sendfile)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from .base import BlobStore


class RangeFile:
    """A file limited to ``length`` bytes from its current position.

    It keeps ``fileno()`` so gunicorn can hand the range to sendfile(2); readers
    that iterate instead (tests, other servers) still stop at the range's end."""

    def __init__(self, raw: BinaryIO, length: int) -> None:
        self._raw = raw
        self._remaining = length
        self.name = ""

    def read(self, size: int = -1) -> bytes:
        if self._remaining <= 0:
            return b""
        if size < 0 or size > self._remaining:
            size = self._remaining
        data = self._raw.read(size)
        self._remaining -= len(data)
        return data

    def fileno(self) -> int:
        return self._raw.fileno()

    def close(self) -> None:
        self._raw.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class FilesystemBlobStore(BlobStore):
    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)

    def path(self, digest: str) -> Path:
        return self.root / self.key(digest)

    def exists(self, digest: str) -> bool:
        return self.path(digest).is_file()

    def commit(self, digest: str, source_path: str) -> None:
        target = self.path(digest)
        if target.is_file():
            os.unlink(source_path)
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        # The bytes reach the disk before the name does, and the name before the
        # database row that makes the blob visible: a crash leaves at worst an
        # orphan file, never a row pointing at a torn one.
        with open(source_path, "rb") as source:
            os.fsync(source.fileno())
        os.replace(source_path, target)
        directory = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)

    def open_range(self, digest: str, start: int = 0, end: int | None = None) -> BinaryIO:
        raw = open(self.path(digest), "rb")
        if end is None:
            end = os.fstat(raw.fileno()).st_size - 1
        raw.seek(start)
        return RangeFile(raw, end - start + 1)

    def delete(self, digest: str) -> None:
        try:
            self.path(digest).unlink()
        except FileNotFoundError:
            pass

    def stored(self) -> Iterator[tuple[str, int, float]]:
        if not self.root.is_dir():
            return
        for algorithm in os.scandir(self.root):
            if not algorithm.is_dir():
                continue
            for prefix in os.scandir(algorithm.path):
                if not prefix.is_dir():
                    continue
                for entry in os.scandir(prefix.path):
                    digest = self.digest_of(f"{algorithm.name}/{prefix.name}/{entry.name}")
                    if digest is not None and entry.is_file():
                        try:
                            status = entry.stat()
                        except FileNotFoundError:  # deleted while listed
                            continue
                        yield digest, status.st_size, status.st_mtime
