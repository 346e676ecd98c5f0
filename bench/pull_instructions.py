"""Instructions per manifest GET and per MiB of a blob PUT in one gunicorn worker,
counted by callgrind: repeatable to a fraction of a percent whatever else the
machine does, where req/s on a shared host drift by a third within minutes.

    python bench/pull_instructions.py --modes off,on
    python bench/pull_instructions.py --record-baseline --reason "why the figures move"

The server is `berth serve`'s gunicorn (its command line, worker class and hooks)
with one worker and one thread, on SQLite and the filesystem in a temporary data
directory, under `valgrind --tool=callgrind`; mode off sets
BERTH_AUDIT_READ_EVENTS=false (no pull events), mode on records them.

Its master loads the application before it forks (gunicorn's --preload) with
valgrind's instrumentation off (--instr-atstart=no: an order of magnitude
faster), and its first worker, uninstrumented too, mints a pull-and-push token and
takes a push of a small image. Then the instrumentation goes on
(callgrind_control --instr=on) and each worker after it, forked ready to serve,
serves one connection and is stopped; it counts from its fork
(--zero-before=PyOS_AfterFork_Child) until Python finalizes
(--dump-before=Py_FinalizeEx):

    worker A: N1 manifest GETs, then a monolithic PUT (POST, PUT ?digest=) of S1 MiB
    worker B: N2 manifest GETs, then a PUT of S1 MiB
    worker C: N1 manifest GETs, then a PUT of S2 MiB

(B - A) / (N2 - N1) is the count per GET and (C - A) / (S2 - S1) the count per
MiB PUT: what every worker does besides (its first request's set-up, its exit)
cancels out, and whatever else runs on the host does not change a count. A
worker writes its pull events to the spool once, as it exits
(BERTH_AUDIT_SPOOL_WRITE_SECONDS is an hour here), and publishes its served-bytes
tallies once too (BERTH_USAGE_FLUSH_SECONDS, an hour), so that no count depends on how
long a request took; the audit writer does not run (bench/audit_ingest.py
measures it). Needs valgrind (apt-get install valgrind).

--record-baseline measures as the test suite's instruction budget
(tests/perf/test_instruction_budget.py) does and appends the figures, with the
reason given, to bench/instruction_baseline.json, whose last entry the test holds
the code to."""

from __future__ import annotations

import argparse
import base64
import gzip
import hashlib
import http.client
import io
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.parse
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
CHECKOUT = BENCH.parent
BASELINE = BENCH / "instruction_baseline.json"

MODES = {"off": {"BERTH_AUDIT_READ_EVENTS": "false"}, "on": {"BERTH_AUDIT_READ_EVENTS": "true"}}
#: What the test suite's budget measures: manifest GETs in workers A and B, MiB
#: PUT in workers A (and B) and C.
BUDGET_GETS = (5, 25)
BUDGET_PUT_MIB = (1, 5)
#: A figure this much over its baseline fails the budget; this much under it, the
#: baseline may be lowered.
TOLERANCE = 0.10
SLACK = 0.05

MiB = 1 << 20
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
USERNAME = "bench"
REPOSITORY = "bench/instructions"
STARTUP_TIMEOUT = 600
REQUEST_TIMEOUT = 600


class MeasurementFailed(RuntimeError):
    pass


@dataclass(frozen=True)
class Figures:
    instructions_per_manifest_get: float
    instructions_per_blob_put_mib: float


