"""How long scan on push takes, from the push to COMPLETE, and what it finds: the
issue's budget is 5 s for each of the kit's `debian-min` and `py-app` images.

    python bench/scan_images.py --vulndb DIR [--images /tmp/berth-kit/images] [NAME ...]

A fresh `berth serve` on SQLite in a temporary data directory imports the advisory
database at DIR (`berth vulndb import`: every format it reads), an account turns on
scan on push for every repository (PutRegistryScanningConfiguration), and each image
(an OCI layout NAME:latest under --images, as the kit's make-images.sh builds them)
is pushed with skopeo. The time from the end of the push to the scan's COMPLETE is
polled through the management API every 50 ms. Prints the time, the packages found,
and the findings by severity. Not part of the test suite (bench/README.md)."""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

REPOSITORY = Path(__file__).resolve().parents[1]
BERTH = REPOSITORY / ".venv" / "bin" / "berth"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def berth(*args: str, env: dict, timeout: int = 1800) -> str:
    result = subprocess.run([str(BERTH), *args], env=env, capture_output=True, text=True, timeout=timeout)
    if result.returncode:
        sys.exit(f"berth {args[0]} failed:\n{result.stderr[-3000:]}")
    return result.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vulndb", type=Path, required=True, help="advisories to import (a directory, zip, JSONL)")
    parser.add_argument("--images", type=Path, default=Path("/tmp/berth-kit/images"))
    parser.add_argument("names", nargs="*", default=["debian-min", "py-app"])
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="berth-scan-bench-"))
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "CELERY_TASK_ALWAYS_EAGER")}
    env["BERTH_DATA_DIR"] = str(work / "data")
    berth("migrate", "-v0", env=env)
    started = time.monotonic()
    imported = berth("vulndb", "import", "--no-progress", str(args.vulndb), env=env)
    print(f"vulndb import: {time.monotonic() - started:.0f} s; {imported.strip().splitlines()[-1]}")
    password = secrets.token_urlsafe(16)
    created = berth(
        "create_account", "--name", "bench", "--username", "bench", f"--password={password}", "--json", env=env
    )
    account = json.loads(created[created.index("{") :])
    account_id = str((account.get("account") or account).get("account_id") or account.get("account_id"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(work / "server.log", "w")
    server = subprocess.Popen(
        [str(BERTH), "serve", "--bind", f"127.0.0.1:{port}"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                requests.get(f"{url}/v2/", timeout=2)
                break
            except requests.RequestException:  # not listening yet, or still starting
                if time.monotonic() > deadline:
                    sys.exit("berth serve did not come up")
                time.sleep(0.5)
        key = requests.post(
            f"{url}/api/v1/auth/access-keys", json={"username": "bench", "password": password}, timeout=30
        ).json()
        api = requests.Session()
        api.auth = (key["accessKeyId"], key["secretAccessKey"])
        api.put(
            f"{url}/api/v1/registry/scanning-configuration",
            json={
                "scanType": "BASIC",
                "rules": [{"scanFrequency": "SCAN_ON_PUSH", "repositoryFilters": [{"filter": "*"}]}],
            },
            timeout=30,
        ).raise_for_status()
        time.sleep(5)  # let the worker finish starting
        for name in args.names:
            subprocess.run(
                [
                    "skopeo", "copy", "-q", "--dest-tls-verify=false", f"--dest-creds=bench:{password}",
                    f"oci:{args.images / name}:latest", f"docker://127.0.0.1:{port}/{account_id}/bench/{name}:latest",
                ],
                check=True,
                timeout=600,
            )  # fmt: skip
            pushed = time.monotonic()
            while True:
                answer = api.get(
                    f"{url}/api/v1/repositories/bench/{name}/-/images/scan-findings",
                    params={"imageTag": "latest", "max_results": 1000},
                    timeout=30,
                )
                if answer.status_code == 200 and answer.json()["imageScanStatus"]["status"] not in ("IN_PROGRESS",):
                    break
                if time.monotonic() - pushed > 300:
                    sys.exit(f"{name}: no result in 300 s: {answer.text[:500]}")
                time.sleep(0.05)
            took = time.monotonic() - pushed
            body = answer.json()
            status = body["imageScanStatus"]
            sbom = api.get(
                f"{url}/api/v1/repositories/bench/{name}/-/images/sbom", params={"imageTag": "latest"}, timeout=60
            ).json()
            counts = (body.get("imageScanFindings") or {}).get("findingSeverityCounts")
            print(
                f"{name}: {status['status']} {took:.2f} s after the push; {len(sbom.get('components', []))} "
                f"components; findings by severity {counts}"
            )
    finally:
        server.terminate()
        server.wait(timeout=60)


if __name__ == "__main__":
    main()
