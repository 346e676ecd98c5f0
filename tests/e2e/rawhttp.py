"""HTTP/1.1 over a plain socket, for tests that need what a client library hides:
several requests on one connection, pipelining, malformed framing, slow sending."""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass, field


@dataclass
class Response:
    status: int
    headers: dict[str, str] = field(default_factory=dict)  # names in lower case
    body: bytes = b""

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def json(self):
        return json.loads(self.body)

    def error_codes(self) -> list[str]:
        return [error["code"] for error in self.json()["errors"]]


class Connection:
    """One client connection; ``read_response`` reads exactly one response, so the
    next request can follow on the same connection."""

    def __init__(self, host: str, port: int, timeout: float = 30) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buffer = b""

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _more(self) -> bytes:
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError(f"the server closed the connection (unparsed: {self.buffer[:200]!r})")
        self.buffer += data
        return data

    def _take_until(self, marker: bytes) -> bytes:
        while marker not in self.buffer:
            self._more()
        taken, self.buffer = self.buffer.split(marker, 1)
        return taken

    def _take(self, count: int) -> bytes:
        while len(self.buffer) < count:
            self._more()
        taken, self.buffer = self.buffer[:count], self.buffer[count:]
        return taken

    def read_response(self, *, head: bool = False) -> Response:
        """The next final response (interim 1xx ones are skipped); ``head``: it answers a HEAD."""
        while True:
            lines = self._take_until(b"\r\n\r\n").decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ", 2)[1])
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            if status >= 200:
                break
        response = Response(status, headers)
        if head or status in (204, 304):
            return response
        if headers.get("transfer-encoding", "").lower() == "chunked":
            while size := int(self._take_until(b"\r\n").split(b";")[0], 16):
                response.body += self._take(size)
                self._take(2)
            self._take_until(b"\r\n")  # no trailers
        else:
            response.body = self._take(int(headers.get("content-length", "0")))
        return response

    def closed_by_server(self) -> bool:
        """Whether the server has closed the connection (after the response read)."""
        try:
            return not self.buffer and not self.sock.recv(1)
        except ConnectionResetError:
            return True


def request(
    method: str, path: str, *, headers: dict[str, str] | None = None, body: bytes | None = None, host: str = "127.0.0.1"
) -> bytes:
    """The bytes of a request; a body gets its Content-Length unless a header frames it."""
    fields = {"Host": host, **(headers or {})}
    if body is not None and "Transfer-Encoding" not in fields:
        fields.setdefault("Content-Length", str(len(body)))
    head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{name}: {value}\r\n" for name, value in fields.items())
    return head.encode("latin-1") + b"\r\n" + (body or b"")


def chunked(*pieces: bytes) -> bytes:
    """``pieces`` in chunked framing, with the last chunk."""
    return b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces if piece) + b"0\r\n\r\n"
