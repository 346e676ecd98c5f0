"""End-to-end fixtures: a real Berth server (``berth serve``) in a subprocess.

The ``berth`` fixture (session scope) starts ``<venv>/bin/berth serve --bind 127.0.0.1:<port>``
with a fresh BERTH_DATA_DIR and a fresh, migrated database (tests/live_database.py):

* if BERTH_TEST_DATABASE_URL or DATABASE_URL is a postgres URL, a new database
  ``berth_e2e_<pid>_<hex>`` is created on that server (and dropped at the end);
* otherwise Berth's own default: DATABASE_URL empty, a SQLite file in the data directory.

Client helpers: :func:`need` skips a test when a client binary is missing, except in CI
(``CI`` set), where a missing client is a failure.  :func:`run_isolated` runs skopeo/podman
with a private, empty blob-info cache so a push really uploads every blob instead of
cross-repository mounting blobs it remembers from earlier runs.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.live_database import server_database

E2E_DIR = Path(__file__).resolve().parent
REPO_ROOT = E2E_DIR.parent.parent
BIN_DIR = Path(sys.executable).parent
BERTH_BIN = BIN_DIR / "berth"
STARTUP_TIMEOUT = 90
CMD_TIMEOUT = 120
# Every live server answers /metrics to this bearer token (tests/e2e/test_operations.py).
METRICS_TOKEN = "e2e-metrics-" + secrets.token_hex(8)

_server_log_tail: list[str] = []
# Servers whose logs are checked for tracebacks after each test (until they stop).
_watched_servers: list[BerthServer] = []

TRACEBACK_START = "Traceback (most recent call last):"
# What follows an exception line when the traceback goes on with another exception.
_CHAINED = ("During handling of the above exception", "The above exception was the direct cause")


# --------------------------------------------------------------------------- markers / reporting


def pytest_collection_modifyitems(config, items):
    for item in items:
        if E2E_DIR in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.e2e)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if _server_log_tail and (
        exitstatus != 0 or terminalreporter.stats.get("failed") or terminalreporter.stats.get("error")
    ):
        terminalreporter.section("berth server log (tail)")
        for line in _server_log_tail:
            terminalreporter.write_line(line)


# --------------------------------------------------------------------------- server logs


def _json_tracebacks_expanded(log: str) -> str:
    """``log`` with the traceback of each JSON log line (BERTH_LOG_FORMAT=json puts it
    under "exception") written out as text after it, as the text format has it."""
    if '"exception"' not in log:
        return log
    lines = []
    for line in log.splitlines():
        lines.append(line)
        if line.startswith("{") and '"exception"' in line:
            try:
                exception = json.loads(line).get("exception")
            except ValueError:
                continue
            if isinstance(exception, str):
                lines.extend(exception.splitlines())
    return "\n".join(lines)


def tracebacks_in(log: str) -> list[str]:
    """Each traceback in ``log`` with the log line before it (the record that
    printed it: which request, which task) and the exception line that ends it,
    chained exceptions included. JSON log lines' tracebacks count too."""
    lines = _json_tracebacks_expanded(log).splitlines()
    found = []
    index = 0
    while index < len(lines):
        if lines[index].strip() != TRACEBACK_START:
            index += 1
            continue
        start = max(0, index - 1)
        while True:
            index += 1  # past "Traceback ...", then the indented frames
            while index < len(lines) and lines[index][:1].isspace():
                index += 1
            following = index + 1  # past the exception line, then blank lines
            while following < len(lines) and not lines[following].strip():
                following += 1
            if following < len(lines) and lines[following].startswith(_CHAINED):
                index = following + 1
                while index < len(lines) and lines[index].strip() != TRACEBACK_START:
                    index += 1
                continue
            break
        found.append("\n".join(lines[start : index + 1]))
        index += 1
    return found


def unexpected_tracebacks(servers: list[BerthServer], allowed: list[re.Pattern]) -> list[str]:
    """The tracebacks ``servers`` logged since the last look that no ``allowed``
    pattern matches, each under its log's path."""
    return [
        f"--- {server.log_path}\n{traceback}"
        for server in servers
        for traceback in tracebacks_in(server.read_new_log())
        if not any(pattern.search(traceback) for pattern in allowed)
    ]


