"""Blobs as files under a directory; the default, and the fastest (sendfile)."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

from apps.kernel.keyring import MASTER, KeyUnavailable, get_key_ring

from .base import BlobStore
from .encryption import AES256, KMS, PLAIN, Encryption
from .envelope import BlobTampered, DecryptingRange, encrypt_file, read_header, rewrap


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
    """Plain blobs at ``<root>/<algorithm>/<xx>/<encoded>`` (as ever); an encrypted
    scope's at ``<root>/encrypted/<scope>/<algorithm>/<xx>/<encoded>``, as envelope
    files (apps.registry.storage.envelope) whose keys the key ring holds."""

    ENCRYPTED = "encrypted"

    def __init__(self, root: str | os.PathLike, key_ring=None) -> None:
        self.root = Path(root)
        self._key_ring = key_ring

    @property
    def key_ring(self):
        if self._key_ring is None:
            return get_key_ring()
        return self._key_ring

    def scope_root(self, encryption: Encryption = PLAIN) -> Path:
        return self.root / self.ENCRYPTED / encryption.scope if encryption.encrypted else self.root

    def path(self, digest: str, encryption: Encryption = PLAIN) -> Path:
        return self.scope_root(encryption) / self.key(digest)

    def exists(self, digest: str, encryption: Encryption = PLAIN) -> bool:
        return self.path(digest, encryption).is_file()

    def commit(self, digest: str, source_path: str, encryption: Encryption = PLAIN) -> None:
        target = self.path(digest, encryption)
        if target.is_file():
            os.unlink(source_path)
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        # The bytes reach the disk before the name does, and the name before the
        # database row that makes the blob visible: a crash leaves at worst an
        # orphan file, never a row pointing at a torn one.
        if encryption.encrypted:
            sealed = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
            try:
                with open(source_path, "rb") as source, open(sealed, "wb", buffering=1024 * 1024) as out:
                    encrypt_file(source, out, digest, self._wrapper(encryption))
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(sealed, target)
            except BaseException:
                sealed.unlink(missing_ok=True)
                raise
            os.unlink(source_path)
        else:
            with open(source_path, "rb") as source:
                os.fsync(source.fileno())
            os.replace(source_path, target)
        directory = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)

    def _wrapper(self, encryption: Encryption):
        ring = self.key_ring
        if encryption.type == AES256:
            return lambda data_key: (MASTER, 0, ring.wrap_with_master(data_key))
        version, key_encrypting_key = ring.current(encryption.key)
        return lambda data_key: (encryption.key, version, aes_key_wrap(key_encrypting_key, data_key))

    def unwrap(self, name: str, version: int, wrapped: bytes) -> bytes:
        ring = self.key_ring
        if name == MASTER:
            data_key = ring.unwrap_with_master(wrapped)
            if data_key is None:
                raise KeyUnavailable(
                    "no configured encryption master key unwraps this blob's key (BERTH_ENCRYPTION_MASTER_KEYS)",
                    name=name,
                )
            return data_key
        try:
            return aes_key_unwrap(ring.key(name, version), wrapped)
        except InvalidUnwrap:
            raise KeyUnavailable(
                f"key {name!r} version {version} does not unwrap this blob's key", name=name, version=version
            ) from None

    def open_range(
        self, digest: str, start: int = 0, end: int | None = None, encryption: Encryption = PLAIN
    ) -> BinaryIO:
        raw = open(self.path(digest, encryption), "rb")
        if encryption.encrypted:
            return DecryptingRange(raw, digest, self.unwrap, start, end)
        if end is None:
            end = os.fstat(raw.fileno()).st_size - 1
        raw.seek(start)
        return RangeFile(raw, end - start + 1)

    def delete(self, digest: str, encryption: Encryption = PLAIN) -> None:
        try:
            self.path(digest, encryption).unlink()
        except FileNotFoundError:
            pass

    def scopes(self) -> list[Encryption]:
        found = [PLAIN]
        encrypted = self.root / self.ENCRYPTED
        if (encrypted / "aes256").is_dir():
            found.append(Encryption.from_scope("aes256"))
        if (encrypted / "kms").is_dir():
            for entry in os.scandir(encrypted / "kms"):
                if entry.is_dir():
                    try:
                        found.append(Encryption.from_scope(f"kms/{entry.name}"))
                    except ValueError:
                        continue
        return found

    def stored(self) -> Iterator[tuple[str, int, float]]:
        for encryption in self.scopes():
            yield from self._stored_in(encryption)

    def _stored_in(self, encryption: Encryption) -> Iterator[tuple[str, int, float]]:
        root = self.scope_root(encryption)
        if not root.is_dir():
            return
        for algorithm in os.scandir(root):
            if not algorithm.is_dir() or algorithm.name == self.ENCRYPTED:
                continue
            for prefix in os.scandir(algorithm.path):
                if not prefix.is_dir():
                    continue
                for entry in os.scandir(prefix.path):
                    digest = self.digest_of(f"{algorithm.name}/{prefix.name}/{entry.name}")
                    if digest is not None and entry.is_file():
                        try:
                            status = entry.stat()
                            size = status.st_size
                            if encryption.encrypted:  # the blob's size, as the header says it
                                with open(entry.path, "rb") as raw:
                                    size = read_header(raw, digest).size
                        except FileNotFoundError:  # deleted while listed
                            continue
                        except BlobTampered:
                            size = status.st_size
                        yield digest, size, status.st_mtime

    def rewrap(self, encryption: Encryption, progress=None) -> tuple[int, int]:
        """Move every blob of a KMS scope to its key's current version: (rewrapped, blobs)."""
        if encryption.type != KMS:
            raise ValueError("only KMS scopes have key versions to move between")
        ring = self.key_ring
        version, current = ring.current(encryption.key)

        def rewrap_key(header):
            if header.key_version == version:
                return None
            data_key = self.unwrap(header.key_name, header.key_version, header.wrapped_key)
            return version, aes_key_wrap(current, data_key)

        moved = seen = 0
        for digest, _, _ in self._stored_in(encryption):
            seen += 1
            if rewrap(self.path(digest, encryption), rewrap_key):
                moved += 1
            if progress is not None:
                progress(digest)
        return moved, seen
