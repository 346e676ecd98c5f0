"""Does Berth keep serving while hundreds of slow clients are connected?

    .venv/bin/python bench/slow_clients.py                 # this checkout
    .venv/bin/python bench/slow_clients.py --checkout /tmp/berth-before --cycles 1

Starts `berth serve` from a checkout (its own ``.venv``) on SQLite in a temporary
data directory, on 127.0.0.1, pushes an image whose layer is a ``--blob-mib``
random blob, and measures as a normal client, in rounds: manifest GET latency
(``--gets`` GETs over ``--get-connections`` kept-alive connections) and blob GET
and PUT throughput (``--transfers`` each). ``--cycles`` times, it opens
``--slow`` slow-header and as many slow-body connections, from another process,
holds them for ``--hold`` seconds (a connection the server closes is opened
again at once, so that the count stays up: what an attacker does) and measures
while they are held; unloaded phases as long run before the first hold and
after each (the host is shared and drifts: alternating lets the drift hit both sides
alike). Prints p50/p99 and the median MiB/s of both, the slow connections' fate,
and PASS/FAIL against the targets: p99 <= 100 ms under load, and >= 80 % of the
unloaded blob throughput.

A slow-header connection sends a request line and then one byte of a header a
second; a slow-body one sends the whole head of a 1 GiB monolithic blob upload
(with a valid token) and then one byte of the body a second. Not part of the
test suite (see bench/README.md)."""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import http.client
import json
import multiprocessing
import os
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from serving import wait_until_answering  # bench/serving.py, beside this script

MiB = 1024 * 1024
HOST = "127.0.0.1"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
REQUEST_TIMEOUT = 10  # seconds for one measuring request: a stuck server fails the figure, not the run
P99_TARGET_MS = 100
THROUGHPUT_TARGET = 0.8


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def session_pids(session: int) -> list[int]:
    pids = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stat = Path(entry.path, "stat").read_text()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2 :].split()[3]) == session:
                pids.append(int(entry.name))
    return pids


