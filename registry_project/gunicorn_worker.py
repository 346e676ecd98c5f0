"""`berth serve`'s gunicorn worker: gthread, except that a thread gets a request
only once the request has arrived.

gunicorn's gthread worker gives a connection to a thread as soon as a byte
arrives; the thread then blocks reading the rest of the head and the body, so
as many slow clients as there are threads stop everyone else. This worker reads
each request's head, and its body up to PREFETCH_BYTES (all of a small body),
in the worker's event loop without blocking, and only then gives the
connection to a thread. A client that does not finish its head within
BERTH_CLIENT_HEADER_TIMEOUT, or sends its body slower than its Pace allows, is
answered 408 and closed: by the event loop while its request is buffered there,
by its thread (GuardedSocket) while the thread reads the rest of a large body.

Everything else is gthread's: responses go out from the threads (sendfile for
blobs) and the rest of a large body is read there as before (recv_into for
uploads); a request that arrives at full speed is read with as many recv()
calls as before, in the event loop instead of its thread.

Around each response the worker also keeps keep-alive connections in step: a
body the application left unread is read and dropped before the response goes
out when at most DRAIN_BYTES of it remain, and otherwise the response says
``Connection: close`` and the connection is closed after it (reading on would
take the rest of the body for the next request). Connections it closes linger
in the event loop until the client has read the last response, instead of
blocking it as gthread's close does."""

from __future__ import annotations

import errno
import re
import selectors
import socket
import struct
import threading
import time
from functools import partial

from gunicorn.http.body import LengthReader
from gunicorn.workers.gthread import TConn, ThreadWorker

#: The longest head the event loop buffers; a longer one is answered 431.
HEAD_BUFFER_BYTES = 64 * 1024
#: How much of a body the event loop buffers before a thread reads the rest: all of
#: a token request, an API or form post or a manifest; the start of a blob.
PREFETCH_BYTES = 64 * 1024
#: The most of an unread body drained to keep its connection open.
DRAIN_BYTES = 1024 * 1024
#: After a response that closes the connection: how long, and how much, the event
#: loop reads and drops until the client closes too (RFC 9112 section 9.6).
LINGER_SECONDS = 2.0
LINGER_BYTES = 64 * 1024
RECV_BYTES = 64 * 1024
#: How often the event loop looks for clients past their deadlines.
SWEEP_SECONDS = 0.5

_HEAD_END = b"\r\n\r\n"
_FRAMING_FIELD = re.compile(rb"\r\n(content-length|transfer-encoding|expect)[ \t]*:[ \t]*([^\r\n]*)", re.IGNORECASE)
#: How every request starts (RFC 9112 section 2.2: an empty line, then the method,
#: a token, and a space), as far as it has arrived.
_REQUEST_START = re.compile(rb"(?:\r\n|\r\Z)?(?:[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,20}(?: |\Z)|\Z)")
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


def _closing_answer(status: bytes, text: bytes) -> bytes:
    return b"HTTP/1.1 %s\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s" % (
        status,
        len(text),
        text,
    )


_TIMED_OUT = _closing_answer(b"408 Request Timeout", b"the request was not sent in time\n")
_HEAD_TOO_LARGE = _closing_answer(b"431 Request Header Fields Too Large", b"the request's head is too large\n")
_NOT_HTTP = _closing_answer(b"400 Bad Request", b"this server speaks HTTP/1.1 (no TLS)\n")


class ClientTooSlow(TimeoutError):
    """The client sent its request slower than the worker allows."""


class Pace:
    """How slowly a client may send a request body: never silent for longer than
    ``timeout`` seconds, and from ``timeout`` seconds after the head at least
    ``min_rate`` bytes a second on average (Apache mod_reqtimeout's MinRate).
    Holding a thread for T seconds thus costs a client ``min_rate * (T - timeout)``
    bytes."""

    def __init__(self, *, timeout: float, min_rate: float, now: float) -> None:
        self.timeout = timeout
        self.min_rate = min_rate
        self.started = self.last = now
        self.received = 0

    def record(self, count: int, now: float) -> None:
        if count:
            self.received += count
            self.last = now

    def deadline(self) -> float:
        return min(self.last + self.timeout, self.started + self.timeout + self.received / self.min_rate)


