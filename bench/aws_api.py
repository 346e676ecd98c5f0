"""What a call through the AWS API costs beside the same call through the
management API, by the wall clock: one live `berth serve` of this checkout (one
web worker, SQLite, no worker), an account with N repositories, and one client
thread timing each request.

    python bench/aws_api.py --repositories 50 --requests 300

Times, for the same account and repositories:
- DescribeRepositories (maxResults 50) with boto3 (AWS JSON 1.1, Signature
  Version 4 verified against the key's sealed secret) and GET /api/v1/repositories
  (HTTP Basic with the same key, its hash check remembered for five minutes);
- GetAuthorizationToken with boto3, and POST /api/v1/authorization-token.
Prints p50 and p95 milliseconds of each. The client is Python, on the same host:
the figures compare the two surfaces, they are not Berth's ceiling. Not part of
the test suite (bench/README.md)."""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3
import requests
from botocore.config import Config
from serving import wait_until_answering  # bench/serving.py, beside this script

CHECKOUT = Path(__file__).resolve().parent.parent
BERTH = CHECKOUT / ".venv/bin/berth"
REGION = "local"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def timed(call, count: int) -> tuple[float, float]:
    """p50 and p95 of ``count`` calls, in milliseconds (after 10 unmeasured)."""
    for _ in range(10):
        call()
    times = []
    for _ in range(count):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repositories", type=int, default=50)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="berth-aws-api-") as work:
        data = Path(work) / "data"
        data.mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BERTH_", "CELERY_", "AWS_"))}
        env.pop("DATABASE_URL", None)
        env.pop("REDIS_URL", None)
        env.update({"BERTH_DATA_DIR": str(data), "BERTH_WEB_WORKERS": "1"})

        def berth(*command: str) -> str:
            done = subprocess.run([str(BERTH), *command], env=env, cwd=data, capture_output=True, text=True)
            if done.returncode:
                sys.exit(f"berth {command[0]} failed:\n{done.stderr[-2000:]}")
            return done.stdout

        berth("migrate", "-v0")
        password = secrets.token_urlsafe(16)
        berth("create_account", "--name", "bench", "--username", "bench", f"--password={password}", "--json")
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        log = open(Path(work) / "server.log", "w")
        process = subprocess.Popen(
            [str(BERTH), "serve", "--bind", f"127.0.0.1:{port}", "--no-worker"],
            env=env,
            cwd=data,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_until_answering(url, process, what=f"see {log.name}")
            key = requests.post(
                f"{url}/api/v1/auth/access-keys", json={"username": "bench", "password": password}, timeout=30
            ).json()
            key_id, secret = key["accessKeyId"], key["secretAccessKey"]
            ecr = boto3.Session(aws_access_key_id=key_id, aws_secret_access_key=secret, region_name=REGION).client(
                "ecr", endpoint_url=url, config=Config(retries={"max_attempts": 1})
            )
            for n in range(args.repositories):
                ecr.create_repository(repositoryName=f"bench/repo-{n:04d}")
            api = requests.Session()
            api.auth = (key_id, secret)

            def rest_describe() -> None:
                answer = api.get(f"{url}/api/v1/repositories?max_results=50", timeout=30)
                assert answer.status_code == 200, answer.text

            def rest_token() -> None:
                answer = api.post(f"{url}/api/v1/authorization-token", timeout=30)
                assert answer.status_code in (200, 201), answer.text

            results = {
                "DescribeRepositories, AWS API (boto3)": timed(
                    lambda: ecr.describe_repositories(maxResults=50), args.requests
                ),
                "DescribeRepositories, management API": timed(rest_describe, args.requests),
                "GetAuthorizationToken, AWS API (boto3)": timed(ecr.get_authorization_token, args.requests),
                "GetAuthorizationToken, management API": timed(rest_token, args.requests),
            }
            print(json.dumps({"repositories": args.repositories, "requests": args.requests}))
            for name, (p50, p95) in results.items():
                print(f"{name:42s} p50 {p50:6.2f} ms   p95 {p95:6.2f} ms")
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


if __name__ == "__main__":
    main()
