"""Upload stores: where pushed bytes wait, hashed as they arrive, before the
digest is verified and the blob is committed to the blob store. One interface
(UploadStore), two stores, chosen with the blob store (get_upload_store):

- the upload area (UploadArea, here) for the filesystem blob store;
- S3 multipart uploads (s3_uploads.py) for the S3 blob store: nothing local.

The upload area is a directory every web process can reach (a shared volume when scaled out),
so the chunks of one upload may land on different processes. Each process keeps
the running hash of the uploads it served last; when the next chunk or the final
PUT lands elsewhere, that process rehashes the spooled bytes from disk."""

from __future__ import annotations

import abc
import fcntl
import os
import threading
from collections import OrderedDict
from collections.abc import Collection
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from apps.kernel.digests import new_hasher

from .encryption import PLAIN, Encryption

if TYPE_CHECKING:
    from .base import BlobStore

CHUNK_SIZE = 1024 * 1024
_HASHERS_KEPT = 64


def range_header(size: int) -> str:
    """The `Range` an upload reports: the inclusive span received ("0-0" when empty,
    as the reference registry answers)."""
    return f"0-{size - 1}" if size else "0-0"


class UploadBusy(Exception):
    """Another request is writing to the same upload right now."""


class OffsetMismatch(Exception):
    def __init__(self, current_size: int) -> None:
        self.current_size = current_size
        super().__init__(f"upload is at {current_size} bytes")


class ShortBody(Exception):
    def __init__(self, expected: int, received: int) -> None:
        self.expected = expected
        self.received = received
        super().__init__(f"expected {expected} bytes, received {received}")


class UploadStore(abc.ABC):
    """Where an upload's bytes wait. Uploads are named by their session's id (the
    Upload row's). Every method may be called from any web process."""

    # The pull-through cache's fill gathers this many bytes before it appends
    # them (0: every chunk as it comes), so a store with a cost per append is
    # not called per network read.
    batch_size = 0

    @abc.abstractmethod
    def create(self, upload_id: str) -> None:
        """Make room for a new, empty upload."""

    @abc.abstractmethod
    def size(self, upload_id: str) -> int | None:
        """The bytes the upload holds (None: no such upload)."""

    @abc.abstractmethod
    def settled_size(self, upload_id: str) -> int | None:
        """The bytes the upload holds while no request writes to it, if the store
        knows better than the session's row; None: the row's size. Raises
        FileNotFoundError when the upload is gone."""

    @abc.abstractmethod
    def append(self, upload_id: str, stream: BinaryIO, *, offset: int | None, length: int | None) -> int:
        """Append ``length`` bytes (or all of ``stream``) at ``offset``; returns the
        new size. Raises OffsetMismatch, UploadBusy (another writer holds it),
        ShortBody (the upload is left as it was), FileNotFoundError (gone)."""

    @abc.abstractmethod
    def exclusive(self, upload_id: str) -> AbstractContextManager:
        """Hold the upload against every other writer or completer, in any process.
        Raises FileNotFoundError when the upload is gone, UploadBusy when held."""

    @abc.abstractmethod
    def hexdigest(self, upload_id: str, algorithm: str) -> str:
        """The digest of everything the upload holds (under ``exclusive``)."""

    @abc.abstractmethod
    def commit(self, upload_id: str, digest: str, blob_store: BlobStore, encryption: Encryption = PLAIN) -> None:
        """Move the verified bytes into ``blob_store`` as ``digest`` in ``encryption``'s
        scope (under ``exclusive``); what the upload held is consumed."""

    @abc.abstractmethod
    def discard(self, upload_id: str) -> None:
        """Throw the upload's bytes away; a missing upload is not an error."""

    @abc.abstractmethod
    def forget(self, upload_id: str) -> None:
        """Drop what this process keeps of an upload that was committed."""

    @abc.abstractmethod
    def sweep(self, live: Collection[str], before: datetime) -> int:
        """Remove bytes of uploads not in ``live`` written before ``before`` (left by
        a crash between the store and the database); returns how many."""