@pytest.fixture(autouse=True)
def server_tracebacks_fail_the_test(request):
    """After each test, a traceback that a live server logged meanwhile fails it,
    unless the test expects it (``@pytest.mark.server_traceback(pattern)``)."""
    yield
    allowed = [re.compile(p) for marker in request.node.iter_markers("server_traceback") for p in marker.args]
    unexpected = unexpected_tracebacks(_watched_servers, allowed)
    _watched_servers[:] = [server for server in _watched_servers if server.proc and server.proc.poll() is None]
    if unexpected:
        pytest.fail(
            f"a live server logged {len(unexpected)} unexpected traceback(s) during this test:\n"
            + "\n".join(unexpected[:5]),
            pytrace=False,
        )


# --------------------------------------------------------------------------- client helpers


def in_ci() -> bool:
    return bool(os.environ.get("CI"))


def need(binary: str) -> str:
    """Path of a client binary; skip when missing (fail in CI)."""
    path = shutil.which(binary)
    if path is None:
        msg = f"client {binary!r} is not installed"
        if in_ci():
            pytest.fail(msg + " (CI is set: missing clients are failures)")
        pytest.skip(msg)
    return path


def _can_unshare() -> bool:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    try:
        return subprocess.run(["unshare", "-m", "true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


_UNSHARE_OK: bool | None = None

# containers/image keeps its blob-info cache here for root (no flag to move it); for
# non-root it lives under $XDG_DATA_HOME/containers/cache.
_SYSTEM_CACHE = "/var/lib/containers/cache"


def run_isolated(
    cmd: list[str],
    tmp: Path,
    env: dict | None = None,
    check: bool = True,
    timeout: int = CMD_TIMEOUT,
    text: bool = True,
    input: str | bytes | None = None,
) -> subprocess.CompletedProcess:
    """Run a containers/image client (skopeo, podman) with a private empty blob-info cache
    and no credentials from the host (an empty auth file, ``tmp/auth.json``, that a
    ``login`` writes to); ``input`` goes to its stdin (``--password-stdin``)."""
    global _UNSHARE_OK
    tmp.mkdir(parents=True, exist_ok=True)
    authfile = tmp / "auth.json"
    if not authfile.exists():
        authfile.write_text('{"auths": {}}')
    e = dict(os.environ)
    e["REGISTRY_AUTH_FILE"] = str(authfile)
    e["XDG_DATA_HOME"] = str(tmp / "xdg-data")  # non-root blob-info cache location
    e["XDG_RUNTIME_DIR"] = str(tmp / "xdg-run")
    (tmp / "xdg-run").mkdir(exist_ok=True, mode=0o700)
    e["HOME"] = str(tmp / "home")  # no ~/.docker/config.json or ~/.config/containers auth
    (tmp / "home").mkdir(exist_ok=True)
    e.pop("DOCKER_CONFIG", None)
    if env:
        e.update(env)
    if _UNSHARE_OK is None:
        _UNSHARE_OK = _can_unshare()
    full = list(cmd)
    if _UNSHARE_OK:
        # private mount namespace with a tmpfs over the root blob-info cache dir
        full = [
            "unshare",
            "-m",
            "sh",
            "-c",
            f'mkdir -p {_SYSTEM_CACHE} && mount -t tmpfs berth-e2e-cache {_SYSTEM_CACHE} && exec "$@"',
            "berth-e2e",
            *cmd,
        ]
    res = subprocess.run(full, capture_output=True, text=text, env=e, timeout=timeout, input=input)
    if check and res.returncode != 0:
        out, err = res.stdout, res.stderr
        if not text:
            out, err = out.decode(errors="replace"), err.decode(errors="replace")
        raise AssertionError(
            f"command failed (rc={res.returncode}): {' '.join(cmd)}\n"
            f"--- stdout\n{out[-4000:]}\n--- stderr\n{err[-4000:]}"
        )
    return res


# --------------------------------------------------------------------------- database


# One place makes every live server's database, a copy of a template migrated once
# per session: tests/live_database.py.


# --------------------------------------------------------------------------- server


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Account:
    account_id: str
    alias: str
    username: str
    password: str
    name: str
    raw: dict

    @property
    def creds(self) -> str:
        return f"{self.username}:{self.password}"


# Every process a test server starts carries this variable (children inherit it), so
# that the test can find them all, wherever they are.
SERVER_MARK_VARIABLE = "BERTH_TEST_SERVER_MARK"


def processes_marked(mark: str) -> dict[int, str]:
    """Every live process whose environment carries ``mark``: pid -> command line."""
    needle = f"{SERVER_MARK_VARIABLE}={mark}".encode()
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if needle not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # gone meanwhile, a zombie, or not ours to read
            continue
        found[int(entry.name)] = command.strip()
    return found


class BerthServer:
    def __init__(self, data_dir: Path, database_url: str):
        self.data_dir = data_dir
        self.database_url = database_url
        self.port = _free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.url = f"http://{self.host}"
        self.log_path = data_dir.parent / "berth-server.log"
        self.env = dict(os.environ)
        self.env.update({"BERTH_DATA_DIR": str(data_dir), "DATABASE_URL": database_url})
        # Servers of one test run may share a Redis: each installation (data dir)
        # gets its own Celery queue, as separate deployments would.
        self.env["BERTH_CELERY_QUEUE"] = "berth-e2e-" + hashlib.sha256(str(data_dir).encode()).hexdigest()[:12]
        self.env.pop("BERTH_TEST_DATABASE_URL", None)
        # set for the in-process unit tests by registry_project.pytest_environment; a real
        # server hands its tasks to its worker
        self.env.pop("CELERY_TASK_ALWAYS_EAGER", None)
        # likewise for the audit trail: a real server batches pull events in the background
        self.env.pop("BERTH_AUDIT_SYNCHRONOUS", None)
        self.env["BERTH_METRICS_TOKEN"] = METRICS_TOKEN
        # An idle Celery worker takes 5-9 s to finish a warm shutdown (billiard joins its
        # pool's threads a second at a time); a test's server is thrown away, so each stage
        # of its stop gets 5 s before its processes are killed (the suite's time). Tests of
        # the stop itself (test_serve_stop.py, apps/audit/tests/test_shutdown.py) set their own.
        self.env["BERTH_STOP_GRACE_SECONDS"] = "5"
        # Berth's settings with a fast password hasher (tests/live_server_settings.py).
        self.env["DJANGO_SETTINGS_MODULE"] = "tests.live_server_settings"
        self.env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), self.env.get("PYTHONPATH")]))
        self.mark = secrets.token_hex(8)
        self.env[SERVER_MARK_VARIABLE] = self.mark
        self.serve_options: list[str] = []  # for `berth serve`, after --bind
        self.proc: subprocess.Popen | None = None
        self._log = None
        self._log_checked = 0  # how much of the log the traceback check has read

    # -- CLI ---------------------------------------------------------------
    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        res = subprocess.run(
            [str(BERTH_BIN), *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=CMD_TIMEOUT,
            cwd=str(self.data_dir),
        )
        if check and res.returncode != 0:
            raise AssertionError(
                f"berth {' '.join(args)} failed (rc={res.returncode})\n"
                f"--- stdout\n{res.stdout}\n--- stderr\n{res.stderr}"
            )
        return res

    def create_account(self, name: str, username: str | None = None, password: str | None = None) -> Account:
        username = username or f"e2e-{secrets.token_hex(4)}"
        password = password or secrets.token_urlsafe(18)
        # `--password=` so that a password starting with '-' is not taken for an option
        res = self.cli("create_account", "--name", name, "--username", username, f"--password={password}", "--json")
        data = _last_json(res.stdout)
        acct = data.get("account", data) if isinstance(data.get("account"), dict) else data
        account_id = str(acct.get("account_id") or acct.get("id"))
        alias = acct.get("alias") or data.get("alias")
        assert account_id and account_id != "None", data
        return Account(
            account_id=account_id,
            alias=alias,
            username=data.get("username", username),
            password=password,
            name=name,
            raw=data,
        )

    def create_repository(self, account_id: str, name: str, public: bool = False):
        args = ["create_repository", "--account", str(account_id), "--name", name]
        if public:
            args.append("--public")
        return self.cli(*args)

    # -- lifecycle ---------------------------------------------------------
    def start(self) -> None:
        self.launch()
        self.wait_until_ready()

    def launch(self) -> None:
        """Start `berth serve` without waiting for it (servers that start together)."""
        self._log = open(self.log_path, "wb")
        self._log_checked = 0
        _watched_servers.append(self)
        self.proc = subprocess.Popen(
            [str(BERTH_BIN), "serve", "--bind", self.host, *self.serve_options],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=self.env,
            cwd=str(self.data_dir),
            start_new_session=True,
        )

    def wait_until_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"berth serve exited with {self.proc.returncode}\n" + self.log_tail())
            try:
                with urllib.request.urlopen(self.url + "/v2/", timeout=5) as r:
                    last = r.status
                    return
            except urllib.error.HTTPError as e:
                last = e.code
                if e.code in (200, 401):
                    return
            except (urllib.error.URLError, OSError) as e:
                last = e
            time.sleep(0.2)
        raise RuntimeError(f"berth did not answer GET /v2/ in {STARTUP_TIMEOUT}s (last: {last})\n" + self.log_tail())

    def stop(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                # `berth serve` stops its own children (gunicorn, worker, beat) on SIGTERM
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    pass
            # then kill whatever is left of it, in whichever process group
            for pid in processes_marked(self.mark):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.proc.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None

    def read_new_log(self) -> str:
        """The log written since the last call (whole lines only)."""
        try:
            with open(self.log_path, "rb") as log:
                log.seek(self._log_checked)
                text = log.read()
        except OSError:
            return ""
        text = text[: text.rfind(b"\n") + 1]
        self._log_checked += len(text)
        return text.decode(errors="replace")

    def wait_for_log(self, text: str, timeout: float) -> None:
        """Wait until the log holds ``text`` (a request's access log line: the
        server has finished with it)."""
        deadline = time.monotonic() + timeout
        while text not in self.log_path.read_text(errors="replace"):
            if time.monotonic() > deadline:
                raise AssertionError(f"the server did not log {text!r} within {timeout}s\n{self.log_tail()}")
            time.sleep(0.1)

    def log_tail(self, n: int = 80) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no server log)"
        return "\n".join(lines[-n:])