def process_cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Server:
    """`berth serve` from ``checkout``, with an account, a token and a pushed image."""

    def __init__(self, checkout: Path, work: Path) -> None:
        self.checkout = checkout
        self.port = free_port()
        self.env = {
            key: value
            for key, value in os.environ.items()
            if key not in ("DATABASE_URL", "REDIS_URL", "BERTH_AUDIT_SYNCHRONOUS", "CELERY_TASK_ALWAYS_EAGER")
        }
        self.env.update({"BERTH_DATA_DIR": str(work / "data"), "BERTH_TOKEN_TTL": "7200"})
        self.log_path = work / "berth-server.log"
        self.process: subprocess.Popen | None = None

    def berth(self, *args: str) -> str:
        result = subprocess.run(
            [str(self.checkout / ".venv/bin/berth"), *args],
            env=self.env,
            cwd=self.checkout,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if result.returncode:
            sys.exit(f"berth {args[0]} failed:\n{result.stderr[-2000:]}")
        return result.stdout

    def start(self) -> None:
        self.berth("migrate", "-v0")
        self.password = secrets.token_urlsafe(16)
        created = self.berth(
            "create_account", "--name", "slow", "--username", "bench", f"--password={self.password}", "--json"
        )
        account = json.loads(created[created.index("{") :])
        self.repository = f"{account['account_id']}/bench/slow"
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen(
                [str(self.checkout / ".venv/bin/berth"), "serve", "--bind", f"{HOST}:{self.port}"],
                env=self.env,
                cwd=self.checkout,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_until_answering(f"http://{HOST}:{self.port}", self.process, what=f"see {self.log_path}", timeout=180)
        self.authorization = f"Bearer {self._token()}"

    def _token(self) -> str:
        try:
            urllib.request.urlopen(f"http://{HOST}:{self.port}/v2/", timeout=10)
            sys.exit("/v2/ answers without credentials")
        except urllib.error.HTTPError as challenge:
            www = challenge.headers["WWW-Authenticate"]
        realm = re.search(r'realm="([^"]*)"', www).group(1)
        service = re.search(r'service="([^"]*)"', www).group(1)
        query = urllib.parse.urlencode({"service": service, "scope": f"repository:{self.repository}:pull,push"})
        basic = base64.b64encode(f"bench:{self.password}".encode()).decode()
        request = urllib.request.Request(f"{realm}?{query}", headers={"Authorization": f"Basic {basic}"})
        return json.load(urllib.request.urlopen(request, timeout=30))["token"]

    def cpu_seconds(self) -> float:
        """CPU time of the processes in the server's session (web, worker, audit writer)."""
        return sum(process_cpu_seconds(pid) for pid in session_pids(self.process.pid))

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


class Client:
    """A normal registry client: what it measures."""

    def __init__(self, server: Server, blob: bytes) -> None:
        self.server = server
        self.blob = blob
        self.blob_digest = "sha256:" + hashlib.sha256(blob).hexdigest()
        self.headers = {"Authorization": server.authorization}

    def connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(HOST, self.server.port, timeout=REQUEST_TIMEOUT)

    def push_image(self) -> None:
        config = json.dumps(
            {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}
        ).encode()
        config_digest = self.put_blob(config)
        self.put_blob(self.blob)
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {
                    "mediaType": "application/vnd.oci.image.config.v1+json",
                    "digest": config_digest,
                    "size": len(config),
                },
                "layers": [
                    {
                        "mediaType": "application/vnd.oci.image.layer.v1.tar",
                        "digest": self.blob_digest,
                        "size": len(self.blob),
                    }
                ],
            }
        ).encode()
        connection = self.connection()
        connection.request(
            "PUT",
            f"/v2/{self.server.repository}/manifests/latest",
            body=manifest,
            headers={**self.headers, "Content-Type": OCI_MANIFEST},
        )
        response = connection.getresponse()
        response.read()
        if response.status != 201:
            sys.exit(f"manifest PUT: {response.status}")

    def put_blob(self, data: bytes) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        connection = self.connection()
        connection.request(
            "POST",
            f"/v2/{self.server.repository}/blobs/uploads/?digest={digest}",
            body=data,
            headers={**self.headers, "Content-Type": "application/octet-stream"},
        )
        response = connection.getresponse()
        response.read()
        connection.close()
        if response.status != 201:
            raise OSError(f"blob upload answered {response.status}")
        return digest

    def manifest_latencies(
        self, count: int, connections: int, deadline: float = float("inf")
    ) -> tuple[list[float], int]:
        """Seconds per GET (over ``connections`` kept-alive connections, none begun after
        ``deadline``), and how many failed."""
        latencies: list[float] = []
        failures = [0]
        lock = threading.Lock()

        def get_some(times: int) -> None:
            connection = self.connection()
            for _ in range(times):
                if time.monotonic() > deadline:
                    break
                started = time.perf_counter()
                try:
                    connection.request(
                        "GET",
                        f"/v2/{self.server.repository}/manifests/latest",
                        headers={**self.headers, "Accept": OCI_MANIFEST},
                    )
                    response = connection.getresponse()
                    response.read()
                    ok = response.status == 200
                except OSError:
                    ok = False
                    connection.close()
                    connection = self.connection()
                elapsed = time.perf_counter() - started
                with lock:
                    if ok:
                        latencies.append(elapsed)
                    else:
                        failures[0] += 1
            connection.close()

        threads = [threading.Thread(target=get_some, args=(count // connections,)) for _ in range(connections)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return latencies, failures[0]

    def blob_get_rate(self) -> float:
        """MiB/s of one blob GET, 0 when it failed."""
        buffer = memoryview(bytearray(MiB))
        started = time.perf_counter()
        try:
            connection = self.connection()
            connection.request("GET", f"/v2/{self.server.repository}/blobs/{self.blob_digest}", headers=self.headers)
            response = connection.getresponse()
            received = 0
            while count := response.readinto(buffer):
                received += count
            connection.close()
        except OSError:
            return 0.0
        if response.status != 200 or received != len(self.blob):
            return 0.0
        return received / MiB / (time.perf_counter() - started)

    def blob_put_rate(self) -> float:
        """MiB/s of one monolithic blob upload, 0 when it failed."""
        started = time.perf_counter()
        try:
            self.put_blob(self.blob)
        except OSError:
            return 0.0
        return len(self.blob) / MiB / (time.perf_counter() - started)

    def measure(self, args, *, rounds: int | None = None, deadline: float = float("inf")) -> Measurement:
        """Rounds of manifest GETs, blob GETs and blob PUTs: ``rounds`` of them, or as
        many as begin before ``deadline`` (nothing begins after it)."""
        measured = Measurement()
        cpu_before, started = self.server.cpu_seconds(), time.monotonic()
        while (rounds is None or measured.rounds < rounds) and time.monotonic() < deadline:
            latencies, failures = self.manifest_latencies(args.gets, args.get_connections, deadline)
            measured.latencies += latencies
            measured.get_failures += failures
            for key, transfer in (("blob_get", self.blob_get_rate), ("blob_put", self.blob_put_rate)):
                for _ in range(args.transfers):
                    if time.monotonic() < deadline:
                        measured.rates[key].append(transfer())
            measured.rounds += 1
        measured.seconds = time.monotonic() - started
        measured.server_cpu = self.server.cpu_seconds() - cpu_before
        return measured


@dataclass
class Measurement:
    rounds: int = 0
    seconds: float = 0.0
    server_cpu: float = 0.0
    latencies: list[float] = field(default_factory=list)
    get_failures: int = 0
    rates: dict[str, list[float]] = field(default_factory=lambda: {"blob_get": [], "blob_put": []})

    def __add__(self, other: Measurement) -> Measurement:
        return Measurement(
            self.rounds + other.rounds,
            self.seconds + other.seconds,
            self.server_cpu + other.server_cpu,
            self.latencies + other.latencies,
            self.get_failures + other.get_failures,
            {key: self.rates[key] + other.rates[key] for key in self.rates},
        )

    def percentile_ms(self, share: float) -> float | None:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * share))] * 1000 if ordered else None

    def rate(self, key: str) -> float:
        return statistics.median(self.rates[key]) if self.rates[key] else 0.0


