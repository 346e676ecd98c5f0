"""The filesystem store's encrypted blob files: envelope encryption, AES-256-GCM in chunks.

A file is a header and then the blob's bytes in chunks::

    magic "BERTHENC" | format (1 byte) = 1 | chunk size (4) | plaintext size (8)
    | key name length (1) | key name (UTF-8; "" = the master key) | key version (4)
    | wrapped data key length (1) | wrapped data key (AES key wrap of 32 bytes: 40)
    chunk 0 | chunk 1 | ... | chunk n-1        (each: ciphertext, then its 16-byte tag)

Every blob has its own random 256-bit data key, wrapped by a key of the key ring
(apps.registry.storage.keyring). Chunk ``i`` holds plaintext bytes
``i*chunk_size ..`` (the last may be shorter; an empty blob has one empty chunk),
sealed with AES-256-GCM under the data key, nonce = ``i`` (unique per key: the
key is the blob's alone), and as associated data the blob's digest, ``i``, whether
it is the last chunk and the plaintext size: a chunk cannot be moved to another
place, another blob or another file, and a file cut short or lengthened fails.

A range read decrypts only the chunks the range covers. Re-wrapping (key
rotation) rewrites only the header's key version and wrapped key, in place: the
header keeps its length and the chunks do not depend on it."""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"BERTHENC"
FORMAT = 1
CHUNK_SIZE = 64 * 1024
TAG = 16
DATA_KEY_BYTES = 32
_FIXED = struct.Struct(">8sBIQ")  # magic, format, chunk size, plaintext size
_VERSION = struct.Struct(">I")
_AAD_TAIL = struct.Struct(">QBQ")  # chunk index, last?, plaintext size
HEADER_MAX = _FIXED.size + 1 + 255 + _VERSION.size + 1 + 255


class BlobTampered(Exception):
    """An encrypted blob's bytes fail authentication: altered, cut short, moved or
    read with the wrong key. Nothing of the failing chunk is returned."""


