"""`berth serve` stops as a whole: Ctrl-C in a terminal (SIGINT to the whole
foreground process group), a child that will not stop, and `serve` itself killed.
After each, no process of that server is left and its port can be bound again."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from registry_project.management.commands.serve import STOP_ORDER
from tests.e2e.conftest import BerthServer, processes_marked
from tests.live_database import sqlite_database

CTRL_C_ROUNDS = 5
# Rounds run in batches whose servers start and stop together, as on a loaded host.
ROUNDS_AT_ONCE = 5
GRACE_SECONDS = 15
# Each stage of the stop (web; worker and beat; audit writer) has the grace period.
STOP_SECONDS = len(STOP_ORDER) * GRACE_SECONDS

# Process handling, whatever the database: the servers here run on SQLite.
pytestmark = pytest.mark.database_independent


def wait_until_gone(mark: str, timeout: float) -> dict[int, str]:
    deadline = time.monotonic() + timeout
    while (left := processes_marked(mark)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def port_is_free(port: int) -> bool:
    """Whether a server could listen on ``port`` (as gunicorn does, past the
    connections of the readiness check waiting out TIME_WAIT)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def sqlite_server(data_dir: Path, log_name: str, **env: str) -> BerthServer:
    # SQLite: a server of its own, whatever the other tests use
    server = BerthServer(data_dir, sqlite_database(data_dir))
    server.log_path = data_dir.parent / log_name
    server.env.update({"BERTH_WEB_WORKERS": "2", "BERTH_STOP_GRACE_SECONDS": str(GRACE_SECONDS), **env})
    return server


def child_pid(server: BerthServer, name: str) -> int:
    found = re.search(rf"^started {name} \(pid (\d+)\)$", server.log_path.read_text(), re.MULTILINE)
    assert found, server.log_tail()
    return int(found.group(1))


def stop_lines(server: BerthServer) -> list[str]:
    return re.findall(r"^stopped (\w+) \(pid \d+, exit code -?\d+\)$", server.log_path.read_text(), re.MULTILINE)


@pytest.fixture
def data_dir(tmp_path) -> Path:
    directory = tmp_path / "data"
    directory.mkdir()
    return directory


def check_stopped_by_ctrl_c(round_number: int, server: BerthServer) -> None:
    try:
        exit_code = server.proc.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        pytest.fail(f"round {round_number}: serve still running {STOP_SECONDS}s after Ctrl-C\n{server.log_tail()}")
    left = wait_until_gone(server.mark, timeout=5)
    assert not left, f"round {round_number}: left running after Ctrl-C: {left}\n{server.log_tail()}"
    assert port_is_free(server.port), f"round {round_number}: port {server.port} still held"
    assert exit_code == 0, server.log_tail()
    log = server.log_path.read_text()
    assert "received SIGINT: stopping" in log
    assert stop_lines(server)[0] == "web" and stop_lines(server)[-1] == "audit", server.log_tail()
    assert set(stop_lines(server)) == {"web", "worker", "beat", "audit"}, server.log_tail()
    assert "did not stop within" not in log, server.log_tail()


def test_ctrl_c_in_a_terminal_stops_every_process_in_order(data_dir):
    for first in range(0, CTRL_C_ROUNDS, ROUNDS_AT_ONCE):
        servers = {}
        for round_number in range(first, min(first + ROUNDS_AT_ONCE, CTRL_C_ROUNDS)):
            directory = data_dir / f"round-{round_number}"
            directory.mkdir()
            servers[round_number] = sqlite_server(directory, f"serve-{round_number}.log")
        try:
            for server in servers.values():
                server.launch()  # in a session and process group of its own, as a terminal starts a job
            for server in servers.values():
                server.wait_until_ready()
            for server in servers.values():
                os.killpg(server.proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
            for round_number, server in servers.items():
                check_stopped_by_ctrl_c(round_number, server)
        finally:
            for server in servers.values():
                server.stop()


def test_a_child_that_does_not_stop_is_killed_with_its_process_group(data_dir):
    server = sqlite_server(data_dir, "serve.log", BERTH_STOP_GRACE_SECONDS="3")
    server.start()
    try:
        arbiter = child_pid(server, "web")
        os.kill(arbiter, signal.SIGSTOP)  # a stopped gunicorn takes no notice of SIGTERM
        started = time.monotonic()
        os.killpg(server.proc.pid, signal.SIGINT)
        assert server.proc.wait(timeout=STOP_SECONDS) == 0
        assert time.monotonic() - started >= 3
        assert not wait_until_gone(server.mark, timeout=5), server.log_tail()
        assert port_is_free(server.port)
        log = server.log_path.read_text()
        assert f"web (pid {arbiter}) did not stop within 3s: killed its process group" in log, server.log_tail()
        assert set(stop_lines(server)) == {"web", "worker", "beat", "audit"}, server.log_tail()
    finally:
        server.stop()


# Killed this soon after its start, beat may be opening its schedule file (shelve importing
# dbm.dumb) when the kernel's SIGTERM arrives: the import is cut and beat logs it as it exits.
@pytest.mark.server_traceback(r"dbm\.dumb")
def test_no_child_outlives_a_killed_serve(data_dir):
    server = sqlite_server(data_dir, "serve.log")
    server.start()
    try:
        children = {name: child_pid(server, name) for name in ("web", "worker", "beat", "audit")}
        os.kill(server.proc.pid, signal.SIGKILL)  # no orderly stop: the kernel tells the children
        server.proc.wait(timeout=10)
        left = wait_until_gone(server.mark, timeout=GRACE_SECONDS + 15)
        assert not left, f"outlived serve: {left} (children were {children})\n{server.log_tail()}"
        assert port_is_free(server.port)
    finally:
        server.stop()
