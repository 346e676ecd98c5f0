"""Request bodies for uploads and manifests: read as fast as the socket delivers
them, and every way a client can fail to send one answered with a registry error.

Blob pushes are the registry's biggest requests. Under gunicorn a body is read
through its buffered reader, which copies every byte several times (about
1.3 GiB/s on the 2-core reference machine); reading the rest of a
length-delimited body straight from the connection into the caller's buffer
reaches about 2.7 GiB/s. Chunked bodies are decoded by gunicorn; anything else
(other servers, the test client) takes Django's ordinary path.

A body the client cuts off, frames wrongly (chunked) or sends too slowly (the
worker's pace, registry_project/gunicorn_worker.py) raises a RegistryError from
the read, inside the storage layer's write, which then keeps nothing of it."""

from __future__ import annotations

# gunicorn is the production server (a pinned dependency)
from gunicorn.http.body import Body as GunicornBody
from gunicorn.http.body import LengthReader as GunicornLengthReader
from gunicorn.http.errors import ParseException as GunicornParseError

from .errors import RegistryError


def unreadable(exc: Exception, code: str) -> RegistryError:
    """The registry's answer to a body that could not be read: ``exc`` is what the
    connection or gunicorn's chunked decoder raised."""
    if isinstance(exc, TimeoutError):
        return RegistryError(code, "the request body arrived too slowly", status=408)
    if isinstance(exc, GunicornParseError):
        return RegistryError(code, f"malformed chunked body: {exc}")
    return RegistryError(code, "the request body ended early: the client closed the connection")


class SocketBody:
    """The rest of a gunicorn length-delimited body, read with recv_into.

    It hands out what gunicorn already buffered first (the body's start arrives
    with the headers), taking it from gunicorn's buffer only as it hands it out,
    then reads the socket directly, and keeps the reader's remaining length
    true: whatever the application leaves unread, gunicorn sees exactly the
    bytes still to come, and a drain before the next request on the connection
    takes those and no more."""

    def __init__(self, body, sock, *, invalid: str) -> None:
        self._reader = body.reader
        self._unreader = body.reader.unreader
        self._sock = sock
        self._invalid = invalid

    def readinto(self, buffer) -> int:
        remaining = self._reader.length
        if remaining <= 0:
            return 0
        view = memoryview(buffer)[:remaining]
        try:
            if self._unreader.buf.getbuffer().nbytes:
                buffered = self._unreader.take_buffered()
                count = min(len(view), len(buffered))
                view[:count] = buffered[:count]
                if count < len(buffered):
                    # the rest of it, or a pipelined request behind the body
                    self._unreader.unread(buffered[count:])
            else:
                count = self._sock.recv_into(view)
        except OSError as exc:
            raise unreadable(exc, self._invalid) from exc
        if count == 0:
            raise unreadable(ConnectionResetError(), self._invalid)
        self._reader.length -= count
        return count

    def read(self, size: int = -1) -> bytes:
        """``size`` bytes, or the rest of the body if that is less (a file's read)."""
        if size is None or size < 0:
            size = self._reader.length
        buffer = bytearray(min(size, self._reader.length))
        view = memoryview(buffer)
        filled = 0
        while filled < len(buffer):
            filled += self.readinto(view[filled:])
        return bytes(buffer)


class ChunkedBody:
    """A chunked request body as the server decoded it. With ``length`` (a PATCH's
    Content-Range) it must hold exactly that many bytes: the read that reaches
    the length fails when the body goes on."""

    def __init__(self, stream, *, invalid: str, length: int | None = None) -> None:
        self._stream = stream
        self._invalid = invalid
        self._left = length

    def exactly(self, length: int) -> ChunkedBody:
        return ChunkedBody(self._stream, invalid=self._invalid, length=length)

    def read(self, size: int = -1) -> bytes:
        if self._left is not None:
            size = self._left if size is None or size < 0 else min(size, self._left)
            if size == 0:
                return b""
        data = self._read(size)
        if self._left is not None:
            self._left -= len(data)
            if data and self._left == 0 and self._read(1):
                raise RegistryError("SIZE_INVALID", "the chunked body is longer than its Content-Range")
        return data

    def _read(self, size: int) -> bytes:
        try:
            return self._stream.read(size)
        except (OSError, GunicornParseError) as exc:
            raise unreadable(exc, self._invalid) from exc


def fast_body(request, *, invalid: str):
    """A SocketBody for this request when gunicorn serves it and nothing has read
    the body yet; None otherwise."""
    body = request.META.get("wsgi.input")
    sock = request.META.get("gunicorn.socket")
    if (
        sock is None
        or not isinstance(body, GunicornBody)
        or not isinstance(body.reader, GunicornLengthReader)
        or body.buf.getbuffer().nbytes
        or getattr(request, "_read_started", False)
    ):
        return None
    return SocketBody(body, sock, invalid=invalid)
