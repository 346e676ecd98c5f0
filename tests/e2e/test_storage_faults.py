"""Storage faults against a live `berth serve`, each on a server of its own:

* the blob store and upload area on an 8 MiB tmpfs (a private mount namespace,
  so root only; CI runs as root): pushes fill it, the client gets the registry's
  JSON error, and the server keeps serving everything intact and takes pushes
  again once space is freed;
* a web worker SIGKILLed in the middle of a 32 MiB PATCH: the upload's status
  reports what the spool file holds, and a resume from there completes;
* a Windows-style image (a foreign base layer named by URL, never pushed) copied
  by skopeo.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from tests.live_database import server_database

from .conftest import BERTH_BIN, STARTUP_TIMEOUT, BerthServer, in_ci
from .images import random_layer
from .test_clients import copy, raw_manifest
from .test_http import bearer

MiB = 1024 * 1024
STORE_SIZE = "8m"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------- servers


class WrappedServer(BerthServer):
    """`berth serve` started through ``wrapper`` (e.g. unshare and mount first)."""

    def __init__(self, data_dir: Path, database_url: str, wrapper: list[str]) -> None:
        super().__init__(data_dir, database_url)
        self.wrapper = wrapper

    def start(self) -> None:
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [*self.wrapper, str(BERTH_BIN), "serve", "--bind", self.host],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=self.env,
            cwd=str(self.data_dir),
            start_new_session=True,
        )
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"berth serve exited with {self.proc.returncode}\n{self.log_tail()}")
            try:
                urllib.request.urlopen(self.url + "/v2/", timeout=5)
                return
            except urllib.error.HTTPError as exc:
                if exc.code == 401:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"berth did not answer GET /v2/ in {STARTUP_TIMEOUT}s\n{self.log_tail()}")


@contextmanager
def running(root: Path, *, env: dict[str, str] | None = None, wrapper: list[str] | None = None):
    data_dir = root / "data"
    data_dir.mkdir()
    with server_database(data_dir) as database_url:
        server = WrappedServer(data_dir, database_url, wrapper or [])
        server.env.update(env or {})
        try:
            server.start()
            yield server
        finally:
            server.stop()
    # An HTML 500 is Django's traceback in the log; a full disk must not give one.
    assert "Traceback" not in server.log_path.read_text(errors="replace"), server.log_tail(200)


def can_mount_tmpfs(where: Path) -> bool:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", 'mount -t tmpfs -o size=1m berth-probe "$0"', str(where)],
        capture_output=True,
        timeout=30,
    )
    return probe.returncode == 0


@pytest.fixture(scope="module")
def full_disk_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("full-disk")
    store = root / "store"
    store.mkdir()
    if not can_mount_tmpfs(store):
        message = "needs root and `unshare -m` to put the blob store on a small tmpfs"
        if in_ci():
            pytest.fail(message + " (CI is set)")
        pytest.skip(message)
    wrapper = [
        "unshare",
        "-m",
        "sh",
        "-c",
        f'mount -t tmpfs -o size={STORE_SIZE},mode=0700 berth-full-store "$0" && exec "$@"',
        str(store),
    ]
    env = {"BERTH_BLOB_DIR": str(store / "blobs"), "BERTH_UPLOAD_DIR": str(store / "uploads")}
    with running(root, env=env, wrapper=wrapper) as server:
        yield server


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running(tmp_path_factory.mktemp("faults")) as server:
        yield server


# --------------------------------------------------------------------------- a full disk


def push_blob(server, name: str, headers: dict, data: bytes) -> requests.Response:
    return requests.post(
        f"{server.url}/v2/{name}/blobs/uploads/",
        params={"digest": sha256(data)},
        data=data,
        headers=headers,
        timeout=60,
    )


def assert_storage_full(response: requests.Response) -> None:
    assert response.status_code == 507, (response.status_code, response.text)
    assert response.headers["Content-Type"] == "application/json"
    [error] = response.json()["errors"]
    assert error["code"] == "UNKNOWN"
    assert "storage is full" in error["message"]


def test_a_full_disk_gets_the_json_error_and_the_server_keeps_serving(full_disk_server):
    server = full_disk_server
    account = server.create_account("full")
    name = f"{account.account_id}/app"
    headers = bearer(server, account, f"repository:{name}:pull,push,delete")

    config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}).encode()
    layer = os.urandom(MiB)
    for blob in (config, layer):
        assert push_blob(server, name, headers, blob).status_code == 201
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": sha256(config),
                "size": len(config),
            },
            "layers": [
                {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": sha256(layer), "size": len(layer)}
            ],
        }
    ).encode()
    response = requests.put(
        f"{server.url}/v2/{name}/manifests/v1",
        data=manifest,
        timeout=30,
        headers={**headers, "Content-Type": "application/vnd.oci.image.manifest.v1+json"},
    )
    assert response.status_code == 201, response.text

    # an upload session holding 2 MiB, freed later
    held = requests.post(f"{server.url}/v2/{name}/blobs/uploads/", headers=headers, timeout=30).headers["Location"]
    response = requests.patch(
        server.url + held,
        data=os.urandom(2 * MiB),
        timeout=60,
        headers={**headers, "Content-Range": f"0-{2 * MiB - 1}"},
    )
    assert response.status_code == 202, response.text

    stored, refused = [], None
    for _ in range(16):  # 8 MiB cannot take more
        blob = os.urandom(MiB)
        response = push_blob(server, name, headers, blob)
        if response.status_code != 201:
            assert_storage_full(response)
            refused = blob
            break
        stored.append(blob)
    assert refused is not None, "8 MiB took 16 MiB"
    assert (
        requests.head(f"{server.url}/v2/{name}/blobs/{sha256(refused)}", headers=headers, timeout=30).status_code == 404
    )

    # a chunk that does not fit: refused, the session stays usable
    chunk = os.urandom(3 * MiB // 2)
    resumable = requests.post(f"{server.url}/v2/{name}/blobs/uploads/", headers=headers, timeout=30).headers["Location"]
    response = requests.patch(
        server.url + resumable, data=chunk, timeout=60, headers={**headers, "Content-Range": f"0-{len(chunk) - 1}"}
    )
    assert_storage_full(response)
    status = requests.get(server.url + resumable, headers=headers, timeout=30)
    assert status.status_code == 204 and status.headers["Range"] == "0-0"

    # the server still serves everything whole
    response = requests.get(
        f"{server.url}/v2/{name}/manifests/v1",
        timeout=30,
        headers={**headers, "Accept": "application/vnd.oci.image.manifest.v1+json"},
    )
    assert response.status_code == 200 and response.content == manifest
    for blob in (config, layer, *stored):
        response = requests.get(f"{server.url}/v2/{name}/blobs/{sha256(blob)}", headers=headers, timeout=60)
        assert response.status_code == 200 and sha256(response.content) == sha256(blob)

    # space freed: the chunk that did not fit now does, and so does the blob refused
    assert requests.delete(server.url + held, headers=headers, timeout=30).status_code == 204
    response = requests.patch(
        server.url + resumable, data=chunk, timeout=60, headers={**headers, "Content-Range": f"0-{len(chunk) - 1}"}
    )
    assert response.status_code == 202, response.text
    response = requests.put(f"{server.url}{resumable}", params={"digest": sha256(chunk)}, headers=headers, timeout=60)
    assert response.status_code == 201, response.text
    response = requests.get(f"{server.url}/v2/{name}/blobs/{sha256(chunk)}", headers=headers, timeout=60)
    assert sha256(response.content) == sha256(chunk)


# --------------------------------------------------------------------------- a worker killed mid-upload


def server_side_inode(server_port: int, client_port: int) -> str:
    """The inode of the server's end of the connection from ``client_port``."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            remote_port = int(fields[2].rsplit(":", 1)[1], 16)
            if local_port == server_port and remote_port == client_port:
                return fields[9]
    raise AssertionError(f"no server socket for the connection from port {client_port}")