def server_environment(data: Path, extra: dict[str, str]) -> dict[str, str]:
    """The process environment without the caller's Berth, Celery and database
    settings (the counts depend on them), then the measurement's own."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("BERTH_", "CELERY_"))
        and name not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "PYTHONPATH")
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "registry_project.settings",
            "BERTH_DATA_DIR": str(data),
            "BERTH_AUDIT_WRITER": "process",  # as `berth serve`: web workers only spool
            "BERTH_AUDIT_SPOOL_WRITE_SECONDS": "3600",
            "BERTH_USAGE_FLUSH_SECONDS": "3600",  # served bytes published at exit only, as the pull events
            "BERTH_TOKEN_TTL": "3600",
            "PYTHONHASHSEED": "0",
            "PYTHONPATH": str(BENCH),  # for gunicorn's master: preloaded_application
            **extra,
        }
    )
    return env


def small_image() -> tuple[dict[str, bytes], bytes]:
    """The blobs (config, one gzip tar layer) and the OCI manifest of an image."""
    tar_bytes = io.BytesIO()
    with tarfile.open(fileobj=tar_bytes, mode="w") as archive:
        content = os.urandom(4096)
        member = tarfile.TarInfo("app/data")
        member.size = len(content)
        archive.addfile(member, io.BytesIO(content))
    layer = gzip.compress(tar_bytes.getvalue(), mtime=0)
    diff_id = "sha256:" + hashlib.sha256(tar_bytes.getvalue()).hexdigest()
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Cmd": ["/app/data"]},
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        }
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": digest_of(config),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": digest_of(layer),
                    "size": len(layer),
                }
            ],
        }
    ).encode()
    return {digest_of(config): config, digest_of(layer): layer}, manifest


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def preloaded_application(wsgi_module: str):
    """The WSGI application of ``wsgi_module`` with its URLconf, and so every view
    module, imported: gunicorn's master loads it before it forks (--preload), so
    that a measured worker does not import the views on its first request, under
    callgrind, which takes longer than all it measures."""
    import importlib

    from django.conf import settings

    application = importlib.import_module(wsgi_module).application
    importlib.import_module(settings.ROOT_URLCONF)
    return application


def children_of(pid: int) -> list[int]:
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        if int(stat[stat.rindex(")") + 2 :].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def dump_total(path: Path) -> int | None:
    """The instruction total of a callgrind file once it is written whole (its
    last line)."""
    try:
        with open(path, "rb") as dump:
            dump.seek(max(0, dump.seek(0, os.SEEK_END) - 100))
            tail = dump.read()
    except FileNotFoundError:
        return None
    total = re.search(rb"\ntotals: (\d+)\n$", tail)
    return int(total.group(1)) if total else None


def has_exited(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rindex(")") + 2] == "Z"


class CallgrindServer:
    """`berth serve`'s gunicorn, one worker with one thread, under callgrind (see
    the module's docstring), in ``work``: data directory, server log, callgrind
    files, valgrind's control pipes."""

    def __init__(self, work: Path, *, checkout: Path, python: Path, env: dict[str, str]) -> None:
        self.work = work
        self.checkout = checkout
        self.python = python
        self.data = work / "data"
        self.log_path = work / "server.log"
        self.env = server_environment(self.data, env)
        self.process: subprocess.Popen | None = None
        self.port = 0
        self.password = base64.urlsafe_b64encode(os.urandom(18)).decode()
        self.authorization = ""
        self.name = ""
        self.manifest = b""

    def manage(self, *args: str) -> str:
        result = subprocess.run(
            [str(self.python), "-m", "django", *args],
            cwd=self.checkout,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if result.returncode:
            raise MeasurementFailed(f"django-admin {args[0]} failed:\n{result.stderr[-3000:]}")
        return result.stdout

    def start(self) -> None:
        self.data.mkdir(parents=True)
        # `berth serve`'s own command line, from this checkout's code whichever
        # checkout is measured
        from registry_project.management.commands.serve import gunicorn_command

        gunicorn = gunicorn_command(bind="127.0.0.1:0", workers=1, threads=1)
        gunicorn[0] = str(self.python)
        app = next(index for index, arg in enumerate(gunicorn) if arg.endswith(":application"))
        gunicorn[app] = f"{Path(__file__).stem}:preloaded_application({gunicorn[app].split(':')[0]!r})"
        command = [
            "valgrind",
            "--tool=callgrind",
            "--instr-atstart=no",
            "--zero-before=PyOS_AfterFork_Child",
            "--dump-before=Py_FinalizeEx",
            f"--vgdb-prefix={self.work / 'vgdb'}",
            f"--callgrind-out-file={self.work / 'callgrind'}.%p",
            *gunicorn,
            "--preload",
        ]
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                command, cwd=self.checkout, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        # while valgrind starts gunicorn (loading the application queries no table)
        self.manage("migrate", "-v0")
        created = self.manage(
            "create_account", "--name", "bench", "--username", USERNAME, f"--password={self.password}", "--json"
        )
        account = json.loads(next(line for line in reversed(created.splitlines()) if line.startswith("{")))
        self.name = f"{account['account_id']}/{REPOSITORY}"
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not self.port:
            listening = re.search(rb"Listening at: http://127\.0\.0\.1:(\d+)", self.log_path.read_bytes())
            if listening:
                self.port = int(listening.group(1))
            elif self.process.poll() is not None or time.monotonic() > deadline:
                raise MeasurementFailed(f"the server did not start:\n{self.log_tail()}")
            else:
                time.sleep(0.2)
        self.set_up()
        instrument = subprocess.run(
            ["callgrind_control", f"--vgdb-prefix={self.work / 'vgdb'}", "--instr=on", str(self.process.pid)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        if "OK" not in instrument.stdout:
            raise MeasurementFailed(f"callgrind_control --instr=on failed:\n{instrument.stdout}{instrument.stderr}")
        # the set-up worker, uninstrumented and counting nothing: the master forks
        # the first measured one
        set_up_worker = self.worker()
        os.kill(set_up_worker, signal.SIGKILL)
        self.wait_until_exited(set_up_worker)

    def connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=REQUEST_TIMEOUT)

    def request(
        self, connection, method: str, path: str, expect: int, body: bytes | None = None, headers: dict | None = None
    ) -> tuple[http.client.HTTPMessage, bytes]:
        connection.request(method, path, body=body, headers={**(headers or {}), "Authorization": self.authorization})
        response = connection.getresponse()
        answer = response.read()
        if response.status != expect:
            raise MeasurementFailed(
                f"{method} {path} answered {response.status}, not {expect}: {answer[:500]!r}\n{self.log_tail()}"
            )
        return response.headers, answer

    def set_up(self) -> None:
        """A push-and-pull token and an image to pull, in the first worker."""
        connection = self.connect()
        connection.request("GET", "/v2/")
        challenge = connection.getresponse()
        challenge.read()
        www = challenge.headers["WWW-Authenticate"]
        realm = urllib.parse.urlsplit(re.search(r'realm="([^"]*)"', www).group(1)).path
        service = re.search(r'service="([^"]*)"', www).group(1)
        query = urllib.parse.urlencode({"service": service, "scope": f"repository:{self.name}:pull,push"})
        self.authorization = "Basic " + base64.b64encode(f"{USERNAME}:{self.password}".encode()).decode()
        _, token = self.request(connection, "GET", f"{realm}?{query}", 200)
        self.authorization = "Bearer " + json.loads(token)["token"]
        blobs, self.manifest = small_image()
        for blob in blobs.values():
            self.put_blob(connection, blob)
        self.request(
            connection,
            "PUT",
            f"/v2/{self.name}/manifests/latest",
            201,
            body=self.manifest,
            headers={"Content-Type": OCI_MANIFEST},
        )
        connection.close()

    def get_manifest(self, connection) -> None:
        _, manifest = self.request(
            connection, "GET", f"/v2/{self.name}/manifests/latest", 200, headers={"Accept": OCI_MANIFEST}
        )
        if manifest != self.manifest:
            raise MeasurementFailed(f"the manifest GET answered other bytes: {manifest[:500]!r}")

    def put_blob(self, connection, blob: bytes) -> None:
        headers, _ = self.request(connection, "POST", f"/v2/{self.name}/blobs/uploads/", 202)
        location = headers["Location"]
        separator = "&" if "?" in location else "?"
        self.request(
            connection,
            "PUT",
            f"{location}{separator}digest={digest_of(blob)}",
            201,
            body=blob,
            headers={"Content-Type": "application/octet-stream"},
        )

    def serve_section(self, gets: int, put_mib: int) -> int:
        """``gets`` manifest GETs, then a PUT of ``put_mib`` MiB, on one connection to a
        fresh worker; the instructions that worker ran (count_worker)."""
        blob = os.urandom(put_mib * MiB)  # new content every time: no PUT finds its blob stored
        connection = self.connect()
        for _ in range(gets):
            self.get_manifest(connection)
        self.put_blob(connection, blob)
        connection.close()
        return self.count_worker(f"gets{gets}-put{put_mib}mib")

    def worker(self) -> int:
        workers = children_of(self.process.pid)
        if len(workers) != 1:
            raise MeasurementFailed(f"gunicorn's master has {len(workers)} workers, not 1:\n{self.log_tail()}")
        return workers[0]

    def count_worker(self, section: str) -> int:
        """The instructions the worker ran from its fork until it finished with
        Python (its callgrind file, renamed after ``section``), then it is killed
        and gunicorn's master forks the next (and logs "Perhaps out of memory?"):
        its interpreter's finalization, which the counts leave out, takes seconds
        under callgrind."""
        worker = self.worker()
        os.kill(worker, signal.SIGTERM)
        dump = Path(f"{self.work / 'callgrind'}.{worker}.1")  # --dump-before=Py_FinalizeEx
        deadline = time.monotonic() + REQUEST_TIMEOUT
        while (total := dump_total(dump)) is None:
            if has_exited(worker) or time.monotonic() > deadline:
                raise MeasurementFailed(f"worker {worker} wrote no callgrind dump:\n{self.log_tail()}")
            time.sleep(0.1)
        os.kill(worker, signal.SIGKILL)
        self.wait_until_exited(worker)
        dump.rename(self.work / f"callgrind-{section}.{worker}")
        return total

    def wait_until_exited(self, worker: int) -> None:
        deadline = time.monotonic() + REQUEST_TIMEOUT
        while not has_exited(worker):
            if time.monotonic() > deadline:
                raise MeasurementFailed(f"worker {worker} did not stop:\n{self.log_tail()}")
            time.sleep(0.1)

    def stop(self) -> None:
        """Kill the server: the counts are read, and its stopping is no part of them."""
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=60)

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"


def measure(
    work: Path,
    *,
    checkout: Path = CHECKOUT,
    python: Path | None = None,
    env: dict[str, str] | None = None,
    gets: tuple[int, int] = BUDGET_GETS,
    put_mib: tuple[int, int] = BUDGET_PUT_MIB,
) -> Figures:
    """Instructions per manifest GET and per MiB PUT of one server in ``work`` (its
    log is ``work / "server.log"``, each measured worker's callgrind file
    ``work / "callgrind-gets<N>-put<S>mib.<pid>"``)."""
    server = CallgrindServer(work, checkout=checkout, python=python or Path(sys.executable), env=env or {})
    totals = {}
    try:
        server.start()
        for section in ((gets[0], put_mib[0]), (gets[1], put_mib[0]), (gets[0], put_mib[1])):
            totals[section] = server.serve_section(*section)
    finally:
        server.stop()
    a, b, c = totals.values()
    return Figures(
        instructions_per_manifest_get=(b - a) / (gets[1] - gets[0]),
        instructions_per_blob_put_mib=(c - a) / (put_mib[1] - put_mib[0]),
    )


#: The CPU features (as /proc/cpuinfo names them) by which valgrind chooses the
#: CPU it shows the program, and so the code the C library and OpenSSL run: it
#: emulates up to AVX2, not AVX-512 or the SHA extensions.
VALGRIND_CPU_FEATURES = frozenset(
    (
        "pni",
        "ssse3",
        "sse4_1",
        "sse4_2",
        "cx16",
        "abm",
        "avx",
        "avx2",
        "bmi1",
        "bmi2",
        "fma",
        "f16c",
        "rdrand",
        "rdseed",
        "rdtscp",
    )
)


def conditions(python: Path) -> dict[str, str]:
    """What the counts depend on besides the code and its pinned requirements:
    the interpreter's build, the C library, valgrind and the CPU's features."""
    version = subprocess.run(
        [str(python), "-c", "import sys; print(sys.version)"], capture_output=True, text=True, check=True, timeout=60
    ).stdout.strip()
    valgrind = subprocess.run(
        ["valgrind", "--version"], capture_output=True, text=True, check=True, timeout=60
    ).stdout.strip()
    flags = next(
        (
            line.split(":", 1)[1].split()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("flags")
        ),
        [],
    )
    return {
        "python": version,
        "libc": " ".join(platform.libc_ver()),
        "valgrind": valgrind,
        "cpu": f"{platform.machine()}: " + " ".join(sorted(VALGRIND_CPU_FEATURES.intersection(flags))),
    }


RECORD_COMMAND = 'python bench/pull_instructions.py --record-baseline --reason "<why the figures move>"'


def read_baseline(path: Path = BASELINE, *, measured_under: dict[str, str] | None = None) -> dict:
    """The baseline in force: the last one recorded under ``measured_under`` (the
    hosts the project runs on differ in CPU features, and each keeps its own), or
    the last one recorded when none was (or no conditions are given)."""
    baselines = json.loads(path.read_text())["baselines"]
    same = [entry for entry in baselines if measured_under is not None and entry.get("conditions") == measured_under]
    return (same or baselines)[-1]


def record_baseline(figures: Figures, measured_under: dict[str, str], reason: str, path: Path = BASELINE) -> dict:
    commit = subprocess.run(
        ["git", "describe", "--always", "--dirty"], cwd=CHECKOUT, capture_output=True, text=True, timeout=60
    ).stdout.strip()
    entry = {
        "recorded": datetime.now(UTC).strftime("%Y-%m-%d"),
        "commit": commit or "unknown",
        "reason": reason,
        "conditions": measured_under,
        **{name: round(value) for name, value in asdict(figures).items()},
    }
    recorded = json.loads(path.read_text()) if path.exists() else {"baselines": []}
    recorded["baselines"].append(entry)
    path.write_text(json.dumps(recorded, indent=2) + "\n")
    return entry


def compare(figures: Figures, baseline: dict) -> tuple[list[str], list[str]]:
    """The figures more than TOLERANCE over the baseline (the budget fails) and
    those more than SLACK under it (the baseline may be lowered), each said."""
    over, under = [], []
    for name, value in asdict(figures).items():
        allowed = baseline[name]
        change = value / allowed - 1
        said = (
            f"{name.replace('_', ' ')}: {value:,.0f}, {change:+.1%} against the baseline's {allowed:,.0f}"
            f" (recorded {baseline['recorded']} at {baseline['commit']}: {baseline['reason']!r})"
        )
        if change > TOLERANCE:
            over.append(said)
        elif change < -SLACK:
            under.append(said)
    return over, under


def pair(text: str) -> tuple[int, int]:
    first, second = (int(value) for value in text.split(","))
    if not 0 < first < second:
        raise argparse.ArgumentTypeError(f"two counts, the first smaller: {text!r}")
    return first, second


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--checkout", type=Path, help="measure another checkout (its code, its .venv) with this one's method"
    )
    parser.add_argument(
        "--python", type=Path, help="the server's interpreter (default: this one, or the --checkout's .venv/bin/python)"
    )
    parser.add_argument("--modes", help="off (no pull events), on, or both: off,on (the default)")
    parser.add_argument(
        "--requests",
        type=pair,
        help=f"manifest GETs of workers A (and C) and B: N1,N2 (default {BUDGET_GETS[0]},{BUDGET_GETS[1]})",
    )
    parser.add_argument(
        "--put-mib",
        type=pair,
        help=f"MiB PUT by workers A (and B) and C: S1,S2 (default {BUDGET_PUT_MIB[0]},{BUDGET_PUT_MIB[1]})",
    )
    parser.add_argument(
        "--keep",
        type=Path,
        help="copy the measured workers' callgrind files here"
        " (callgrind_annotate them, or diff two with bench/callgrind_diff.py)",
    )
    parser.add_argument(
        "--record-baseline",
        action="store_true",
        help=f"measure as the test suite's budget does and append the figures to {BASELINE.name}",
    )
    parser.add_argument("--reason", help="with --record-baseline: why the figures move (kept in the file)")
    args = parser.parse_args()
    if args.record_baseline:
        if any(value is not None for value in (args.checkout, args.python, args.modes, args.requests, args.put_mib)):
            parser.error("--record-baseline measures as the test suite does: give it only --reason (and --keep)")
        if not (args.reason or "").strip():
            parser.error("--record-baseline needs --reason: why the figures move")
    elif args.reason:
        parser.error("--reason goes with --record-baseline")
    if shutil.which("valgrind") is None:
        sys.exit("needs valgrind and callgrind_control (apt-get install valgrind)")
    sys.path.insert(0, str(CHECKOUT))  # this checkout's `berth serve` command line
    checkout = (args.checkout or CHECKOUT).resolve()
    python = args.python or (Path(sys.executable) if checkout == CHECKOUT else checkout / ".venv/bin/python")
    with tempfile.TemporaryDirectory(prefix="berth-pull-instructions-") as work:
        runs = (
            {"default": {}}
            if args.record_baseline
            else {mode: MODES[mode] for mode in (args.modes or "off,on").split(",")}
        )
        results = {}
        for mode, env in runs.items():
            try:
                results[mode] = measure(
                    Path(work, mode),
                    checkout=checkout,
                    python=python,
                    env=env,
                    gets=args.requests or BUDGET_GETS,
                    put_mib=args.put_mib or BUDGET_PUT_MIB,
                )
            except MeasurementFailed as failure:
                sys.exit(f"{mode}: {failure}")
            print(
                f"{mode}: {results[mode].instructions_per_manifest_get:,.0f} instructions per manifest GET,"
                f" {results[mode].instructions_per_blob_put_mib:,.0f} per MiB of blob PUT",
                flush=True,
            )
            if args.keep:
                args.keep.mkdir(parents=True, exist_ok=True)
                for kept in Path(work, mode).glob("callgrind-*"):
                    shutil.copy(kept, args.keep / kept.name.replace("callgrind-", f"callgrind-{mode}-", 1))
    if "off" in results and "on" in results:
        off, on = results["off"].instructions_per_manifest_get, results["on"].instructions_per_manifest_get
        print(f"on - off: {on - off:+,.0f} per manifest GET ({(on / off - 1) * 100:+.1f} %)")
    if args.record_baseline:
        figures = results["default"]
        if BASELINE.exists():
            over, under = compare(figures, read_baseline(measured_under=conditions(python)))
            for said in over + under:
                print(f"was: {said}")
        entry = record_baseline(figures, conditions(python), args.reason.strip())
        print(f"recorded in {BASELINE}:\n{json.dumps(entry, indent=2)}")


if __name__ == "__main__":
    main()