# ---- the slow clients (their own process, so that they share no GIL with the measuring) ----


async def _slow_connection(port: int, head: bytes, trickle: bytes, stop_at: float, stats: dict) -> None:
    """Keep one slow connection open until ``stop_at``, opening a new one whenever the
    server closes it."""
    while time.monotonic() < stop_at:
        try:
            reader, writer = await asyncio.open_connection(HOST, port)
        except OSError:
            stats["refused"] += 1
            await asyncio.sleep(0.5)
            continue
        stats["opened"] += 1
        stats["open"] += 1
        answer = asyncio.ensure_future(reader.read(256))
        try:
            writer.write(head)
            while time.monotonic() < stop_at:
                done, _ = await asyncio.wait({answer}, timeout=1.0)
                if done:
                    first = answer.result()
                    stats["answered_408" if first.startswith(b"HTTP/1.1 408") else "closed_otherwise"] += 1
                    break
                writer.write(trickle)
                await writer.drain()
        except OSError:
            stats["closed_otherwise"] += 1
        finally:
            stats["open"] -= 1
            answer.cancel()
            writer.close()


async def _swarm(port: int, kinds: dict[str, bytes], count: int, hold: float, report) -> None:
    stop_at = time.monotonic() + hold
    stats = {kind: {"opened": 0, "open": 0, "answered_408": 0, "closed_otherwise": 0, "refused": 0} for kind in kinds}
    tasks = []
    for kind, head in kinds.items():
        for _ in range(count):
            tasks.append(asyncio.ensure_future(_slow_connection(port, head, b"a", stop_at, stats[kind])))
            await asyncio.sleep(0.002)  # open them over about a second
    samples: dict[str, list[int]] = {kind: [] for kind in kinds}
    settled = time.monotonic() + 3  # the count of open connections from when all were opened
    while time.monotonic() < stop_at:
        await asyncio.sleep(0.2)
        if time.monotonic() > settled:
            for kind in kinds:
                samples[kind].append(stats[kind]["open"])
    await asyncio.gather(*tasks)
    for kind in kinds:
        stats[kind]["fewest_open"] = min(samples[kind], default=0)
        stats[kind]["mean_open"] = statistics.mean(samples[kind]) if samples[kind] else 0
    report.send((stats, process_cpu_seconds(os.getpid())))