def process_holding(inode: str) -> int:
    target = f"socket:[{inode}]"
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if any(os.readlink(fd) == target for fd in (entry / "fd").iterdir()):
                return int(entry.name)
        except OSError:  # a process that went away, or a descriptor that did
            continue
    raise AssertionError(f"no process holds {target}")


def wait_for_spool(path: Path, at_least: int, timeout: float = 60) -> int:
    """The spool file's size once it holds ``at_least`` bytes and stopped growing."""
    deadline = time.monotonic() + timeout
    last = -1
    while time.monotonic() < deadline:
        size = path.stat().st_size if path.exists() else 0
        if size >= at_least and size == last:
            return size
        last = size
        time.sleep(0.3)
    raise AssertionError(f"the spool file holds {last} bytes, not {at_least}")


def test_a_worker_killed_mid_patch_leaves_a_status_a_resume_completes(server):
    account = server.create_account("killed")
    name = f"{account.account_id}/app"
    headers = bearer(server, account, f"repository:{name}:pull,push")
    data = os.urandom(32 * MiB)
    sent = 24 * MiB
    location = requests.post(f"{server.url}/v2/{name}/blobs/uploads/", headers=headers, timeout=30).headers["Location"]
    spool = server.data_dir / "uploads" / location.rsplit("/", 1)[1]

    with socket.create_connection(("127.0.0.1", server.port), timeout=60) as connection:
        head = (
            f"PATCH {location} HTTP/1.1\r\nHost: {server.host}\r\n"
            f"Authorization: {headers['Authorization']}\r\nContent-Type: application/octet-stream\r\n"
            f"Content-Length: {len(data)}\r\nContent-Range: 0-{len(data) - 1}\r\n\r\n"
        )
        connection.sendall(head.encode() + data[:sent])
        held = wait_for_spool(spool, 16 * MiB)
        worker = process_holding(server_side_inode(server.port, connection.getsockname()[1]))
        os.kill(worker, signal.SIGKILL)
        try:
            assert connection.recv(65536) == b""  # the server's end closed with the worker
        except ConnectionResetError:
            pass

    status = requests.get(server.url + location, headers=headers, timeout=30)
    assert status.status_code == 204
    assert status.headers["Range"] == f"0-{held - 1}"
    assert spool.stat().st_size == held
    response = requests.patch(
        server.url + location,
        data=data[held:],
        timeout=60,
        headers={**headers, "Content-Range": f"{held}-{len(data) - 1}"},
    )
    assert response.status_code == 202, response.text
    assert response.headers["Range"] == f"0-{len(data) - 1}"
    response = requests.put(server.url + location, params={"digest": sha256(data)}, headers=headers, timeout=60)
    assert response.status_code == 201, response.text
    response = requests.get(f"{server.url}/v2/{name}/blobs/{sha256(data)}", headers=headers, timeout=60)
    assert response.status_code == 200 and sha256(response.content) == sha256(data)


