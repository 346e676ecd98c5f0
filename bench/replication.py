"""Replication lag and copy throughput between two live Berth deployments on loopback.

    .venv/bin/python bench/replication.py                  # 10 pushes, a 200 MiB image
    .venv/bin/python bench/replication.py --pushes 20 --big-mib 400

Starts two `berth serve` (regions local-a and local-b; SQLite, filesystem blobs and
the filesystem Celery broker each, as `berth serve` runs with nothing configured,
or PostgreSQL databases of their own when DATABASE_URL is set), an account on each,
and a replication rule on A sending `team/` to B (its endpoint and credentials).

- Lag: ``--pushes`` images like the kit's (a one-layer ~30 MiB base image, a
  two-layer application image, a two-platform index; fresh random bytes each time)
  are pushed to A with `skopeo copy`; the lag of each is from skopeo's exit to the
  first HEAD of its tag on B that answers 200 (polled every 20 ms). p50 and p95.
- Throughput: a ``--big-mib`` one-layer image is pushed to A and the time to
  pullable on B taken as above; another of the same size is pushed to A outside
  the rule and copied A → B by `skopeo copy`, timed. The ratio is skopeo's time
  over replication's (>= 0.8 is the target).

Targets (issue 17): p50 <= 5 s, p95 <= 15 s, throughput >= 0.8 x skopeo. Not part
of the test suite; figures in bench/README.md."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
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

from apps.replication.client import RegistryClient  # noqa: E402
from tests.e2e import images as I  # noqa: E402
from tests.e2e.conftest import BerthServer  # noqa: E402
from tests.live_database import server_database  # noqa: E402

MiB = 1024 * 1024
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
POLL = 0.02
DEADLINE = 300


def skopeo(*args: str) -> float:
    started = time.monotonic()
    subprocess.run(["skopeo", *args], check=True, capture_output=True, timeout=DEADLINE)
    return time.monotonic() - started


def big_image(path: Path, mib: int, tag: str) -> I.Image:
    """One uncompressed tar layer of ``mib`` MiB of random bytes, written in pieces."""
    layout = I.OCILayout(path)
    tar_path = path / "layer.tar"
    with tarfile.open(tar_path, "w") as tar:
        data_path = path / "random.bin"
        with open(data_path, "wb") as out:
            for _ in range(mib):
                out.write(os.urandom(MiB))
        tar.add(data_path, arcname="big/random.bin")
        data_path.unlink()
    digest = I.file_digest(tar_path)
    size = tar_path.stat().st_size
    tar_path.rename(path / "blobs" / "sha256" / digest.split(":", 1)[1])
    config = {"mediaType": "application/vnd.oci.image.config.v1+json",
              **layout.add_blob(I.canonical_json(I._image_config("amd64", [digest])))}  # fmt: skip
    manifest = json.dumps(
        {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config,
         "layers": [{"mediaType": OCI_LAYER_TAR, "digest": digest, "size": size}]}
    ).encode()  # fmt: skip
    described = layout.add_blob(manifest)
    layout.set_ref(tag, OCI_MANIFEST, described["digest"], described["size"])
    return I.Image(layout.path, tag, manifest, described["digest"], OCI_MANIFEST, config["digest"], [digest])


def kit_like(path: Path, n: int) -> tuple[Path, bool]:
    """(layout, is an index): the kit's debian-min, py-app and multi-arch, in turn."""
    kind = n % 3
    if kind == 0:
        I.build_image_from_layers(path, "v1", [{"rootfs/blob": os.urandom(30 * MiB)}])
    elif kind == 1:
        I.build_image_from_layers(
            path, "v1", [{"site-packages/lib.bin": os.urandom(8 * MiB)}, {"app/app.py": os.urandom(64 * 1024)}]
        )
    else:
        I.build_multiarch_index(path, tag="v1")
    return path, kind == 2


