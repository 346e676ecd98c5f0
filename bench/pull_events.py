"""What recording pull events costs: manifest GET throughput of several Berth
builds (or settings) side by side, alternating rounds so that the machine's drift
hits them all alike.

    python bench/pull_events.py before=/tmp/berth-before main=. \\
        "off=.:BERTH_AUDIT_FLUSH_SECONDS=100000" --rounds 5 --duration 10

Each candidate is ``label=checkout[:NAME=value,...]``: a checkout with its own
``.venv`` (``pip install -r requirements.txt -e .``) and environment for its
server. Every candidate gets a fresh `berth serve` on SQLite, an account, and the
kit's py-app image pushed with skopeo (the kit's make-images.sh builds it into
/tmp/berth-bench/images). Then, round by round, each is measured with
``wrk -t2 -c16`` on ``/v2/<repo>/manifests/latest`` with a pull token, as the
kit's bench.sh does, and the CPU seconds its processes used are read from /proc.
Prints the median req/s of each and its change against the first candidate.
Not part of the test suite (see bench/README.md)."""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from serving import wait_until_answering  # bench/serving.py, beside this script

ACCEPT = ", ".join(
    [
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    ]
)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# which process is which, by a word of its command line
ROLES = ((b"gunicorn", "web"), (b"audit_writer", "audit"), (b"celery", "celery"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Candidate:
    label: str
    checkout: Path
    env: dict[str, str]
    rates: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)  # server CPU seconds per request
    cpu_by_role: dict[str, list[float]] = field(default_factory=dict)  # the same, per kind of process
    process: subprocess.Popen | None = None
    url: str = ""
    manifest_url: str = ""
    header: str = ""

    @classmethod
    def parse(cls, text: str) -> Candidate:
        label, _, rest = text.partition("=")
        checkout, _, settings = rest.partition(":")
        env = dict(item.split("=", 1) for item in settings.split(",") if item)
        return cls(label, Path(checkout).resolve(), env)

    def berth(self, *args: str, env: dict) -> str:
        result = subprocess.run(
            [str(self.checkout / ".venv/bin/berth"), *args],
            env=env,
            cwd=self.checkout,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if result.returncode:
            sys.exit(f"{self.label}: berth {args[0]} failed:\n{result.stderr[-2000:]}")
        return result.stdout

    def start(self, work: Path, images: Path) -> None:
        data = work / self.label
        data.mkdir()
        # SQLite and the filesystem broker unless the candidate names a DATABASE_URL / REDIS_URL;
        # one pull token lasts the whole run
        env = dict(os.environ)
        for name in ("DATABASE_URL", "REDIS_URL", "BERTH_AUDIT_SYNCHRONOUS", "CELERY_TASK_ALWAYS_EAGER"):
            env.pop(name, None)
        env.update({"BERTH_DATA_DIR": str(data), "BERTH_TOKEN_TTL": "7200", **self.env})
        self.berth("migrate", "-v0", env=env)
        password = secrets.token_urlsafe(16)
        created = self.berth(
            "create_account", "--name", self.label, "--username", "bench", f"--password={password}", "--json", env=env
        )
        account = json.loads(created[created.index("{") :])
        account_id = str((account.get("account") or account).get("account_id") or account.get("account_id"))
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        log = open(work / f"{self.label}.log", "w")
        self.process = subprocess.Popen(
            [str(self.checkout / ".venv/bin/berth"), "serve", "--bind", f"127.0.0.1:{port}"],
            env=env,
            cwd=self.checkout,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_until_answering(self.url, self.process, what=f"{self.label}: see {log.name}")
        repository = f"{account_id}/bench/py-app"
        subprocess.run(
            [
                "skopeo",
                "copy",
                "-q",
                "--dest-tls-verify=false",
                f"--dest-creds=bench:{password}",
                f"oci:{images / 'py-app'}:latest",
                f"docker://127.0.0.1:{port}/{repository}:latest",
            ],
            check=True,
            timeout=300,
        )
        try:
            urllib.request.urlopen(f"{self.url}/v2/", timeout=10)
            sys.exit(f"{self.label}: /v2/ answers without credentials")
        except urllib.error.HTTPError as challenge:
            www = challenge.headers["WWW-Authenticate"]
        realm = re.search(r'realm="([^"]*)"', www).group(1)
        service = re.search(r'service="([^"]*)"', www).group(1)
        basic = base64.b64encode(f"bench:{password}".encode()).decode()
        query = urllib.parse.urlencode({"service": service, "scope": f"repository:{repository}:pull"})
        request = urllib.request.Request(
            f"{realm}?{query}",
            headers={"Authorization": f"Basic {basic}"},
        )
        token = json.load(urllib.request.urlopen(request, timeout=30))["token"]
        self.header = f"Authorization: Bearer {token}"
        self.manifest_url = f"{self.url}/v2/{repository}/manifests/latest"

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time of the processes in the server's session, by role (web, audit
        writer, celery, serve), and in all."""
        totals: dict[str, float] = {}
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                stat = Path(entry.path, "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2 :].split()
            if int(fields[3]) != self.process.pid:  # session id
                continue
            try:
                command = Path(entry.path, "cmdline").read_bytes()
            except OSError:
                continue
            role = next((name for marker, name in ROLES if marker in command), "serve")
            seconds = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
            totals[role] = totals.get(role, 0.0) + seconds
            totals["all"] = totals.get("all", 0.0) + seconds
            if role == "web":  # of which in the kernel (sockets): what callgrind's counts leave out
                totals["web-kernel"] = totals.get("web-kernel", 0.0) + int(fields[12]) / CLOCK_TICKS
        return totals

    def measure(self, duration: int, connections: int) -> float:
        before = self.cpu_seconds()
        output = subprocess.run(
            [
                "wrk",
                f"-t{min(2, connections)}",
                f"-c{connections}",
                f"-d{duration}s",
                "-H",
                f"Accept: {ACCEPT}",
                "-H",
                self.header,
                self.manifest_url,
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=duration + 60,
        ).stdout
        if "Non-2xx" in output:
            sys.exit(f"{self.label}: wrk saw non-2xx responses:\n{output}")
        rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
        self.rates.append(rate)
        self.settle()  # the CPU figures include the audit writer's catching up after the round
        after = self.cpu_seconds()
        requests = rate * duration
        self.cpu.append((after.get("all", 0) - before.get("all", 0)) / requests)
        for role in ("web", "web-kernel", "audit"):
            used = (after.get(role, 0) - before.get(role, 0)) / requests
            self.cpu_by_role.setdefault(role, []).append(used)
        return rate

    def settle(self, timeout: float = 60) -> None:
        """Wait until the server is idle (its audit writer has caught up), so that no
        round pays for the one before it."""
        deadline = time.monotonic() + timeout
        used = self.cpu_seconds().get("all", 0)
        while time.monotonic() < deadline:
            time.sleep(1)
            now = self.cpu_seconds().get("all", 0)
            if now - used < 0.05:
                return
            used = now

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("candidates", nargs="+", help="label=checkout[:NAME=value,...]")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=int, default=10, help="seconds of wrk per round")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--images", type=Path, default=Path("/tmp/berth-bench/images"))
    args = parser.parse_args()
    if not (args.images / "py-app").is_dir():
        sys.exit(f"no py-app image in {args.images}: run the kit's make-images.sh (or bench/run.sh) first")
    candidates = [Candidate.parse(text) for text in args.candidates]
    with tempfile.TemporaryDirectory(prefix="berth-pull-events-") as work:
        try:
            for candidate in candidates:
                candidate.start(Path(work), args.images)
                candidate.measure(3, args.connections)  # warm up
                candidate.rates.clear()
                candidate.cpu.clear()
            for round_number in range(1, args.rounds + 1):
                order = candidates if round_number % 2 else list(reversed(candidates))
                for candidate in order:
                    rate = candidate.measure(args.duration, args.connections)
                    print(
                        f"round {round_number} {candidate.label:>10}: {rate:8.0f} req/s"
                        f"  {candidate.cpu[-1] * 1e6:6.0f} µs CPU/request",
                        flush=True,
                    )
        finally:
            for candidate in candidates:
                candidate.stop()
    baseline = statistics.median(candidates[0].rates)
    print(
        f"\n{'candidate':>10}  {'median req/s':>12}  {'change':>7}  {'server CPU µs/request':>21}"
        f"  {'web':>5}  {'audit':>5}  {'web in kernel':>13}  all rounds"
    )
    for candidate in candidates:
        median = statistics.median(candidate.rates)
        change = (median / baseline - 1) * 100
        cpu = statistics.median(candidate.cpu) * 1e6
        web, kernel, audit = (
            statistics.median(candidate.cpu_by_role.get(role) or [0]) * 1e6 for role in ("web", "web-kernel", "audit")
        )
        rounds = " ".join(f"{rate:.0f}" for rate in candidate.rates)
        print(
            f"{candidate.label:>10}  {median:12.0f}  {change:+6.1f}%  {cpu:21.0f}  {web:5.0f}  {audit:5.0f}"
            f"  {kernel / web * 100 if web else 0:12.0f}%  {rounds}"
        )
    # The machine drifts (a shared host): rounds measured back to back compare best.
    print(f"\nround by round against {candidates[0].label} (its round of the same number, run just before or after):")
    # With the CPU saturated, req/s go as 1 / (CPU per request): the server's CPU per
    # request is the steadier measure of the two where the host's speed drifts.
    print(
        f"{'candidate':>10}  {'req/s change':>12}  {'middle half':>15}  {'CPU/request change':>18}  {'middle half':>15}"
    )
    for candidate in candidates[1:]:
        changes = sorted((rate / base - 1) * 100 for rate, base in zip(candidate.rates, candidates[0].rates))
        cpu_changes = sorted((cpu / base - 1) * 100 for cpu, base in zip(candidate.cpu, candidates[0].cpu))
        quarter = len(changes) // 4
        middle = f"{changes[quarter]:+.1f}..{changes[-1 - quarter]:+.1f}%"
        cpu_middle = f"{cpu_changes[quarter]:+.1f}..{cpu_changes[-1 - quarter]:+.1f}%"
        print(
            f"{candidate.label:>10}  {statistics.median(changes):+11.1f}%  {middle:>15}  "
            f"{statistics.median(cpu_changes):+17.1f}%  {cpu_middle:>15}"
        )


if __name__ == "__main__":
    main()