def run_swarm(port: int, kinds: dict[str, bytes], count: int, hold: float, report) -> None:
    asyncio.run(_swarm(port, kinds, count, hold, report))


def slow_requests(server: Server) -> dict[str, bytes]:
    digest = "sha256:" + "0" * 64
    return {
        "slow-header": b"GET /v2/ HTTP/1.1\r\nHost: registry\r\nX-Slow: ",
        "slow-body": (
            f"POST /v2/{server.repository}/blobs/uploads/?digest={digest} HTTP/1.1\r\nHost: registry\r\n"
            f"Authorization: {server.authorization}\r\nContent-Type: application/octet-stream\r\n"
            f"Content-Length: {1024 * MiB}\r\n\r\n"
        ).encode(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkout", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--slow", type=int, default=200, help="slow-header connections, and as many slow-body ones")
    parser.add_argument("--hold", type=float, default=60, help="seconds the slow connections are held")
    parser.add_argument("--gets", type=int, default=2000)
    parser.add_argument("--get-connections", type=int, default=4)
    parser.add_argument("--blob-mib", type=int, default=256)
    parser.add_argument("--transfers", type=int, default=3, help="blob GETs and PUTs, each, a round")
    parser.add_argument("--cycles", type=int, default=2, help="holds, each between two unloaded phases")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="berth-slow-clients-") as work:
        server = Server(args.checkout.resolve(), Path(work))
        try:
            server.start()
            client = Client(server, os.urandom(args.blob_mib * MiB))
            client.push_image()
            client.manifest_latencies(200, args.get_connections)  # warm up
            # Unloaded and loaded phases alternate, unloaded first and last, each as long
            # (the hold less its first 5 s and last 10 s): the host is shared and drifts,
            # so each loaded phase is compared with the unloaded ones around it.
            window = args.hold - 15
            unloaded_phases = [client.measure(args, deadline=time.monotonic() + window)]
            loaded_phases, stats, swarm_cpu = [], {}, 0.0
            for _ in range(args.cycles):
                receive, send = multiprocessing.Pipe(duplex=False)
                swarm = multiprocessing.Process(
                    target=run_swarm, args=(server.port, slow_requests(server), args.slow, args.hold, send)
                )
                swarm.start()
                time.sleep(5)  # all connected, and the first ones trickling
                loaded_phases.append(client.measure(args, deadline=time.monotonic() + window))
                cycle_stats, cycle_cpu = receive.recv() if receive.poll(args.hold + 60) else ({}, 0.0)
                swarm.join(timeout=30)
                if swarm.is_alive():
                    swarm.kill()
                for kind, figures in cycle_stats.items():
                    totals = stats.setdefault(
                        kind,
                        {
                            "opened": 0,
                            "answered_408": 0,
                            "closed_otherwise": 0,
                            "refused": 0,
                            "fewest_open": figures["fewest_open"],
                            "mean_open": [],
                        },
                    )
                    for key in ("opened", "answered_408", "closed_otherwise", "refused"):
                        totals[key] += figures[key]
                    totals["fewest_open"] = min(totals["fewest_open"], figures["fewest_open"])
                    totals["mean_open"].append(figures["mean_open"])
                swarm_cpu += cycle_cpu
                unloaded_phases.append(client.measure(args, deadline=time.monotonic() + window))
        finally:
            server.stop()
        tracebacks = server.log_path.read_text(errors="replace").count("Traceback")
    unloaded, loaded = sum(unloaded_phases, Measurement()), sum(loaded_phases, Measurement())
    print(
        f"\nberth serve from {args.checkout}; blob {args.blob_mib} MiB; a round: {args.gets} manifest GETs over "
        f"{args.get_connections} connections, {args.transfers} blob GETs, {args.transfers} blob PUTs"
    )
    print(
        f"{args.cycles} times {args.slow} slow-header + {args.slow} slow-body connections held {args.hold:.0f} s; "
        f"loaded: {loaded.rounds} rounds in {loaded.seconds:.0f} s while they were held; unloaded: "
        f"{unloaded.rounds} rounds in {unloaded.seconds:.0f} s, before the first hold and after each\n"
    )
    print(f"{'figure':28} {'unloaded':>10} {'loaded':>10} {'target':>14} result")
    p99 = loaded.percentile_ms(0.99)
    rows = [
        ("manifest GET p50 (ms)", unloaded.percentile_ms(0.5), loaded.percentile_ms(0.5), "", ""),
        (
            "manifest GET p99 (ms)",
            unloaded.percentile_ms(0.99),
            p99,
            f"<= {P99_TARGET_MS}",
            "PASS" if p99 is not None and p99 <= P99_TARGET_MS and not loaded.get_failures else "FAIL",
        ),
        ("manifest GETs", len(unloaded.latencies), len(loaded.latencies), "", ""),
        ("manifest GETs failed", unloaded.get_failures, loaded.get_failures, "", ""),
        (
            "blob GETs / PUTs",
            "/".join(str(len(unloaded.rates[key])) for key in unloaded.rates),
            "/".join(str(len(loaded.rates[key])) for key in loaded.rates),
            "",
            "",
        ),
    ]
    shares = {key: statistics.median(share_of_unloaded(unloaded_phases, loaded_phases, key)) for key in unloaded.rates}
    for name, key in (("blob GET (MiB/s)", "blob_get"), ("blob PUT (MiB/s)", "blob_put")):
        share = shares[key]
        rows.append(
            (
                name,
                unloaded.rate(key),
                loaded.rate(key),
                f">= {THROUGHPUT_TARGET:.0%} ({share:.0%})",
                "PASS" if share >= THROUGHPUT_TARGET else "FAIL",
            )
        )
    rows.append(
        ("server CPU (cores busy)", unloaded.server_cpu / unloaded.seconds, loaded.server_cpu / loaded.seconds, "", "")
    )
    for name, unloaded_value, loaded_value, target, result in rows:

        def show(value) -> str:
            return "-" if value is None else f"{value:10.1f}" if isinstance(value, float) else f"{value:>10}"

        print(f"{name:28} {show(unloaded_value):>10} {show(loaded_value):>10} {target:>14} {result}")
    for name, key in (("blob GET", "blob_get"), ("blob PUT", "blob_put")):
        in_turn = [("unloaded", unloaded_phases[0])]
        for loaded_phase, unloaded_phase in zip(loaded_phases, unloaded_phases[1:]):
            in_turn += [("loaded", loaded_phase), ("unloaded", unloaded_phase)]
        by_phase = " | ".join(f"{label} {phase.rate(key):.0f}" for label, phase in in_turn)
        each = ", ".join(f"{share:.0%}" for share in share_of_unloaded(unloaded_phases, loaded_phases, key))
        print(
            f"{name} MiB/s, median of each phase in turn: {by_phase}; each loaded phase against the mean of "
            f"the unloaded ones around it: {each} (the share above is their median)"
        )
    for kind, figures in stats.items():
        print(
            f"{kind}: opened {figures['opened']}, open at once {statistics.mean(figures['mean_open']):.0f} on average "
            f"(fewest {figures['fewest_open']}), "
            f"answered 408 {figures['answered_408']}, closed otherwise {figures['closed_otherwise']}, "
            f"refused {figures['refused']}"
        )
    if not stats:
        print("the slow clients reported nothing")
    print(f"the slow clients' own CPU: {swarm_cpu:.1f} s; tracebacks in the server log: {tracebacks}")


def share_of_unloaded(unloaded: list[Measurement], loaded: list[Measurement], key: str) -> list[float]:
    """Each loaded phase's median rate against the mean of the unloaded phases before
    and after it (a drift of the host's speed cancels out)."""
    shares = []
    for index, phase in enumerate(loaded):
        around = (unloaded[index].rate(key) + unloaded[index + 1].rate(key)) / 2
        shares.append(phase.rate(key) / around if around else 0.0)
    return shares or [0.0]


if __name__ == "__main__":
    main()