class GuardedSocket(socket.socket):
    """A client connection whose reads keep to the current request's Pace.

    In a thread the socket blocks; SO_RCVTIMEO (set to the pace's timeout when
    the connection is accepted) ends a read that waits longer, and a read that
    returns after the pace's deadline fails too. Once too slow, every later
    read fails at once, so draining the body cannot wait again."""

    pace: Pace | None = None
    too_slow = False

    def recv(self, bufsize, flags=0):
        self._check()
        try:
            data = super().recv(bufsize, flags)
        except BlockingIOError:
            raise self._stalled() from None
        self._paced(len(data))
        return data

    def recv_into(self, buffer, nbytes=0, flags=0):
        self._check()
        try:
            count = super().recv_into(buffer, nbytes, flags)
        except BlockingIOError:
            raise self._stalled() from None
        self._paced(count)
        return count

    def _check(self) -> None:
        if self.too_slow:
            raise ClientTooSlow("the client sent its request too slowly")

    def _stalled(self) -> Exception:
        if self.gettimeout() == 0.0:
            # the event loop's non-blocking read: nothing there yet
            return BlockingIOError(errno.EAGAIN, "no data yet")
        self.too_slow = True
        return ClientTooSlow("the client stopped sending its request")

    def _paced(self, count: int) -> None:
        if self.pace is None:
            return
        now = time.monotonic()
        self.pace.record(count, now)
        if now > self.pace.deadline():
            self.too_slow = True
            raise ClientTooSlow("the client sent its request body too slowly")


class RequestInProgress:
    """What the event loop has received of a request, and what it waits for."""

    def __init__(self, data: bytes, now: float) -> None:
        self.data = bytearray(data)
        self.opened = now
        self.head_deadline: float | None = None
        self.head_end = -1  # where the body starts, once the head is complete
        self.scanned = 0  # where to look for the end of the head next
        self.body_length: int | None = 0  # None: chunked
        self.next_chunk = 0  # where the next chunk-size line starts (chunked)


class BufferedConn(TConn):
    def __init__(self, cfg, sock, client, server, *, linger) -> None:
        super().__init__(cfg, sock, client, server)
        self.request: RequestInProgress | None = None
        self.waiting = False  # registered with the event loop for the rest of the request
        self.continue_sent = False
        self._linger = linger

    def close(self, graceful=False):
        if graceful:
            # gthread's graceful close waits for the client in the event loop's thread
            self._linger(self.sock)
        else:
            super().close()


def _framing(head: bytes) -> tuple[int | None, bool] | None:
    """(the body's length, None when chunked; whether the client waits for 100
    Continue), as the head declares them; None when the framing is one gunicorn's
    parser refuses (there is nothing to wait for then)."""
    length, chunked, expects_continue = 0, False, False
    seen_length = False
    for name, value in _FRAMING_FIELD.findall(head):
        name, value = name.lower(), value.strip(b" \t").lower()
        if name == b"content-length":
            if seen_length or not value.isdigit():
                return None
            seen_length, length = True, int(value)
        elif name == b"transfer-encoding":
            if value.rsplit(b",", 1)[-1].strip(b" \t") != b"chunked":
                return None
            chunked = True
        else:
            expects_continue = value == b"100-continue"
    if chunked and seen_length:
        return None
    http11 = head.lstrip(b"\r\n").partition(b"\r\n")[0].endswith(b" HTTP/1.1")
    return (None if chunked else length), expects_continue and http11


def _chunked_body_end(data: bytearray, position: int) -> tuple[bool, int]:
    """Whether the chunked body from ``position`` on has arrived whole (or is
    malformed: gunicorn's parser will refuse it), and where the first chunk not
    yet complete starts."""
    while True:
        line_end = data.find(b"\r\n", position)
        if line_end < 0:
            return False, position
        size = bytes(data[position:line_end]).split(b";", 1)[0].strip(b" \t")
        try:
            size = int(size, 16)
        except ValueError:
            return True, position
        if size == 0:
            trailers_end = data.find(_HEAD_END, line_end)
            return data.startswith(b"\r\n", line_end + 2) or trailers_end >= 0, position
        following = line_end + 2 + size + 2
        if following > len(data):
            return False, position
        position = following


