"""A SHA-256 whose running state can leave the process and come back: the chunks
of one upload may land on different web processes, each continuing the hash where
the last one stopped, with nothing shared but the database.

hashlib's hashers are OpenSSL's, whose state cannot be serialised. CPython 3.11's
own ``_sha256`` module keeps its state in a plain C struct after the object header:

    uint32 digest[8]; uint32 count_lo, count_hi; uint8 data[64]; int local; int digestsize;

112 bytes, copied out and in with ctypes. That is a layout, not an API: this
module checks it at import (a self-test that hashes data split at odd points,
exporting and importing the state between the pieces, against hashlib) and tags
every exported state with the interpreter and the struct size, refusing a state
another interpreter wrote. Where the layout is not the one expected (another
Python, a debug build) ``AVAILABLE`` is False, ``export`` gives None and callers
fall back to hashing the stored bytes again (s3_uploads.py).

The builtin hasher is slower than OpenSSL's (about 290 MB/s against 1,650 MB/s
on the machine this was written on): the price of a state that travels."""

from __future__ import annotations

import ctypes
import hashlib
import logging
import struct
import sys

logger = logging.getLogger(__name__)

try:
    import _sha256
except ImportError:  # another interpreter, or a CPython whose sha256 is HACL*'s (3.12+: _sha2)
    _sha256 = None

_HEADER = 2 * ctypes.sizeof(ctypes.c_void_p)  # PyObject_HEAD: ob_refcnt, ob_type
_STATE_SIZE = 8 * 4 + 2 * 4 + 64 + 2 * 4  # digest, count_lo/hi, data, local, digestsize
_TAG = f"{sys.implementation.cache_tag}/{sys.platform}/{ctypes.sizeof(ctypes.c_void_p)}/{_STATE_SIZE}".encode()
_LOCAL_AND_SIZE = struct.Struct("=ii")


class StateRefused(ValueError):
    """A state this interpreter cannot take: written by another, or damaged."""


def _layout_plausible() -> bool:
    if _sha256 is None or hasattr(sys, "getobjects"):  # Py_TRACE_REFS builds have a longer header
        return False
    kind = type(_sha256.sha256())
    return kind.__basicsize__ == _HEADER + _STATE_SIZE and _HEADER == 16


def new():
    """A fresh hasher: the builtin one when its state can travel, hashlib's otherwise."""
    return _sha256.sha256() if AVAILABLE else hashlib.sha256()


def export(hasher) -> bytes | None:
    """The hasher's state, tagged; None when it cannot travel (not the builtin)."""
    if not AVAILABLE or type(hasher) is not _BUILTIN:
        return None
    return _TAG + b"\0" + ctypes.string_at(id(hasher) + _HEADER, _STATE_SIZE)


def restore(state: bytes):
    """A hasher that continues from ``state`` (export's). Raises StateRefused."""
    if not AVAILABLE:
        raise StateRefused("this interpreter's sha256 state cannot be restored")
    tag, _, raw = bytes(state).partition(b"\0")
    if tag != _TAG or len(raw) != _STATE_SIZE:
        raise StateRefused(f"a sha256 state from {tag[:80]!r}, this is {_TAG!r}")
    local, digest_size = _LOCAL_AND_SIZE.unpack_from(raw, _STATE_SIZE - _LOCAL_AND_SIZE.size)
    if not 0 <= local < 64 or digest_size != 32:
        raise StateRefused("a damaged sha256 state")
    hasher = _sha256.sha256()
    ctypes.memmove(id(hasher) + _HEADER, raw, _STATE_SIZE)
    return hasher


def _self_test() -> bool:
    data = bytes(range(256)) * 41 + b"tail"
    cuts = [0, 1, 63, 64, 65, 127, 1000, 5000, len(data)]
    hasher = _sha256.sha256()
    for first, end in zip(cuts, cuts[1:]):
        hasher = restore(export(hasher))
        hasher.update(data[first:end])
    return restore(export(hasher)).hexdigest() == hashlib.sha256(data).hexdigest()


AVAILABLE = _layout_plausible()
_BUILTIN = type(_sha256.sha256()) if AVAILABLE else None
if AVAILABLE:
    try:
        AVAILABLE = _self_test()
    except Exception:  # noqa: BLE001 - any failure means the layout is not the one expected
        AVAILABLE = False
    if not AVAILABLE:
        logger.warning("sha256 state cannot travel on this interpreter: uploads to S3 are hashed again at completion")
