"""Push throughput of one large blob into the S3 blob store (moto's server on
127.0.0.1), through a live `berth serve` of this checkout:

    .venv/bin/python bench/s3_uploads.py
    .venv/bin/python bench/s3_uploads.py --mib 256 --chunk-mib 16 --rounds 3

Each round pushes a fresh random blob twice: in PATCHes of --chunk-mib (as
containerd and the OCI conformance suite do), and in one streamed PATCH
(chunked transfer encoding, as docker and skopeo do), each followed by the final
PUT ?digest=. It prints, per mode, the median MiB/s of the whole push and the
median seconds of the final PUT alone (what completing costs: before issue 20 the
spooled file is uploaded to S3 then; after, a multipart complete and a
server-side copy).

To measure another checkout (e.g. the code before issue 20), copy this file into
its bench/ and run it there with this venv: the server runs the code of the
checkout the script sits in. Not part of the test suite (see bench/README.md)."""

from __future__ import annotations

import argparse
import hashlib
import os
import secrets
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

import boto3
import requests

REPOSITORY = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPOSITORY))

from apps.registry.tests.conftest import REGION, start_moto_server  # noqa: E402
from tests.e2e.conftest import BerthServer  # noqa: E402
from tests.live_database import server_database  # noqa: E402

MiB = 1024 * 1024
FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
}


def bearer(server: BerthServer, account, repository: str) -> dict:
    response = requests.get(
        f"{server.url}/token",
        params={"service": "berth-registry", "scope": f"repository:{repository}:pull,push"},
        auth=(account.username, account.password),
        timeout=30,
    )
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['token']}"}


def push(server: BerthServer, headers: dict, repository: str, blob: bytes, chunk: int | None) -> tuple[float, float]:
    """Seconds for the whole push, and for its final PUT alone."""
    began = time.perf_counter()
    response = requests.post(f"{server.url}/v2/{repository}/blobs/uploads/", headers=headers, timeout=60)
    assert response.status_code == 202, response.text
    location = response.headers["Location"]
    octets = {"Content-Type": "application/octet-stream"}
    if chunk is None:  # one streamed PATCH, chunked transfer encoding
        body = (blob[i : i + MiB] for i in range(0, len(blob), MiB))
        response = requests.patch(server.url + location, data=body, headers=headers | octets, timeout=600)
        assert response.status_code == 202, response.text
        location = response.headers["Location"]
    else:
        for first in range(0, len(blob), chunk):
            end = min(first + chunk, len(blob))
            response = requests.patch(
                server.url + location,
                data=blob[first:end],
                headers=headers | octets | {"Content-Range": f"{first}-{end - 1}"},
                timeout=600,
            )
            assert response.status_code == 202, response.text
            location = response.headers["Location"]
    digest = "sha256:" + hashlib.sha256(blob).hexdigest()
    put_began = time.perf_counter()
    response = requests.put(server.url + location, params={"digest": digest}, headers=headers, timeout=600)
    assert response.status_code == 201, response.text
    ended = time.perf_counter()
    return ended - began, ended - put_began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mib", type=int, default=128, help="size of the blob")
    parser.add_argument("--chunk-mib", type=int, default=16, help="size of a PATCH in the chunked mode")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    env = {**os.environ, **FAKE_AWS}
    moto, endpoint = start_moto_server(env)
    s3 = boto3.client(
        "s3", endpoint_url=endpoint, region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    bucket = f"berth-bench-{secrets.token_hex(4)}"
    s3.create_bucket(Bucket=bucket)
    results: dict[str, list[tuple[float, float]]] = {"chunked": [], "streamed": []}
    try:
        with tempfile.TemporaryDirectory(prefix="berth-bench-s3-uploads-") as work:
            data_dir = Path(work) / "data"
            data_dir.mkdir()
            with server_database(data_dir) as database:
                server = BerthServer(data_dir, database)
                server.env.update(
                    FAKE_AWS,
                    BLOB_STORAGE="s3",
                    AWS_STORAGE_BUCKET_NAME=bucket,
                    AWS_S3_ENDPOINT_URL=endpoint,
                    AWS_S3_REGION_NAME=REGION,
                    AWS_S3_ADDRESSING_STYLE="path",
                )
                server.launch()
                try:
                    server.wait_until_ready()
                    owner = server.create_account("bench")
                    repository = f"{owner.account_id}/bench/blob"
                    headers = bearer(server, owner, repository)
                    for _ in range(args.rounds):
                        for mode, chunk in (("chunked", args.chunk_mib * MiB), ("streamed", None)):
                            blob = os.urandom(args.mib * MiB)
                            results[mode].append(push(server, headers, repository, blob, chunk))
                            # moto keeps objects in memory: drop this round's
                            for item in s3.list_objects_v2(Bucket=bucket).get("Contents") or []:
                                s3.delete_object(Bucket=bucket, Key=item["Key"])
                finally:
                    server.stop()
    finally:
        os.kill(moto.pid, signal.SIGTERM)
        moto.wait(timeout=10)
    print(f"checkout {REPOSITORY}: a {args.mib} MiB blob, {args.rounds} rounds")
    for mode, figures in results.items():
        totals, puts = [f[0] for f in figures], [f[1] for f in figures]
        label = f"{args.chunk_mib} MiB PATCHes" if mode == "chunked" else "one streamed PATCH"
        print(
            f"  {label:>20}: {args.mib / statistics.median(totals):6.1f} MiB/s "
            f"[{args.mib / max(totals):.1f}-{args.mib / min(totals):.1f}], "
            f"final PUT {statistics.median(puts):.2f} s"
        )


if __name__ == "__main__":
    main()