def wait_pullable(client: RegistryClient, repository: str, tag: str) -> float:
    deadline = time.monotonic() + DEADLINE
    while client.head_manifest(repository, tag) is None:
        if time.monotonic() > deadline:
            raise SystemExit(f"{repository}:{tag} never reached B")
        time.sleep(POLL)
    return time.monotonic()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pushes", type=int, default=10)
    parser.add_argument("--big-mib", type=int, default=200)
    options = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="berth-bench-replication-"))
    with ExitStack() as stack:
        servers = {}
        for region in ("local-a", "local-b"):
            data_dir = root / region / "data"
            data_dir.mkdir(parents=True)
            server = BerthServer(data_dir, stack.enter_context(server_database(data_dir)))
            server.env["BERTH_REGION"] = region
            for name in ("CELERY_TASK_ALWAYS_EAGER", "BERTH_AUDIT_SYNCHRONOUS", "BERTH_AUDIT_STRICT"):
                server.env.pop(name, None)
            servers[region] = server
            stack.callback(server.stop)
        a, b = servers["local-a"], servers["local-b"]
        for server in servers.values():
            server.launch()
        for server in servers.values():
            server.wait_until_ready()
        source, target = a.create_account("Bench Source"), b.create_account("Bench Target")
        key = requests.post(
            f"{a.url}/api/v1/auth/access-keys",
            json={"username": source.username, "password": source.password},
            timeout=30,
        ).json()
        response = requests.put(
            f"{a.url}/api/v1/registry/replication-configuration",
            auth=(key["accessKeyId"], key["secretAccessKey"]),
            json={"replicationConfiguration": {"rules": [{
                "destinations": [{"region": "local-b", "registryId": target.account_id, "endpoint": b.url,
                                  "credentials": {"username": target.username, "password": target.password}}],
                "repositoryFilters": [{"filter": "team/", "filterType": "PREFIX_MATCH"}],
            }]}},
            timeout=30,
        )  # fmt: skip
        response.raise_for_status()
        to_a = ["copy", "--dest-tls-verify=false", "--dest-creds", source.creds]
        at_b = RegistryClient(b.url, username=target.username, password=target.password)
        lags = []
        for n in range(options.pushes):
            layout, is_index = kit_like(root / f"image-{n}", n)
            skopeo(*to_a, *(["--all"] if is_index else []), f"oci:{layout}:v1",
                   f"docker://{a.host}/{source.account_id}/team/app{n}:v1")  # fmt: skip
            pushed = time.monotonic()
            lags.append(wait_pullable(at_b, f"{target.account_id}/team/app{n}", "v1") - pushed)
            print(f"push {n + 1}: lag {lags[-1]:.2f} s", flush=True)
        big = big_image(root / "big", options.big_mib, "v1")
        skopeo(*to_a, f"oci:{big.path}:v1", f"docker://{a.host}/{source.account_id}/team/big:v1")
        pushed = time.monotonic()
        replicated = wait_pullable(at_b, f"{target.account_id}/team/big", "v1") - pushed
        other = big_image(root / "other", options.big_mib, "v1")
        skopeo(*to_a, f"oci:{other.path}:v1", f"docker://{a.host}/{source.account_id}/other/big:v1")
        copied = skopeo(
            "copy", "--src-tls-verify=false", "--dest-tls-verify=false", "--src-creds", source.creds,
            "--dest-creds", target.creds, f"docker://{a.host}/{source.account_id}/other/big:v1",
            f"docker://{b.host}/{target.account_id}/other/big:v1",
        )  # fmt: skip
        at_b.close()
    p50, p95 = statistics.median(lags), percentile(lags, 0.95)
    ratio = copied / replicated
    print(f"\nlag over {len(lags)} pushes: p50 {p50:.2f} s, p95 {p95:.2f} s, max {max(lags):.2f} s "
          f"(targets 5 / 15 s): {'PASS' if p50 <= 5 and p95 <= 15 else 'FAIL'}")  # fmt: skip
    print(f"{options.big_mib} MiB image: replicated (push done -> pullable on B) in {replicated:.2f} s "
          f"({options.big_mib / replicated:.0f} MiB/s); skopeo copy A -> B {copied:.2f} s "
          f"({options.big_mib / copied:.0f} MiB/s); ratio {ratio:.2f} (target >= 0.8): "
          f"{'PASS' if ratio >= 0.8 else 'FAIL'}")  # fmt: skip


if __name__ == "__main__":
    main()