@dataclass
class Header:
    chunk_size: int
    size: int
    key_name: str
    key_version: int
    wrapped_key: bytes
    length: int  # the header's bytes in the file

    def encode(self) -> bytes:
        name = self.key_name.encode("utf-8")
        return (
            _FIXED.pack(MAGIC, FORMAT, self.chunk_size, self.size)
            + bytes([len(name)])
            + name
            + _VERSION.pack(self.key_version)
            + bytes([len(self.wrapped_key)])
            + self.wrapped_key
        )

    @property
    def chunks(self) -> int:
        return max(1, -(-self.size // self.chunk_size))

    def chunk_offset(self, index: int) -> int:
        return self.length + index * (self.chunk_size + TAG)


def read_header(raw: BinaryIO, what: str) -> Header:
    head = raw.read(HEADER_MAX)
    try:
        magic, version, chunk_size, size = _FIXED.unpack_from(head)
        if magic != MAGIC or version != FORMAT or not chunk_size:
            raise ValueError
        at = _FIXED.size
        name_length = head[at]
        key_name = head[at + 1 : at + 1 + name_length].decode("utf-8")
        at += 1 + name_length
        (key_version,) = _VERSION.unpack_from(head, at)
        at += _VERSION.size
        wrapped_length = head[at]
        wrapped = head[at + 1 : at + 1 + wrapped_length]
        if len(wrapped) != wrapped_length:
            raise ValueError
        at += 1 + wrapped_length
    except (ValueError, IndexError, struct.error, UnicodeDecodeError):
        raise BlobTampered(f"{what}: not an encrypted blob file of a format this Berth reads") from None
    return Header(chunk_size, size, key_name, key_version, wrapped, at)


def _nonce(index: int) -> bytes:
    return b"\0\0\0\0" + index.to_bytes(8, "big")


def _aad(digest: str, index: int, last: bool, size: int) -> bytes:
    return b"berth-blob:" + digest.encode("ascii") + _AAD_TAIL.pack(index, last, size)


WrapKey = Callable[[bytes], tuple[str, int, bytes]]
"""Wraps a data key: returns (key name, key version, wrapped key)."""
UnwrapKey = Callable[[str, int, bytes], bytes]
"""Unwraps a data key from (key name, key version, wrapped key); raises KeyUnavailable."""


def encrypt_file(source: BinaryIO, target: BinaryIO, digest: str, wrap: WrapKey, chunk_size: int = CHUNK_SIZE) -> None:
    """Write ``source`` (read to its end, its size known from fstat) to ``target`` encrypted."""
    size = os.fstat(source.fileno()).st_size
    data_key = os.urandom(DATA_KEY_BYTES)
    name, version, wrapped = wrap(data_key)
    header = Header(chunk_size, size, name, version, wrapped, 0)
    target.write(header.encode())
    cipher = AESGCM(data_key)
    chunks = header.chunks
    for index in range(chunks):
        plain = source.read(chunk_size)
        expected = min(chunk_size, size - index * chunk_size)
        if len(plain) != expected:
            raise OSError(f"{digest}: the spooled file changed while it was encrypted")
        target.write(cipher.encrypt(_nonce(index), plain, _aad(digest, index, index == chunks - 1, size)))


def rewrap(path: str | os.PathLike, rewrap_key: Callable[[Header], tuple[int, bytes] | None]) -> bool:
    """Re-wrap the data key of an encrypted file in place: ``rewrap_key(header)`` gives
    (new version, new wrapped key) of the same length, or None to leave it. True if rewritten."""
    with open(path, "r+b") as handle:
        header = read_header(handle, str(path))
        new = rewrap_key(header)
        if new is None:
            return False
        version, wrapped = new
        if len(wrapped) != len(header.wrapped_key):
            raise ValueError("a re-wrapped key must keep the wrapped key's length")
        header.key_version, header.wrapped_key = version, wrapped
        handle.seek(0)
        handle.write(header.encode())
        handle.flush()
        os.fsync(handle.fileno())
    return True


class DecryptingRange:
    """Bytes ``start..end`` (inclusive) of an encrypted blob file, decrypted chunk by
    chunk as they are read. The first chunk is decrypted when opened, so a damaged
    blob fails before a response starts."""

    def __init__(self, raw: BinaryIO, digest: str, unwrap: UnwrapKey, start: int, end: int | None) -> None:
        self._raw = raw
        self.name = ""
        try:
            self.header = read_header(raw, digest)
            size = self.header.size
            if end is None:
                end = size - 1
            if start < 0 or (size and (start >= size or end >= size or end < start - 1)):
                raise ValueError(f"range {start}-{end} is outside blob {digest} of {size} bytes")
            self._digest = digest
            self._cipher = AESGCM(unwrap(self.header.key_name, self.header.key_version, self.header.wrapped_key))
            self._remaining = max(0, end - start + 1)
            self._index = start // self.header.chunk_size
            self._buffer = memoryview(b"")
            self._skip = start - self._index * self.header.chunk_size
            self._fill()
        except BaseException:
            raw.close()
            raise

    @property
    def size(self) -> int:
        return self.header.size

    def _fill(self) -> None:
        header = self.header
        if self._index >= header.chunks:
            self._buffer = memoryview(b"")
            return
        last = self._index == header.chunks - 1
        plain_length = min(header.chunk_size, header.size - self._index * header.chunk_size)
        self._raw.seek(header.chunk_offset(self._index))
        sealed = self._raw.read(plain_length + TAG)
        try:
            if len(sealed) != plain_length + TAG:
                raise InvalidTag
            plain = self._cipher.decrypt(
                _nonce(self._index), sealed, _aad(self._digest, self._index, last, header.size)
            )
        except InvalidTag:
            raise BlobTampered(
                f"blob {self._digest}: chunk {self._index} of {header.chunks} fails authentication "
                "(its stored bytes were altered or cut short); it is not served"
            ) from None
        self._buffer = memoryview(plain)[self._skip :]
        self._skip = 0
        self._index += 1

    def read(self, size: int = -1) -> bytes:
        parts = []
        want = self._remaining if size is None or size < 0 else min(size, self._remaining)
        while want > 0:
            if not self._buffer:
                self._fill()
                if not self._buffer:
                    break
            piece = self._buffer[:want]
            self._buffer = self._buffer[len(piece) :]
            parts.append(piece)
            want -= len(piece)
            self._remaining -= len(piece)
        return b"".join(parts)

    def close(self) -> None:
        self._raw.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
