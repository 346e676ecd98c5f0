"""Slow clients against `berth serve` with one gunicorn worker of two threads and
short client deadlines: connections that trickle their head or body do not keep
the threads from others, and are answered 408 and closed at their deadline.

Not a benchmark (bench/slow_clients.py is): the bounds here are generous, what
they tell apart is served in seconds from not served at all."""

from __future__ import annotations

import hashlib
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from contextlib import ExitStack
from pathlib import Path

import pytest
import requests

from tests.live_database import sqlite_database

from .rawhttp import Connection, request

BERTH = Path(sys.executable).with_name("berth")
HEADER_TIMEOUT = BODY_TIMEOUT = 2
#: What "served while slow clients are connected" means here: seconds, not never.
SERVED_WITHIN = 10


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SmallServer:
    """`berth serve --workers 1 --threads 2 --no-worker` on SQLite in a temporary
    directory, with the client deadlines above."""

    def __init__(self, root: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = root / "berth-server.log"
        self.env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL")}
        self.env.update(
            {
                "BERTH_DATA_DIR": str(root / "data"),
                "BERTH_CLIENT_HEADER_TIMEOUT": str(HEADER_TIMEOUT),
                "BERTH_CLIENT_BODY_TIMEOUT": str(BODY_TIMEOUT),
                "BERTH_CELERY_QUEUE": f"berth-slow-{self.port}",
            }
        )
        for name in ("BERTH_AUDIT_SYNCHRONOUS", "CELERY_TASK_ALWAYS_EAGER", "BERTH_TEST_DATABASE_URL"):
            self.env.pop(name, None)
        sqlite_database(root / "data")

    def berth(self, *args: str) -> str:
        result = subprocess.run([str(BERTH), *args], env=self.env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr[-3000:]
        return result.stdout

    def start(self) -> None:
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [
                    str(BERTH),
                    "serve",
                    "--bind",
                    f"127.0.0.1:{self.port}",
                    "--workers",
                    "1",
                    "--threads",
                    "2",
                    "--no-worker",
                ],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(self.url + "/v2/", timeout=5)
                return
            except urllib.error.HTTPError:
                return  # 401: it answers
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("berth serve did not start:\n" + self.log_path.read_text()[-3000:]) from None
                time.sleep(0.3)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=10)

    def connect(self) -> Connection:
        return Connection("127.0.0.1", self.port, timeout=SERVED_WITHIN + 20)


@pytest.fixture(scope="module")
def server():
    with tempfile.TemporaryDirectory(prefix="berth-slow-") as root:
        running = SmallServer(Path(root))
        running.start()
        try:
            yield running
        finally:
            running.stop()
        assert "Traceback" not in running.log_path.read_text(errors="replace"), running.log_path.read_text()[-5000:]


@pytest.fixture(scope="module")
def push(server) -> tuple[str, dict[str, str]]:
    """A repository name and the headers of a push token for it."""
    password = "slow-clients-password"
    created = server.berth("create_account", "--name", "slow", "--username", "slow", f"--password={password}", "--json")
    account_id = re.search(r'"account_id": "(\d+)"', created).group(1)
    name = f"{account_id}/slow"
    token = requests.get(
        f"{server.url}/token",
        params={"service": "berth-registry", "scope": f"repository:{name}:pull,push"},
        auth=("slow", password),
        timeout=30,
    )
    assert token.status_code == 200, token.text
    return name, {"Authorization": f"Bearer {token.json()['token']}"}


def slow_header(server) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.sendall(b"GET /v2/ HTTP/1.1\r\nHost: registry\r\nX-Slow: a")
    return sock


def slow_body(server) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.sendall(
        request(
            "POST",
            "/token",
            headers={"Content-Type": "application/x-www-form-urlencoded", "Content-Length": str(1024 * 1024)},
            body=b"grant_type=",
        )
    )
    return sock


def answer_to(sock: socket.socket, within: float) -> bytes:
    """What the server sends until it closes the connection (at most ``within`` s)."""
    sock.settimeout(within)
    received = b""
    try:
        while data := sock.recv(65536):
            received += data
    except ConnectionResetError:
        pass
    return received


def test_requests_are_served_while_slow_clients_hold_connections(server):
    with ExitStack() as stack:
        for _ in range(20):
            stack.callback(slow_header(server).close)
            stack.callback(slow_body(server).close)
        started = time.monotonic()
        with server.connect() as connection:
            connection.sock.settimeout(SERVED_WITHIN)
            connection.send(request("GET", "/v2/"))
            assert connection.read_response().status == 401
            connection.send(
                request(
                    "POST",
                    "/token",
                    body=b"grant_type=none",
                    headers={"Content-Type": "application/x-www-form-urlencoded"},
                )
            )
            assert connection.read_response().status == 400
        assert time.monotonic() - started < SERVED_WITHIN


def test_a_client_that_does_not_finish_its_head_is_answered_408_and_closed(server):
    started = time.monotonic()
    with slow_header(server) as sock:
        answer = answer_to(sock, within=HEADER_TIMEOUT + SERVED_WITHIN)
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert time.monotonic() - started >= HEADER_TIMEOUT


def test_a_client_that_trickles_its_body_is_answered_408_and_closed(server):
    received = []
    with slow_body(server) as sock:
        reader = threading.Thread(target=lambda: received.append(answer_to(sock, within=BODY_TIMEOUT + SERVED_WITHIN)))
        reader.start()
        # a byte a second: not silent, but far below the minimum rate
        while reader.is_alive():
            try:
                sock.sendall(b"x")
            except OSError:
                break
            reader.join(timeout=1)
    assert received[0].startswith(b"HTTP/1.1 408 "), received


def test_a_body_that_stops_after_its_start_is_dropped_by_its_thread(server, push):
    """The first 300 kB (more than the event loop buffers) come at once, then nothing:
    both threads read a body that stalls, and still the server answers others."""
    name, auth = push
    digest = "sha256:" + hashlib.sha256(b"never sent whole").hexdigest()
    stalled = []
    for _ in range(2):
        connection = server.connect()
        connection.send(
            request(
                "POST",
                f"/v2/{name}/blobs/uploads/?digest={digest}",
                body=os.urandom(300_000),
                headers={**auth, "Content-Length": str(10 * 1024 * 1024)},
            )
        )
        stalled.append(connection)
    with server.connect() as other:
        other.sock.settimeout(BODY_TIMEOUT + SERVED_WITHIN)
        other.send(request("GET", "/v2/"))
        assert other.read_response().status == 401
    for connection in stalled:
        with connection:
            response = connection.read_response()
            assert response.status == 408
            assert response.error_codes() == ["BLOB_UPLOAD_INVALID"]
            assert response.header("Connection") == "close"
    status = requests.head(f"{server.url}/v2/{name}/blobs/{digest}", headers=auth, timeout=30)
    assert status.status_code == 404


def test_a_body_trickled_after_its_start_is_dropped_by_its_thread(server, push):
    """100 kB at once (more than the event loop buffers), then a byte every quarter
    second: never silent for long, but below the minimum rate once the credit of the
    first 100 kB is spent (100 kB at the minimum rate of 32 KiB/s: 3 s)."""
    name, auth = push
    digest = "sha256:" + hashlib.sha256(b"never sent whole").hexdigest()
    received = []
    with server.connect() as connection:
        connection.send(
            request(
                "POST",
                f"/v2/{name}/blobs/uploads/?digest={digest}",
                body=os.urandom(100_000),
                headers={**auth, "Content-Length": str(10 * 1024 * 1024)},
            )
        )
        reader = threading.Thread(target=lambda: received.append(connection.read_response()))
        reader.start()
        deadline = time.monotonic() + BODY_TIMEOUT + 3 + SERVED_WITHIN
        while reader.is_alive() and time.monotonic() < deadline:
            try:
                connection.send(b"x")
            except OSError:
                break
            reader.join(timeout=0.25)
        reader.join(timeout=SERVED_WITHIN)
    assert received and received[0].status == 408
    assert received[0].error_codes() == ["BLOB_UPLOAD_INVALID"]


def test_a_client_waiting_for_100_continue_gets_one(server, push):
    name, auth = push
    data = os.urandom(200_000)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    with server.connect() as connection:
        connection.send(
            request(
                "POST",
                f"/v2/{name}/blobs/uploads/?digest={digest}",
                headers={**auth, "Expect": "100-continue", "Content-Length": str(len(data))},
            )
        )
        connection.sock.settimeout(SERVED_WITHIN)
        while b"\r\n\r\n" not in connection.buffer:
            connection.buffer += connection.sock.recv(65536)
        assert connection.buffer.startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        connection.send(data)
        response = connection.read_response()
        assert response.status == 201, response.body
        assert b"100 Continue" not in connection.buffer


def test_clients_that_never_close_do_not_stall_the_others(server):
    """Each asks for the connection to be closed after its answer, then neither reads
    nor closes: the server must not wait for them before serving anyone else."""
    with ExitStack() as stack:
        for _ in range(30):
            sock = socket.create_connection(("127.0.0.1", server.port))
            stack.callback(sock.close)
            sock.sendall(request("GET", "/v2/", headers={"Connection": "close"}))
        time.sleep(0.5)
        started = time.monotonic()
        with server.connect() as connection:
            connection.sock.settimeout(SERVED_WITHIN)
            connection.send(request("GET", "/v2/"))
            assert connection.read_response().status == 401
        assert time.monotonic() - started < 5


def test_a_head_longer_than_the_event_loop_buffers_is_refused(server):
    with server.connect() as connection:
        connection.send(request("GET", "/v2/", headers={f"X-Filler-{i}": "f" * 4000 for i in range(20)}))
        response = connection.read_response()
        assert response.status == 431
        assert response.header("Connection") == "close"


def test_a_tls_handshake_is_refused_at_once(server):
    """Docker's --insecure tries TLS first and falls back to plain HTTP when the answer
    is not TLS: it must come before the header deadline (and Docker's own 10 s)."""
    client_hello = bytes.fromhex("16030100f5010000f10303") + os.urandom(32) + b"\x00" * 40
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(client_hello)
        answer = answer_to(sock, within=SERVED_WITHIN)
    assert answer.startswith(b"HTTP/1.1 400 "), answer
    assert time.monotonic() - started < HEADER_TIMEOUT