class UploadArea(UploadStore):
    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)
        self._hashers: OrderedDict[str, tuple[int, object]] = OrderedDict()
        self._lock = threading.Lock()

    def path(self, upload_id: str) -> Path:
        return self.root / str(upload_id)

    def create(self, upload_id: str) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.path(upload_id).touch(exist_ok=False)

    def size(self, upload_id: str) -> int | None:
        try:
            return self.path(upload_id).stat().st_size
        except FileNotFoundError:
            return None

    def settled_size(self, upload_id: str) -> int | None:
        """The bytes the upload holds while no request writes to it; None while one
        does (its chunk may yet be taken back). Raises FileNotFoundError when the
        upload is gone.

        A writer that died mid-chunk (a killed worker) left what it wrote: the
        kernel holds those bytes whatever becomes of the process, so they count.
        They are hashed again from the file when the upload completes (the dead
        process's running hash went with it), and the digest check refuses the
        blob if a machine crash lost or mangled any of them."""
        fd = os.open(self.path(str(upload_id)), os.O_RDONLY)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return None
            return os.fstat(fd).st_size
        finally:
            os.close(fd)

    def append(self, upload_id: str, stream: BinaryIO, *, offset: int | None, length: int | None) -> int:
        """Append ``length`` bytes (or all of ``stream``) at ``offset``; returns the new size.

        A body shorter than announced leaves the upload exactly as it was."""
        key = str(upload_id)
        fd = os.open(self.path(key), os.O_WRONLY)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                raise UploadBusy() from exc
            start = os.fstat(fd).st_size
            if offset is not None and offset != start:
                raise OffsetMismatch(start)
            hasher = self._take_hasher(key, start)
            os.lseek(fd, start, os.SEEK_SET)
            received = 0
            readinto = getattr(stream, "readinto", None)
            buffer = memoryview(bytearray(CHUNK_SIZE)) if readinto else None
            try:
                while length is None or received < length:
                    want = CHUNK_SIZE if length is None else min(CHUNK_SIZE, length - received)
                    if readinto is not None:
                        data = buffer[: readinto(buffer[:want])]
                    else:
                        data = memoryview(stream.read(want))
                    if not data:
                        break
                    view = data
                    while view:
                        written = os.write(fd, view)
                        view = view[written:]
                    if hasher is not None:
                        hasher.update(data)
                    received += len(data)
            except BaseException:
                os.ftruncate(fd, start)
                raise
            if length is not None and received != length:
                os.ftruncate(fd, start)
                raise ShortBody(length, received)
            if hasher is not None:
                self._keep_hasher(key, start + received, hasher)
            return start + received
        finally:
            os.close(fd)

    @contextmanager
    def exclusive(self, upload_id: str):
        """Hold the upload against every other writer or completer, in any process.

        Raises FileNotFoundError when the upload is gone, UploadBusy when held."""
        fd = os.open(self.path(str(upload_id)), os.O_RDONLY)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                raise UploadBusy() from exc
            yield
        finally:
            os.close(fd)

    def hexdigest(self, upload_id: str, algorithm: str) -> str:
        """The digest of everything spooled so far, from the running hash when this
        process has it, from the file otherwise."""
        key = str(upload_id)
        size = self.size(key)
        if algorithm == "sha256":
            with self._lock:
                kept = self._hashers.get(key)
            if kept is not None and kept[0] == size:
                return kept[1].copy().hexdigest()
        hasher = new_hasher(algorithm)
        with open(self.path(key), "rb", buffering=0) as source:
            while chunk := source.read(CHUNK_SIZE):
                hasher.update(chunk)
        return hasher.hexdigest()

    def commit(self, upload_id: str, digest: str, blob_store: BlobStore, encryption: Encryption = PLAIN) -> None:
        blob_store.commit(digest, str(self.path(upload_id)), encryption)

    def sweep(self, live: Collection[str], before: datetime) -> int:
        swept = 0
        if self.root.is_dir():
            for path in self.root.iterdir():
                if path.name not in live and path.stat().st_mtime < before.timestamp():
                    path.unlink(missing_ok=True)
                    swept += 1
        return swept

    def discard(self, upload_id: str) -> None:
        key = str(upload_id)
        with self._lock:
            self._hashers.pop(key, None)
        try:
            self.path(key).unlink()
        except FileNotFoundError:
            pass

    def forget(self, upload_id: str) -> None:
        """Drop the running hash after the file was moved into the blob store."""
        with self._lock:
            self._hashers.pop(str(upload_id), None)

    def _take_hasher(self, key: str, start: int):
        with self._lock:
            kept = self._hashers.pop(key, None)
        if kept is not None and kept[0] == start:
            return kept[1]
        if start == 0:
            return new_hasher("sha256")
        # This process did not see the earlier chunks: hash on demand at the end.
        return None

    def _keep_hasher(self, key: str, size: int, hasher) -> None:
        with self._lock:
            self._hashers[key] = (size, hasher)
            self._hashers.move_to_end(key)
            while len(self._hashers) > _HASHERS_KEPT:
                self._hashers.popitem(last=False)
