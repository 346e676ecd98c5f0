"""Instructions per manifest GET in one gunicorn worker, counted by callgrind:
repeatable to the instruction whatever else the machine does, where req/s on a
shared host drift by a third within minutes.

    python bench/pull_instructions.py --modes off,on --requests 200,1000

Prepares a data directory as bench/pull_events.py does (an account, the kit's
py-app image, a pull token), then for each mode (off: BERTH_AUDIT_READ_EVENTS=false;
on: pull events recorded) and each request count starts gunicorn with one worker
and one thread under `valgrind --tool=callgrind`, sends that many manifest GETs
one after another on one connection (after 20 to warm up), stops it, and reads
the worker's instruction total. (I(N2) - I(N1)) / (N2 - N1) is the count per GET,
start-up and shutdown cancelling out. The spool thread writes every 5 s here (a
request takes ~40 ms under valgrind), so it encodes batches as big as under load.
The audit writer does not run: bench/audit_ingest.py measures it. Takes ~4 min
per mode. Needs valgrind (apt-get install valgrind) and the kit's images."""
from __future__ import annotations

import argparse
import glob
import http.client
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pull_events  # noqa: E402  (the same server set-up)

MODES = {"off": {"BERTH_AUDIT_READ_EVENTS": "false"}, "on": {"BERTH_AUDIT_READ_EVENTS": "true"}}


def worker_instructions(prefix: Path, master_pid: int) -> int:
    total = 0
    for path in glob.glob(f"{prefix}.*"):
        if int(path.rsplit(".", 1)[1]) == master_pid:
            continue
        found = re.search(r"^(?:summary|totals): (\d+)", Path(path).read_text(), re.MULTILINE)
        total += int(found.group(1))
    return total


def count(checkout: Path, data: Path, out: Path, mode: str, requests: int, path: str, auth: str) -> int:
    port = pull_events.free_port()
    env = dict(os.environ, BERTH_DATA_DIR=str(data), BERTH_AUDIT_WRITER="process", BERTH_TOKEN_TTL="7200",
               BERTH_AUDIT_SPOOL_DIR=str(out / f"spool-{mode}-{requests}"), BERTH_AUDIT_SPOOL_WRITE_SECONDS="5",
               DJANGO_SETTINGS_MODULE="registry_project.settings", **MODES[mode])
    for name in ("DATABASE_URL", "REDIS_URL"):
        env.pop(name, None)
    prefix = out / f"callgrind-{mode}-{requests}"
    command = [
        "valgrind", "--tool=callgrind", f"--callgrind-out-file={prefix}.%p",
        str(checkout / ".venv/bin/python"), "-m", "gunicorn", "registry_project.wsgi:application",
        "--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "1", "--worker-class", "gthread",
        "--timeout", "600", "--keep-alive", "600", "--no-control-socket",
        "--config", "python:apps.audit.gunicorn_hooks", "--access-logfile", "-",
    ]
    with open(out / f"server-{mode}-{requests}.log", "w") as log:
        server = subprocess.Popen(command, env=env, cwd=checkout, stdout=log, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    try:
        deadline = time.monotonic() + 600
        while True:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
                connection.request("GET", "/v2/")
                connection.getresponse().read()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    sys.exit(f"the server did not come up (see {log.name})")
                time.sleep(2)
        headers = {"Authorization": auth, "Accept": pull_events.ACCEPT}
        for _ in range(20 + requests):
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                sys.exit(f"manifest GET answered {response.status}")
        connection.close()
        time.sleep(6)  # the spool thread's write
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=600)
    return worker_instructions(prefix, server.pid)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkout", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--modes", default="off,on")
    parser.add_argument("--requests", default="200,1000", help="the two request counts N1,N2")
    parser.add_argument("--images", type=Path, default=Path("/tmp/berth-bench/images"))
    parser.add_argument("--keep", type=Path, help="copy the callgrind files here (callgrind_annotate them, or diff"
                        " two with bench/callgrind_diff.py)")
    args = parser.parse_args()
    first, second = (int(value) for value in args.requests.split(","))
    modes = args.modes.split(",")
    with tempfile.TemporaryDirectory(prefix="berth-pull-instructions-") as work:
        work = Path(work)
        candidate = pull_events.Candidate.parse(f"cg={args.checkout.resolve()}:BERTH_AUDIT_FLUSH_SECONDS=100000")
        candidate.start(work, args.images)
        candidate.stop()
        path = "/" + candidate.manifest_url.split("/", 3)[3]
        auth = candidate.header.split(": ", 1)[1]
        per_get = {}
        for mode in modes:
            totals = [count(candidate.checkout, work / "cg", work, mode, n, path, auth) for n in (first, second)]
            per_get[mode] = (totals[1] - totals[0]) / (second - first)
            if args.keep:
                args.keep.mkdir(parents=True, exist_ok=True)
                for kept in work.glob(f"callgrind-{mode}-*"):
                    shutil.copy(kept, args.keep / kept.name)
            print(f"{mode}: {per_get[mode]:,.0f} instructions per manifest GET", flush=True)
        if "off" in per_get:
            for mode, value in per_get.items():
                if mode != "off":
                    print(f"{mode} - off: {value - per_get['off']:+,.0f} ({(value / per_get['off'] - 1) * 100:+.1f} %)")


if __name__ == "__main__":
    main()