class BufferingThreadWorker(ThreadWorker):
    """gthread with requests buffered in the event loop (see the module's doc)."""

    @classmethod
    def check_config(cls, cfg, log):
        super().check_config(cfg, log)
        # The event loop reads the plain HTTP/1 byte stream: TLS ends at a proxy.
        if cfg.is_ssl or "h2" in cfg.http_protocols or getattr(cfg, "protocol", "http") != "http":
            raise RuntimeError(f"{cls.__name__} serves plain HTTP/1.1 only (terminate TLS at a proxy)")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.reading: set[BufferedConn] = set()
        self.lingering: dict[socket.socket, float] = {}
        self._next_sweep = 0.0
        self._serving = threading.local()

    def load_wsgi(self):
        super().load_wsgi()
        from django.conf import settings

        self.header_timeout = settings.BERTH_CLIENT_HEADER_TIMEOUT
        self.body_timeout = settings.BERTH_CLIENT_BODY_TIMEOUT
        self.body_min_rate = settings.BERTH_CLIENT_BODY_MIN_RATE
        application = self.wsgi

        def settle_body_then_answer(environ, start_response):
            def start(status, headers, exc_info=None):
                self._settle_request_body(self._serving.conn)
                return start_response(status, headers, exc_info)

            return application(environ, start)

        self.wsgi = settle_body_then_answer

    # ---- the event loop: accept, buffer, hand over ----------------------------------------

    def accept(self, listener):
        try:
            accepted, client = listener.accept()
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        sock = GuardedSocket(accepted.family, accepted.type, accepted.proto, accepted.detach())
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", int(self.body_timeout), 0))
        self.nr_conns += 1
        conn = BufferedConn(self.cfg, sock, client, listener.getsockname(), linger=self._linger)
        conn.init()  # the HTTP/1 parser (check_config rules out TLS and HTTP/2)
        self.enqueue_req(conn)

    def enqueue_req(self, conn):
        """Start reading the connection's next request (gthread: give it to a thread)."""
        conn.sock.setblocking(False)
        conn.sock.pace = None
        conn.continue_sent = False
        conn.request = RequestInProgress(conn.parser.unreader.take_buffered(), time.monotonic())
        if conn.request.data:
            self._advance(conn, time.monotonic())
        else:
            # A client sends its request right after connecting, and a kept-alive
            # connection comes here when readable: read before waiting.
            self._receive(conn)
        if conn.request is not None and not conn.waiting:
            conn.waiting = True
            self.reading.add(conn)
            self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_readable, conn))

    def _on_readable(self, conn, _sock):
        self._receive(conn)

    def _receive(self, conn) -> None:
        try:
            data = conn.sock.recv(RECV_BYTES)
        except BlockingIOError:
            return
        except ClientTooSlow:
            self._answer_and_close(conn, _TIMED_OUT)
            return
        except OSError:
            self._drop(conn)
            return
        if not data:
            self._drop(conn)
            return
        conn.request.data += data
        self._advance(conn, time.monotonic())

    def _advance(self, conn, now: float) -> None:
        """Hand the connection to a thread once its request is buffered enough."""
        request = conn.request
        data = request.data
        if request.head_end < 0:
            if request.head_deadline is None:
                request.head_deadline = now + self.header_timeout
            if not _REQUEST_START.match(data):
                # Not HTTP/1 (a TLS handshake, say): answered at once, so that a client
                # trying TLS first falls back to plain HTTP before its own timeout.
                self._answer_and_close(conn, _NOT_HTTP)
                return
            end = data.find(_HEAD_END, request.scanned)
            if end < 0 and len(data) <= HEAD_BUFFER_BYTES:
                request.scanned = max(0, len(data) - 3)
                return
            if end < 0 or end + 4 > HEAD_BUFFER_BYTES:
                self._answer_and_close(conn, _HEAD_TOO_LARGE)
                return
            request.head_end = request.next_chunk = end + 4
            framing = _framing(bytes(data[: request.head_end]))
            if framing is None:
                self._hand_over(conn)
                return
            request.body_length, expects_continue = framing
            if request.body_length == 0:
                self._hand_over(conn)
                return
            conn.sock.pace = Pace(timeout=self.body_timeout, min_rate=self.body_min_rate, now=now)
            conn.sock.pace.record(len(data) - request.head_end, now)
            if expects_continue and not self._send_continue(conn):
                return
        received = len(data) - request.head_end
        if received >= PREFETCH_BYTES:
            self._hand_over(conn)
        elif request.body_length is not None:
            if received >= request.body_length:
                self._hand_over(conn)
        else:
            ended, request.next_chunk = _chunked_body_end(data, request.next_chunk)
            if ended:
                self._hand_over(conn)

    def _send_continue(self, conn) -> bool:
        """Ask for the body the client holds back (the thread then does not ask again)."""
        try:
            sent = conn.sock.send(_CONTINUE)
        except OSError:
            sent = 0
        if sent != len(_CONTINUE):
            self._drop(conn)
            return False
        conn.continue_sent = True
        return True

    def _hand_over(self, conn) -> None:
        data = conn.request.data
        self._stop_reading(conn)
        conn.parser.unreader.unread(bytes(data))
        if conn.sock.pace is None:
            conn.sock.pace = Pace(timeout=self.body_timeout, min_rate=self.body_min_rate, now=time.monotonic())
        conn.data_ready = True
        super().enqueue_req(conn)

    def _stop_reading(self, conn) -> None:
        conn.request = None
        if conn.waiting:
            conn.waiting = False
            self.reading.discard(conn)
            self.poller.unregister(conn.sock)

    def _drop(self, conn) -> None:
        self._stop_reading(conn)
        self.nr_conns -= 1
        conn.close()

    def _answer_and_close(self, conn, answer: bytes) -> None:
        try:
            conn.sock.send(answer)
        except OSError:
            pass
        self._stop_reading(conn)
        self.nr_conns -= 1
        self._linger(conn.sock)

    def murder_pending(self):
        super().murder_pending()
        now = time.monotonic()
        if now < self._next_sweep:
            return
        self._next_sweep = now + SWEEP_SECONDS
        idle_timeout = self.cfg.keepalive or self.header_timeout
        for conn in list(self.reading):
            request = conn.request
            if not request.data:
                # nothing of a request yet: an idle connection, closed without an answer
                if not self.alive or now > request.opened + idle_timeout:
                    self._drop(conn)
            elif request.head_end < 0:
                if now > request.head_deadline:
                    self._answer_and_close(conn, _TIMED_OUT)
            elif now > conn.sock.pace.deadline():
                self._answer_and_close(conn, _TIMED_OUT)
        for sock, deadline in list(self.lingering.items()):
            if now > deadline:
                self._end_linger(sock)

    # ---- closing without blocking the event loop ------------------------------------------

    def _linger(self, sock) -> None:
        """Close after the client has read the last response: half-close, then read and
        drop what it still sends until it closes too, LINGER_BYTES or LINGER_SECONDS
        (closing with unread data would reset the connection and could lose the
        response). Callable from the event loop only."""
        try:
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            sock.close()
            return
        sock.setblocking(False)
        sock.pace, sock.too_slow = None, False
        self.lingering[sock] = time.monotonic() + LINGER_SECONDS
        self.poller.register(sock, selectors.EVENT_READ, partial(self._drain_lingering, [0]))

    def _drain_lingering(self, drained: list[int], sock) -> None:
        try:
            data = sock.recv(RECV_BYTES)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        drained[0] += len(data)
        if not data or drained[0] >= LINGER_BYTES:
            self._end_linger(sock)

    def _end_linger(self, sock) -> None:
        del self.lingering[sock]
        self.poller.unregister(sock)
        sock.close()

    # ---- in a thread ----------------------------------------------------------------------

    def handle_request(self, req, conn):
        if conn.continue_sent:
            # the event loop sent 100 Continue already; gunicorn would send another
            req._expected_100_continue = False
        self._serving.conn = conn
        try:
            return super().handle_request(req, conn)
        finally:
            self._serving.conn = None

    def _settle_request_body(self, conn) -> None:
        """Before the response goes out: read and drop what is left of the request body
        when that is little, so that the connection can serve the next request; else
        answer with ``Connection: close``."""
        request = conn.parser.mesg
        reader = request.body.reader
        if isinstance(reader, LengthReader):
            if reader.length == 0:
                return
            if reader.length > DRAIN_BYTES:
                request.force_close()
                return
        try:
            drained = conn.parser.finish_body(deadline=time.monotonic() + self.body_timeout, max_bytes=DRAIN_BYTES + 1)
        except Exception:
            # A malformed chunk, a cut-off body: where the next request starts is unknown.
            drained = False
        if not drained:
            request.force_close()