def _last_json(out: str) -> dict:
    out = out.strip()
    try:
        return json.loads(out)
    except ValueError:
        pass
    for line in reversed(out.splitlines()):  # tolerate log lines before the JSON
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                continue
    start = out.find("{")
    if start >= 0:
        return json.loads(out[start:])
    raise AssertionError(f"no JSON in output: {out!r}")


@pytest.fixture(scope="session")
def berth(tmp_path_factory):
    if not BERTH_BIN.exists():
        pytest.fail(f"{BERTH_BIN} not found: pip install -e . into this venv")
    root = tmp_path_factory.mktemp("berth-e2e")
    data_dir = root / "data"
    data_dir.mkdir()

    with server_database(data_dir) as database_url:
        # no DATABASE_URL is Berth's embedded default: SQLite in BERTH_DATA_DIR (with
        # the WAL / IMMEDIATE / busy-timeout options the default config sets)
        server = BerthServer(data_dir, database_url)
        try:
            server.start()
            yield server
        finally:
            server.stop()
            _server_log_tail[:] = server.log_tail(60).splitlines()
    # what it logged after the last test's check: while it stopped, or late
    late = tracebacks_in(server.read_new_log())
    if late:
        pytest.fail(f"the live server logged {len(late)} traceback(s) after the last test:\n" + "\n".join(late[:5]))


@pytest.fixture
def work(tmp_path) -> Path:
    return tmp_path
