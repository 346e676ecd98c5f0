"""A TCP proxy on 127.0.0.1 that breaks connections on purpose, for the outbound
client's resume tests against real registries (tests/e2e/test_outbound_client.py).

It forwards bytes as they come and reads just enough HTTP to know where to cut:

* ``cut_patch_after``: the next PATCH request (after ``patches_before_cut`` more
  have gone through whole) has its connection closed after that many bytes of its
  body (the registry sees a body cut short);
* ``cut_blob_download_after``: the next response to a ``GET .../blobs/<digest>``
  is cut after that many bytes (headers included) have reached the client.

Each fault fires once and counts in ``cuts``. Everything runs in daemon threads
that ``close()`` ends."""

from __future__ import annotations

import re
import socket
import threading

_PATCH = re.compile(rb"^PATCH \S+ HTTP/1\.[01]\r\n", re.MULTILINE)
_BLOB_GET = re.compile(rb"^GET /v2/\S+/blobs/[a-z0-9]+:[a-f0-9]+ HTTP/1\.[01]\r\n", re.MULTILINE)


class BreakingProxy:
    def __init__(self, upstream_port: int) -> None:
        self.upstream = ("127.0.0.1", upstream_port)
        self.cut_patch_after: int | None = None
        self.patches_before_cut = 0
        self.cut_blob_download_after: int | None = None
        self.cuts: list[str] = []
        self._lock = threading.Lock()
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(32)
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._sockets: list[socket.socket] = []
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _take(self, name: str) -> int | None:
        with self._lock:
            value = getattr(self, name)
            setattr(self, name, None)
            return value

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=10)
            except OSError:
                client.close()
                continue
            for sock in (client, server):
                sock.settimeout(60)
            self._sockets += [client, server]
            state = {"download_budget": None}
            threading.Thread(target=self._requests, args=(client, server, state), daemon=True).start()
            threading.Thread(target=self._responses, args=(server, client, state), daemon=True).start()

    @staticmethod
    def _hang_up(*sockets: socket.socket) -> None:
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def _requests(self, client: socket.socket, server: socket.socket, state: dict) -> None:
        """Client -> registry; cuts a PATCH body, arms a blob download's cut."""
        body_budget = None  # bytes of the PATCH body still to forward before the cut
        try:
            while True:
                data = client.recv(65536)
                if not data:
                    break
                if body_budget is None and _PATCH.search(data) and self.cut_patch_after is not None:
                    with self._lock:
                        spared = self.patches_before_cut > 0
                        self.patches_before_cut -= spared
                    budget = None if spared else self._take("cut_patch_after")
                    if budget is not None:
                        head_end = data.find(b"\r\n\r\n")
                        body_budget = budget
                        if head_end >= 0:
                            head, data = data[: head_end + 4], data[head_end + 4 :]
                            server.sendall(head)
                if _BLOB_GET.search(data) and self.cut_blob_download_after is not None:
                    state["download_budget"] = self._take("cut_blob_download_after")
                if body_budget is not None:
                    if len(data) >= body_budget:
                        server.sendall(data[:body_budget])
                        self.cuts.append("patch")
                        self._hang_up(client, server)
                        return
                    body_budget -= len(data)
                server.sendall(data)
        except OSError:
            pass
        self._hang_up(client, server)

    def _responses(self, server: socket.socket, client: socket.socket, state: dict) -> None:
        try:
            while True:
                data = server.recv(65536)
                if not data:
                    break
                budget = state["download_budget"]
                if budget is not None:
                    if len(data) >= budget:
                        client.sendall(data[:budget])
                        self.cuts.append("download")
                        self._hang_up(client, server)
                        return
                    state["download_budget"] = budget - len(data)
                client.sendall(data)
        except OSError:
            pass
        self._hang_up(client, server)

    def close(self) -> None:
        self._closed = True
        self._listener.close()
        for sock in self._sockets:
            try:
                sock.close()
            except OSError:
                pass
