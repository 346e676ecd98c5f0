"""What counting pulls in Redis costs a manifest GET, by the wall clock: two live
`berth serve`s of this checkout side by side (one web worker each, SQLite, the
REDIS_URL given), one with the pull limits off and one with them on but high
enough never to refuse, measured in alternating rounds so that the machine's
drift hits both alike.

    python bench/pull_limits.py --redis redis://127.0.0.1:6379/6 --rounds 5 --duration 5

Each round sends manifest GETs with a signed-in pull token over keep-alive
connections from ``--connections`` client threads for ``--duration`` seconds.
Prints each round's requests/s and the medians. The client is Python, on the
same host: the figures compare the two servers, they are not Berth's ceiling
(bench/pull_events.py with wrk is). Not part of the test suite (bench/README.md)."""

from __future__ import annotations

import argparse
import base64
import hashlib
import http.client
import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from serving import wait_until_answering  # bench/serving.py, beside this script

CHECKOUT = Path(__file__).resolve().parent.parent
BERTH = CHECKOUT / ".venv/bin/berth"
MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
MODES = {
    "off": {"BERTH_PULL_RATE_AUTHENTICATED": "0", "BERTH_PULL_RATE_ANONYMOUS": "0"},
    "on": {"BERTH_PULL_RATE_AUTHENTICATED": "1000000", "BERTH_PULL_BURST_AUTHENTICATED": "1000000"},
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Server:
    def __init__(self, mode: str, work: Path, redis_url: str) -> None:
        self.mode = mode
        self.data = work / mode
        self.data.mkdir()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("BERTH_", "CELERY_"))}
        self.env.pop("DATABASE_URL", None)
        self.env.update(
            {
                "BERTH_DATA_DIR": str(self.data),
                "REDIS_URL": redis_url,
                "BERTH_WEB_WORKERS": "1",
                "BERTH_TOKEN_TTL": "7200",
                "BERTH_CELERY_QUEUE": f"bench-pull-limits-{mode}-{secrets.token_hex(4)}",
                **MODES[mode],
            }
        )
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.rates: list[float] = []

    def berth(self, *args: str) -> str:
        result = subprocess.run(
            [str(BERTH), *args], env=self.env, cwd=self.data, capture_output=True, text=True, timeout=300
        )
        if result.returncode:
            sys.exit(f"{self.mode}: berth {args[0]} failed:\n{result.stderr[-2000:]}")
        return result.stdout

    def request(self, method: str, path: str, body: bytes = b"", headers: dict | None = None):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        data = response.read()
        connection.close()
        return response, data

    def start(self) -> None:
        self.berth("migrate", "-v0")
        password = secrets.token_urlsafe(16)
        created = self.berth(
            "create_account", "--name", "bench", "--username", "bench", f"--password={password}", "--json"
        )
        account = json.loads(created[created.index("{") :])
        account_id = str((account.get("account") or account).get("account_id") or account.get("account_id"))
        self.log = open(self.data.parent / f"{self.mode}.log", "w")
        self.process = subprocess.Popen(
            [str(BERTH), "serve", "--bind", f"127.0.0.1:{self.port}", "--no-worker"],
            env=self.env,
            cwd=self.data,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_until_answering(f"http://127.0.0.1:{self.port}", self.process, what=f"{self.mode}: see {self.log.name}")
        name = f"{account_id}/bench"

        basic = base64.b64encode(f"bench:{password}".encode()).decode()
        response, body = self.request(
            "GET",
            f"/token?service=berth-registry&scope=repository:{name}:pull,push",
            headers={"Authorization": f"Basic {basic}"},
        )
        token = json.loads(body)["token"]
        auth = {"Authorization": f"Bearer {token}"}
        config, layer = b'{"architecture":"amd64","os":"linux"}', os.urandom(2048)
        for blob in (config, layer):
            response, _ = self.request("POST", f"/v2/{name}/blobs/uploads/?digest={digest(blob)}", blob, auth)
            assert response.status == 201, response.status
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": MANIFEST_TYPE,
                "config": {
                    "mediaType": "application/vnd.oci.image.config.v1+json",
                    "digest": digest(config),
                    "size": len(config),
                },
                "layers": [
                    {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest(layer), "size": len(layer)}
                ],
            }
        ).encode()
        response, _ = self.request(
            "PUT", f"/v2/{name}/manifests/latest", manifest, auth | {"Content-Type": MANIFEST_TYPE}
        )
        assert response.status == 201, response.status
        self.path = f"/v2/{name}/manifests/latest"
        self.headers = auth | {"Accept": MANIFEST_TYPE}

    def measure(self, duration: float, connections: int) -> float:
        counts = [0] * connections
        failures: list[str] = []
        stop_at = time.monotonic() + duration

        def client(index: int) -> None:
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            while time.monotonic() < stop_at:
                connection.request("GET", self.path, headers=self.headers)
                response = connection.getresponse()
                response.read()
                if response.status != 200:
                    failures.append(str(response.status))
                    return
                counts[index] += 1
            connection.close()

        threads = [threading.Thread(target=client, args=(i,)) for i in range(connections)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if failures:
            sys.exit(f"{self.mode}: a GET answered {failures[0]}")
        rate = sum(counts) / (time.monotonic() - started)
        self.rates.append(rate)
        return rate

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--redis", default=os.environ.get("REDIS_URL", ""), help="REDIS_URL of both servers")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=4)
    args = parser.parse_args()
    if not args.redis:
        sys.exit("give --redis (or set REDIS_URL): this measures counting in Redis")
    with tempfile.TemporaryDirectory(prefix="berth-pull-limits-") as work:
        servers = [Server(mode, Path(work), args.redis) for mode in MODES]
        try:
            for server in servers:
                server.start()
            for server in servers:
                server.measure(1.0, args.connections)  # warm up
                server.rates.clear()
            for round_number in range(args.rounds):
                for server in servers if round_number % 2 == 0 else reversed(servers):
                    rate = server.measure(args.duration, args.connections)
                    print(f"round {round_number + 1} {server.mode}: {rate:,.0f} GET/s", flush=True)
        finally:
            for server in servers:
                server.stop()
    medians = {server.mode: statistics.median(server.rates) for server in servers}
    change = (medians["on"] / medians["off"] - 1) * 100
    print(f"median off {medians['off']:,.0f} GET/s, on {medians['on']:,.0f} GET/s ({change:+.1f} %)")


if __name__ == "__main__":
    main()
