"""Blob GET throughput of encrypted repositories beside a plain one, on a live Berth.

    .venv/bin/python bench/encryption.py                 # a 256 MiB blob, 5 GETs each
    .venv/bin/python bench/encryption.py --mib 64 --runs 3

Starts one `berth serve` (filesystem blob store; SQLite, or a PostgreSQL database of
its own when DATABASE_URL is set), an account, a key of the key ring, and three
repositories: plain, AES256 and KMS (the key). The same ``--mib`` MiB blob of random
bytes is pushed to each (one monolithic POST), then fetched ``--runs`` times by
`curl`, the three repositories in turn (to /dev/null, with a bearer token), and each run's MB/s printed with the
median per repository; plus the push (commit) time of each. Not part of the test
suite; figures in bench/README.md ("Encryption at rest")."""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "registry_project.settings")

import django  # noqa: E402
import requests  # noqa: E402

django.setup()

from tests.e2e.conftest import BerthServer  # noqa: E402
from tests.live_database import server_database  # noqa: E402

MiB = 1024 * 1024
REPOSITORIES = {"plain": [], "aes256": ["--encryption", "AES256"], "kms": ["--encryption", "KMS", "--kms-key", "bench"]}


def token(server: BerthServer, account, scope: str) -> str:
    response = requests.get(
        f"{server.url}/token",
        params={"service": "berth-registry", "scope": scope},
        auth=(account.username, account.password),
        timeout=30,
    )
    response.raise_for_status()
    return response.json()["token"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mib", type=int, default=256)
    parser.add_argument("--runs", type=int, default=5)
    options = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="berth-bench-encryption-"))
    blob = root / "blob.bin"
    hasher = hashlib.sha256()
    with open(blob, "wb") as out:
        for _ in range(options.mib):
            piece = os.urandom(MiB)
            hasher.update(piece)
            out.write(piece)
    digest = f"sha256:{hasher.hexdigest()}"
    with ExitStack() as stack:
        data_dir = root / "data"
        data_dir.mkdir()
        server = BerthServer(data_dir, stack.enter_context(server_database(data_dir)))
        stack.callback(server.stop)
        server.start()
        account = server.create_account("Bench")
        server.cli("keys", "create", "bench")
        pushes, bearers = {}, {}
        for label, encryption in REPOSITORIES.items():
            name = f"{account.account_id}/bench-{label}"
            server.cli("create_repository", "--account", account.account_id, "--name", f"bench-{label}", *encryption)
            bearers[label] = token(server, account, f"repository:{name}:pull,push")
            started = time.monotonic()
            with open(blob, "rb") as body:
                response = requests.post(
                    f"{server.url}/v2/{name}/blobs/uploads/?digest={digest}",
                    data=body,
                    headers={"Authorization": f"Bearer {bearers[label]}", "Content-Type": "application/octet-stream",
                             "Content-Length": str(options.mib * MiB)},
                    timeout=600,
                )  # fmt: skip
            pushes[label] = time.monotonic() - started
            assert response.status_code == 201, response.text
        # The repositories' GETs take turns, so that a busy moment of the host falls on each alike.
        results = {label: [] for label in REPOSITORIES}
        for _ in range(options.runs):
            for label in REPOSITORIES:
                name = f"{account.account_id}/bench-{label}"
                out = subprocess.run(
                    ["curl", "-sS", "--fail", "-o", "/dev/null", "-w", "%{time_total} %{size_download}",
                     "-H", f"Authorization: Bearer {bearers[label]}", f"{server.url}/v2/{name}/blobs/{digest}"],
                    check=True, capture_output=True, text=True, timeout=600,
                )  # fmt: skip
                seconds, size = out.stdout.split()
                assert int(size) == options.mib * MiB, out.stdout
                results[label].append(int(size) / float(seconds) / 1e6)
        for label, rates in results.items():
            print(
                f"{label:7} push {options.mib / pushes[label]:6.0f} MiB/s ({pushes[label]:.2f} s); GET MB/s "
                f"{' '.join(f'{r:.0f}' for r in rates)}; median {statistics.median(rates):.0f}",
                flush=True,
            )
    plain = statistics.median(results["plain"])
    for label in ("aes256", "kms"):
        print(f"{label}: {statistics.median(results[label]) / plain:.2f} x plain's GET throughput")


if __name__ == "__main__":
    main()