# --------------------------------------------------------------------------- a Windows image


NONDISTRIBUTABLE = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"


def windows_layout(path: Path) -> tuple[bytes, str]:
    """An OCI layout of a Windows image whose base layer is only named by URL (its
    blob is not in the layout, as after a pull that skipped it). Returns the
    manifest and the base layer's digest."""
    blobs = path / "blobs" / "sha256"
    blobs.mkdir(parents=True)

    def add(data: bytes) -> str:
        (blobs / hashlib.sha256(data).hexdigest()).write_bytes(data)
        return sha256(data)

    base = sha256(b"windows nanoserver base layer")
    app_tar, app = random_layer("windows-app")
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "windows",
            "os.version": "10.0.20348.2340",
            "rootfs": {"type": "layers", "diff_ids": [sha256(b"base"), sha256(app_tar)]},
        }
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": add(config),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": NONDISTRIBUTABLE,
                    "digest": base,
                    "size": 123_456_789,
                    "urls": [f"https://mcr.microsoft.com/v2/windows/nanoserver/blobs/{base}"],
                },
                {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": add(app), "size": len(app)},
            ],
        }
    ).encode()
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": add(manifest),
                "size": len(manifest),
                "annotations": {"org.opencontainers.image.ref.name": "ltsc2022"},
            }
        ],
    }
    (path / "index.json").write_text(json.dumps(index))
    (path / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    return manifest, base


def test_skopeo_copies_a_windows_image_without_its_foreign_layer(server, tmp_path):
    account = server.create_account("windows")
    manifest, base = windows_layout(tmp_path / "layout")
    ref = f"{server.host}/{account.account_id}/nanoserver:ltsc2022"
    # skopeo keeps a foreign layer's URLs instead of copying it: the registry gets the manifest alone
    copy(tmp_path, f"oci:{tmp_path / 'layout'}:ltsc2022", f"docker://{ref}", dest_creds=account.creds)
    assert raw_manifest(tmp_path, ref, account.creds) == manifest
    headers = bearer(server, account, f"repository:{account.account_id}/nanoserver:pull")
    response = requests.head(
        f"{server.url}/v2/{account.account_id}/nanoserver/blobs/{base}", headers=headers, timeout=30
    )
    assert response.status_code == 404
