"""A layer's stored bytes as a stream of uncompressed tar bytes, with the byte
limits enforced as they are produced.

The compression is told by the first bytes (gzip ``1f 8b``, zstd ``28 b5 2f fd``)
rather than by the media type alone: registries hold layers whose media type says
gzip and whose bytes are zstd, or plain tar. Nothing is seeked and nothing bigger
than one read is held: the stored stream may be an S3 body."""

from __future__ import annotations

import zlib
from typing import BinaryIO

import zstandard

from .errors import InventoryError, LimitExceeded, UnsupportedLayer
from .limits import Limits, MiB

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"

# The media types of file system layers, without their "+gzip"/"+zstd" suffix.
_LAYER_TYPES = frozenset(
    {
        "application/vnd.oci.image.layer.v1.tar",
        "application/vnd.oci.image.layer.nondistributable.v1.tar",
        "application/vnd.docker.image.rootfs.diff.tar",
        "application/vnd.docker.image.rootfs.diff.tar.gzip",
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
    }
)
_LAYER_SUFFIXES = frozenset({"", "gzip", "zstd"})


def check_media_type(media_type: str, digest: str) -> None:
    """Raise UnsupportedLayer unless ``media_type`` is a file system layer's (an
    empty media type, as some old manifests have, is taken as one)."""
    if not media_type:
        return
    base, _, suffix = media_type.partition("+")
    if base not in _LAYER_TYPES or suffix not in _LAYER_SUFFIXES:
        raise UnsupportedLayer(f"layer {digest}: media type {media_type!r} is not a file system layer")


def compression_of(head: bytes) -> str:
    """ "gzip", "zstd" or "" (plain tar), from a layer's first bytes."""
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    return ""


class _CountingSource:
    """The stored stream, with its first bytes pushed back and the compressed bytes
    read counted (for the compression ratio)."""

    def __init__(self, raw: BinaryIO, head: bytes, digest: str) -> None:
        self._raw = raw
        self._head = head
        self._digest = digest
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        if self._head:
            data = self._head if size < 0 else self._head[:size]
            self._head = self._head[len(data) :]
        else:
            data = _read_stored(self._raw, size, self._digest)
        self.count += len(data)
        return data

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        close = getattr(self._raw, "close", None)
        if close is not None:
            close()


class _GzipReader:
    """Decompresses gzip members one after the other (zlib checks each member's CRC
    and length). Each read returns at most ``size`` bytes, decompressed from input
    read 64 KiB at a time. ``gzip.GzipFile`` did the same in 8 KiB steps through a
    BufferedReader and computed the CRC a second time: the walk took 0.92 s of CPU
    for a 206 MiB layer with it, 0.67 s with this. Bytes after the last member that
    do not start another one (padding) are ignored: the tar archive has ended."""

    _INPUT = 64 * 1024  # about what tarfile asks for: zlib copies the unconsumed input on each call

    def __init__(self, source: _CountingSource) -> None:
        self._source = source
        self._inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._pending = b""  # input read for the next member
        self._done = False

    def read(self, size: int) -> bytes:
        while not self._done:
            if self._inflate.eof:
                self._next_member()
                continue
            data = self._inflate.unconsumed_tail or self._pending or self._source.read(self._INPUT)
            self._pending = b""
            if not data:
                raise EOFError("the gzip stream ends in the middle of a member")
            out = self._inflate.decompress(data, size)
            if out:
                return out
        return b""

    def _next_member(self) -> None:
        rest = self._inflate.unused_data or self._source.read(self._INPUT)
        if not rest.startswith(GZIP_MAGIC[:1]):  # the end, or padding
            self._done = True
            return
        self._inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._pending = rest

    def close(self) -> None:
        self._done = True


class ImageBudget:
    """The per-image counters, shared by the layers of one inventory."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.bytes = 0
        self.members = 0


class LayerStream:
    """Readable uncompressed tar bytes of one layer. Each read is counted against the
    layer's and the image's byte limits and checked for the compression ratio;
    decompression errors become InventoryError."""

    def __init__(self, raw: BinaryIO, digest: str, budget: ImageBudget) -> None:
        self.digest = digest
        self._budget = budget
        self._limits = budget.limits
        head = _read_exactly(raw, 4, digest)
        self._source = _CountingSource(raw, head, digest)
        self.compression = compression_of(head)
        self.empty = not head  # a zero-byte blob: a layer without files
        self._decompressed = self._open_decompressor()
        self.bytes = 0

    def _open_decompressor(self):
        if self.compression == "gzip":
            return _GzipReader(self._source)
        if self.compression == "zstd":
            return zstandard.ZstdDecompressor().stream_reader(self._source, read_size=MiB, read_across_frames=True)
        return self._source

    def read(self, size: int = -1) -> bytes:
        if size == 0:
            return b""
        if size is None or size < 0:
            size = MiB  # tarfile always asks for a size; never read a whole layer at once
        try:
            data = self._decompressed.read(size)
        except InventoryError:
            raise
        except (OSError, EOFError, zlib.error, zstandard.ZstdError, ValueError) as error:
            raise InventoryError(f"layer {self.digest}: corrupt {self.compression or 'tar'} data ({error})") from error
        self._count(len(data))
        return data

    def _count(self, n: int) -> None:
        self.bytes += n
        self._budget.bytes += n
        limits = self._limits
        if self.bytes > limits.max_layer_bytes:
            raise LimitExceeded(
                f"layer {self.digest}: more than {limits.max_layer_bytes} uncompressed bytes (limit max_layer_bytes)"
            )
        if self._budget.bytes > limits.max_image_bytes:
            raise LimitExceeded(
                f"layer {self.digest}: the image has more than {limits.max_image_bytes} uncompressed bytes "
                "(limit max_image_bytes)"
            )
        if self.compression and self.bytes > limits.ratio_check_after_bytes:
            ratio = self.bytes / max(self._source.count, 1)
            if ratio > limits.max_compression_ratio:
                raise LimitExceeded(
                    f"layer {self.digest}: compression ratio above {limits.max_compression_ratio:g} "
                    f"({self.bytes} bytes from {self._source.count}; limit max_compression_ratio)"
                )

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        if self._decompressed is not self._source:
            self._decompressed.close()
        self._source.close()


def _read_stored(raw: BinaryIO, size: int, digest: str) -> bytes:
    """A read of the stored blob, whose failure (storage, network) is not corrupt data."""
    try:
        return raw.read(size)
    except Exception as error:
        raise InventoryError(
            f"layer {digest}: reading the stored blob failed ({type(error).__name__}: {error})"
        ) from error


def _read_exactly(raw: BinaryIO, n: int, digest: str) -> bytes:
    """Up to ``n`` bytes (fewer only at the end of the stream)."""
    parts: list[bytes] = []
    left = n
    while left > 0:
        chunk = _read_stored(raw, left, digest)
        if not chunk:
            break
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)
