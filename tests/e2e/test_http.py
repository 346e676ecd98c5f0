"""The registry protocol over real HTTP against `berth serve`: the login flow,
streamed (chunked-encoded) uploads, chunks that land on different server
processes, and a 1 GiB push whose server memory stays flat."""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from pathlib import Path

import pytest
import requests

from .conftest import BerthServer

MiB = 1024 * 1024


def bearer(server, account, scope: str) -> dict[str, str]:
    challenge = requests.get(f"{server.url}/v2/", timeout=10).headers["WWW-Authenticate"]
    realm = re.search(r'realm="([^"]+)"', challenge).group(1)
    service = re.search(r'service="([^"]+)"', challenge).group(1)
    response = requests.get(
        realm, params={"service": service, "scope": scope}, auth=(account.username, account.password), timeout=30
    )
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['token']}"}


class PatternBody:
    """`size` bytes of a repeated random pattern, read like a file and hashed as
    they are read, so a huge body costs the client no memory."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.sent = 0
        block = os.urandom(MiB)
        self.doubled = memoryview(block + block)  # any window of up to 1 MiB, without copying
        self.sha256 = hashlib.sha256()

    def __len__(self) -> int:
        return self.size

    def read(self, n: int = -1) -> bytes:
        remaining = self.size - self.sent
        n = remaining if n is None or n < 0 else min(n, remaining)
        n = min(n, MiB)
        offset = self.sent % MiB
        chunk = self.doubled[offset : offset + n].tobytes()
        self.sent += len(chunk)
        self.sha256.update(chunk)
        return chunk


@pytest.fixture(scope="module")
def account(berth):
    return berth.create_account("http")


def test_login_flow_like_docker(berth, account):
    response = requests.get(f"{berth.url}/v2/", timeout=10)
    assert response.status_code == 401
    assert response.headers["Docker-Distribution-API-Version"] == "registry/2.0"
    assert response.headers["WWW-Authenticate"].startswith(f'Bearer realm="{berth.url}/token"')
    assert requests.get(f"{berth.url}/v2/", headers=bearer(berth, account, ""), timeout=10).status_code == 200
    wrong = requests.get(
        f"{berth.url}/token",
        params={"service": "berth-registry"},
        auth=(account.username, "wrong password"),
        timeout=30,
    )
    assert wrong.status_code == 401
    assert wrong.json()["errors"][0]["code"] == "UNAUTHORIZED"


def test_streamed_chunked_transfer_upload(berth, account):
    """Docker sends layers as one PATCH with Transfer-Encoding: chunked."""
    name = f"{account.account_id}/streamed"
    headers = bearer(berth, account, f"repository:{name}:pull,push")
    data = os.urandom(3 * MiB + 123)
    start = requests.post(f"{berth.url}/v2/{name}/blobs/uploads/", headers=headers, timeout=30)
    assert start.status_code == 202
    location = berth.url + start.headers["Location"]

    def pieces():
        for i in range(0, len(data), 64 * 1024):
            yield data[i : i + 64 * 1024]

    patch = requests.patch(location, data=pieces(), headers=headers, timeout=60)
    assert patch.status_code == 202, patch.text
    assert patch.headers["Range"] == f"0-{len(data) - 1}"
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    put = requests.put(f"{location}?digest={digest}", headers=headers, timeout=60)
    assert put.status_code == 201, put.text
    got = requests.get(f"{berth.url}/v2/{name}/blobs/{digest}", headers=headers, timeout=60)
    assert got.content == data
    ranged = requests.get(
        f"{berth.url}/v2/{name}/blobs/{digest}", headers={**headers, "Range": "bytes=100-199"}, timeout=60
    )
    assert ranged.status_code == 206 and ranged.content == data[100:200]


@pytest.fixture(scope="module")
def second_server(berth, tmp_path_factory):
    """Another `berth serve` over the same database and data directory: a second
    web host behind a load balancer."""
    server = BerthServer(berth.data_dir, berth.database_url)
    server.log_path = tmp_path_factory.mktemp("second") / "berth-server.log"
    # its own metrics folder: `berth serve` empties its folder at start (docs/operations.md),
    # which would take the first server's counts
    server.env["BERTH_METRICS_DIR"] = str(tmp_path_factory.mktemp("second-metrics"))
    server.start()
    yield server
    server.stop()


def test_chunks_of_one_upload_on_different_servers(berth, second_server, account):
    name = f"{account.account_id}/scaled"
    servers = [berth, second_server]
    headers = bearer(berth, account, f"repository:{name}:pull,push")
    data = os.urandom(5 * MiB)
    start = requests.post(f"{berth.url}/v2/{name}/blobs/uploads/", headers=headers, timeout=30)
    path = start.headers["Location"]
    cuts = [0, MiB, 2 * MiB + 5, 4 * MiB, len(data)]
    for i, (first, end) in enumerate(zip(cuts, cuts[1:])):
        server = servers[(i + 1) % 2]
        response = requests.patch(
            server.url + path,
            data=data[first:end],
            timeout=30,
            headers={**headers, "Content-Range": f"{first}-{end - 1}"},
        )
        assert response.status_code == 202, response.text
        assert response.headers["Range"] == f"0-{end - 1}"
    status = requests.get(second_server.url + path, headers=headers, timeout=30)
    assert status.status_code == 204 and status.headers["Range"] == f"0-{len(data) - 1}"
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    put = requests.put(f"{second_server.url}{path}?digest={digest}", headers=headers, timeout=60)
    assert put.status_code == 201, put.text
    assert requests.get(f"{berth.url}/v2/{name}/blobs/{digest}", headers=headers, timeout=60).content == data


def _gunicorn_workers(server) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"gunicorn" in b" ".join(cmdline) and server.host.encode() in cmdline:
            pids.append(int(entry.name))
    return pids


def _peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmHWM for {pid}")


def test_one_gib_push_keeps_server_memory_flat(berth, account, record_property):
    if not Path("/proc/self/status").exists():
        pytest.skip("needs /proc to read the server's memory")
    name = f"{account.account_id}/huge"
    headers = bearer(berth, account, f"repository:{name}:pull,push")
    before = {pid: _peak_rss_mib(pid) for pid in _gunicorn_workers(berth)}
    assert before, "found no gunicorn processes"
    body = PatternBody(1024 * MiB)
    start = requests.post(f"{berth.url}/v2/{name}/blobs/uploads/", headers=headers, timeout=30)
    location = berth.url + start.headers["Location"]
    # The digest is only known after the body is read, so upload as PATCH then PUT.
    patch = requests.patch(
        location, data=body, headers={**headers, "Content-Type": "application/octet-stream"}, timeout=600
    )
    assert patch.status_code == 202, patch.text
    digest = "sha256:" + body.sha256.hexdigest()
    put = requests.put(f"{location}?digest={digest}", headers=headers, timeout=600)
    assert put.status_code == 201, put.text
    head = requests.head(f"{berth.url}/v2/{name}/blobs/{digest}", headers=headers, timeout=30)
    assert int(head.headers["Content-Length"]) == 1024 * MiB
    after = {pid: _peak_rss_mib(pid) for pid in _gunicorn_workers(berth)}
    peak = max(after.values())
    growth = max(after[pid] - before.get(pid, after[pid]) for pid in after)
    record_property("server_peak_rss_mib", round(peak, 1))
    print(f"1 GiB push: largest gunicorn peak RSS {peak:.1f} MiB, growth {growth:.1f} MiB")
    assert growth < 64, f"a gunicorn process grew by {growth:.1f} MiB during a 1 GiB push"


def test_post_push_work_runs_on_the_worker(berth, account):
    """`berth serve` runs a Celery worker: what a push teaches the registry (sizes,
    platforms, created time) is recorded by it after the push commits."""
    name = f"{account.account_id}/worker-check"
    headers = bearer(berth, account, f"repository:{name}:pull,push")

    def push_blob(data: bytes) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        response = requests.post(
            f"{berth.url}/v2/{name}/blobs/uploads/?digest={digest}", data=data, headers=headers, timeout=30
        )
        assert response.status_code == 201, response.text
        return digest

    config = json.dumps(
        {
            "architecture": "arm64",
            "variant": "v8",
            "os": "linux",
            "created": "2025-05-06T07:08:09Z",
            "rootfs": {"type": "layers", "diff_ids": []},
        }
    ).encode()
    layer = os.urandom(4096)
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": push_blob(config),
            "size": len(config),
        },
        "layers": [
            {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": push_blob(layer), "size": len(layer)}
        ],
    }
    response = requests.put(
        f"{berth.url}/v2/{name}/manifests/v1",
        data=json.dumps(manifest),
        timeout=30,
        headers={**headers, "Content-Type": manifest["mediaType"]},
    )
    assert response.status_code == 201, response.text
    digest = response.headers["Docker-Content-Digest"]
    query = (
        "import json; from apps.registry.models import Manifest; "
        f"m = Manifest.objects.get(digest='{digest}'); "
        "print(json.dumps([m.total_size, m.platforms, m.image_created_at and m.image_created_at.isoformat()]))"
    )
    deadline = time.monotonic() + 60
    while True:
        output = berth.cli("shell", "-c", query).stdout.strip().splitlines()[-1]
        total_size, platforms, created = json.loads(output)
        if platforms or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert platforms == [{"os": "linux", "architecture": "arm64", "variant": "v8"}]
    assert total_size == len(config) + len(layer)
    assert created.startswith("2025-05-06T07:08:09")


def test_uploads_back_to_back_on_one_keep_alive_connection(berth, account):
    """Bodies are read straight from the socket; the connection must stay usable."""
    name = f"{account.account_id}/keepalive"
    session = requests.Session()
    session.headers.update(bearer(berth, account, f"repository:{name}:pull,push"))
    blobs = [os.urandom(size) for size in (0, 1, 8191, 8192, 300_000, 2 * MiB + 3)]
    for data in blobs:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        response = session.post(f"{berth.url}/v2/{name}/blobs/uploads/?digest={digest}", data=data, timeout=30)
        assert response.status_code == 201, response.text
        location = session.post(f"{berth.url}/v2/{name}/blobs/uploads/", timeout=30).headers["Location"]
        half = len(data) // 2
        assert (
            session.patch(
                berth.url + location,
                data=data[:half],
                timeout=30,
                headers={"Content-Range": f"0-{half - 1}"} if half else {},
            ).status_code
            == 202
        )
        response = session.put(f"{berth.url}{location}?digest={digest}", data=data[half:], timeout=30)
        assert response.status_code == 201, response.text
    for data in blobs:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        assert session.get(f"{berth.url}/v2/{name}/blobs/{digest}", timeout=30).content == data


def test_a_body_cut_short_keeps_nothing(berth, account):
    import socket

    name = f"{account.account_id}/cut"
    headers = bearer(berth, account, f"repository:{name}:pull,push")
    location = requests.post(f"{berth.url}/v2/{name}/blobs/uploads/", headers=headers, timeout=30).headers["Location"]
    with socket.create_connection(("127.0.0.1", int(berth.url.rsplit(":", 1)[1])), timeout=30) as sock:
        sock.sendall(
            f"PATCH {location} HTTP/1.1\r\nHost: {berth.host}\r\nAuthorization: {headers['Authorization']}\r\n"
            f"Content-Type: application/octet-stream\r\nContent-Length: 200000\r\n\r\n".encode()
            + b"x" * 100_000
        )
    # More than the worker's event loop buffers (64 KiB): a thread has read the body when
    # it is cut. The server is done with the cut PATCH once it logs it.
    berth.wait_for_log(f'"PATCH {location} HTTP/1.1"', timeout=30)
    deadline = time.monotonic() + 30
    while True:
        status = requests.get(berth.url + location, headers=headers, timeout=30)
        if status.headers.get("Range") == "0-0" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert status.status_code == 204
    assert status.headers["Range"] == "0-0"
