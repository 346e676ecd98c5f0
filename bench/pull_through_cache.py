"""A cached pull (the second pull through the pull-through cache) against a normal
local pull of the same image on the same server: the issue's target is within 10 %.

    .venv/bin/python bench/pull_through_cache.py
    .venv/bin/python bench/pull_through_cache.py --layers 3 --layer-mib 16 --rounds 30

Starts two `berth serve` (this checkout, SQLite, temporary data directories, on
127.0.0.1): the upstream, holding the image in a private repository, and the
cache, holding the same image pushed into a repository of its own and a rule that
caches the upstream (with its credentials). One pull through the cache fills it;
then, alternately (the host is shared and drifts: alternating lets the drift hit
both sides alike), a pull of the cached repository and one of the local one, each
as a client does it: a token, the manifest by tag, every blob read to the end.
Prints the median and p90 of each and the ratio of the medians. The re-check
interval is the default (300 s), so the cached pulls are served locally, as a
second pull within the interval is; the figure with a re-check due is printed too
(a HEAD to the upstream on every pull: the rule's tagRecheckSeconds set to 1 and
a second's pause between the pulls it times). Not part of the test suite (see
bench/README.md)."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

REPOSITORY = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPOSITORY))

from tests.e2e.conftest import BerthServer  # noqa: E402
from tests.live_database import server_database  # noqa: E402

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def token(server: BerthServer, account, repository: str, actions: str) -> str:
    response = requests.get(
        f"{server.url}/token",
        params={"service": "berth-registry", "scope": f"repository:{repository}:{actions}"},
        auth=(account.username, account.password),
        timeout=30,
    )
    response.raise_for_status()
    return response.json()["token"]


def push(server: BerthServer, account, repository: str, blobs: list[bytes], manifest: bytes) -> None:
    headers = {"Authorization": f"Bearer {token(server, account, repository, 'pull,push')}"}
    for blob in blobs:
        response = requests.post(
            f"{server.url}/v2/{repository}/blobs/uploads/",
            params={"digest": digest(blob)},
            data=blob,
            headers=headers,
            timeout=300,
        )
        assert response.status_code == 201, response.text
    response = requests.put(
        f"{server.url}/v2/{repository}/manifests/v1",
        data=manifest,
        headers=headers | {"Content-Type": OCI_MANIFEST},
        timeout=60,
    )
    assert response.status_code == 201, response.text


def pull(server: BerthServer, account, repository: str) -> float:
    """Seconds for one pull as a client makes it."""
    started = time.perf_counter()
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {token(server, account, repository, 'pull')}"
        response = session.get(
            f"{server.url}/v2/{repository}/manifests/v1", headers={"Accept": OCI_MANIFEST}, timeout=60
        )
        assert response.status_code == 200, response.text
        manifest = response.json()
        for descriptor in [manifest["config"], *manifest["layers"]]:
            with session.get(
                f"{server.url}/v2/{repository}/blobs/{descriptor['digest']}", stream=True, timeout=300
            ) as blob:
                assert blob.status_code == 200, blob.text
                received = sum(len(chunk) for chunk in blob.iter_content(1024 * 1024))
                assert received == descriptor["size"]
    return time.perf_counter() - started


def image(layers: int, layer_mib: int) -> tuple[list[bytes], bytes]:
    blobs = [os.urandom(layer_mib * 1024 * 1024) for _ in range(layers)]
    config = json.dumps(
        {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [digest(b) for b in blobs]}}
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": digest(config),
                "size": len(config),
            },
            "layers": [
                {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": digest(b), "size": len(b)}
                for b in blobs
            ],
        }
    ).encode()
    return [config, *blobs], manifest


def summary(name: str, times: list[float]) -> str:
    ordered = sorted(times)
    p90 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
    return (
        f"{name:<28} median {statistics.median(times) * 1000:8.1f} ms   p90 {p90 * 1000:8.1f} ms   ({len(times)} pulls)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layers", type=int, default=3)
    parser.add_argument("--layer-mib", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    blobs, manifest = image(args.layers, args.layer_mib)
    with tempfile.TemporaryDirectory(prefix="berth-bench-cache-") as work:
        servers = []
        try:
            with (
                server_database(Path(work) / "u" / "data") as upstream_db,
                server_database(Path(work) / "c" / "data") as cache_db,
            ):
                for name, database in (("u", upstream_db), ("c", cache_db)):
                    data_dir = Path(work) / name / "data"
                    data_dir.mkdir(parents=True, exist_ok=True)
                    server = BerthServer(data_dir, database)
                    server.launch()
                    servers.append(server)
                for server in servers:
                    server.wait_until_ready()
                upstream, cache = servers
                upstream_owner = upstream.create_account("upstream")
                cache_owner = cache.create_account("cache")
                push(upstream, upstream_owner, f"{upstream_owner.account_id}/library/app", blobs, manifest)
                local = f"{cache_owner.account_id}/local/app"
                push(cache, cache_owner, local, blobs, manifest)
                key = requests.post(
                    f"{cache.url}/api/v1/auth/access-keys",
                    json={"username": cache_owner.username, "password": cache_owner.password},
                    timeout=30,
                ).json()
                api = requests.Session()
                api.auth = (key["accessKeyId"], key["secretAccessKey"])
                rule = {
                    "ecrRepositoryPrefix": "hub",
                    "upstreamRegistryUrl": upstream.url,
                    "upstreamRepositoryPrefix": f"{upstream_owner.account_id}/library",
                    "credentials": {"username": upstream_owner.username, "password": upstream_owner.password},
                }
                assert (
                    api.post(f"{cache.url}/api/v1/pull-through-cache-rules", json=rule, timeout=30).status_code == 201
                )
                cached = f"{cache_owner.account_id}/hub/app"
                first = pull(cache, cache_owner, cached)
                print(
                    f"image: {args.layers} layers of {args.layer_mib} MiB; first pull through the cache {first * 1000:.0f} ms"
                )
                for _ in range(2):  # warm both paths
                    pull(cache, cache_owner, cached)
                    pull(cache, cache_owner, local)
                cached_times, local_times = [], []
                for _ in range(args.rounds):
                    cached_times.append(pull(cache, cache_owner, cached))
                    local_times.append(pull(cache, cache_owner, local))
                print(summary("cached pull (through cache)", cached_times))
                print(summary("local pull (same image)", local_times))
                ratio = statistics.median(cached_times) / statistics.median(local_times)
                print(
                    f"cached / local (medians): {ratio:.3f}  -> {'PASS' if ratio <= 1.10 else 'FAIL'} (target <= 1.10)"
                )

                api.patch(f"{cache.url}/api/v1/pull-through-cache-rules/hub", json={"tagRecheckSeconds": 1}, timeout=30)
                time.sleep(6)  # every process reads its rules again
                rechecked = []
                for _ in range(min(args.rounds, 10)):
                    time.sleep(1.1)
                    rechecked.append(pull(cache, cache_owner, cached))
                print(summary("cached pull, re-check due", rechecked))
        finally:
            for server in servers:
                server.stop()


if __name__ == "__main__":
    main()
