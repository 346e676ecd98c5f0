"""The README's scaled-out setup, started as an operator would: two `berth serve
--no-worker` web processes (each with a data directory and an upload directory of
its own, as on two hosts) sharing nothing but PostgreSQL, Redis and an S3 endpoint
(moto's server), one `berth worker` and one `berth beat`.

A chunked upload's PATCHes alternate between the web processes, in chunks smaller
and larger than S3's 5 MiB part minimum, and no upload byte is written to either
host's disk (uploads are S3 multipart uploads); the worker is
killed while it runs a task (the blob store stalls under it), and the task runs on
the worker started next; every image is pulled back with skopeo from the web
process it was not pushed to, digest by digest.

PostgreSQL and Redis come from DATABASE_URL / REDIS_URL (or BERTH_TEST_*): the
PostgreSQL pass of `scripts/test` runs this. In CI a machine without them fails it."""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from apps.registry.tests.conftest import REGION, start_moto_server
from tests.live_database import PostgresDatabase, postgres_url

from . import images as I
from .conftest import (
    BERTH_BIN,
    SERVER_MARK_VARIABLE,
    BerthServer,
    in_ci,
    need,
    processes_marked,
    run_isolated,
    tracebacks_in,
)

MiB = 1024 * 1024
# Seconds after which Redis gives a dead worker's task to another (BERTH_CELERY_VISIBILITY_TIMEOUT).
VISIBILITY_TIMEOUT = 5
TASK_TIMEOUT = 60
RECEIVED = r"Task apps\.registry\.tasks\.record_image_details\[([0-9a-f-]+)\] received"


def services() -> tuple[str, str]:
    """The PostgreSQL and Redis URLs of this run; skipped (failed in CI) without them."""
    postgres = postgres_url()
    redis_url = os.environ.get("BERTH_TEST_REDIS_URL") or os.environ.get("REDIS_URL")
    if postgres and redis_url:
        return postgres, redis_url
    if in_ci() and not _local_services_answer():
        pytest.fail("CI is set but PostgreSQL and Redis do not answer on 127.0.0.1: the scaled-out test cannot run")
    pytest.skip("needs PostgreSQL and Redis (DATABASE_URL and REDIS_URL): the PostgreSQL pass of scripts/test runs it")


def _local_services_answer() -> bool:
    """Whether this machine runs PostgreSQL and Redis (scripts/test then has a
    PostgreSQL pass, which runs this test)."""
    import psycopg
    import redis

    try:
        psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", connect_timeout=5).close()
        return bool(redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=5).ping())
    except (psycopg.Error, redis.RedisError):
        return False


@dataclass
class Background:
    """`berth worker` or `berth beat`, in a session of its own, logging to a file."""

    command: str
    env: dict
    log_path: Path
    mark: str = field(default_factory=lambda: secrets.token_hex(8))
    proc: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [str(BERTH_BIN), self.command],
                env={**self.env, SERVER_MARK_VARIABLE: self.mark},
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.log_path.parent,
                start_new_session=True,
            )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL every process of it (a worker's pool processes too)."""
        for pid in processes_marked(self.mark):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.proc is not None:
            self.proc.wait(timeout=10)


@dataclass
class Installation:
    webs: list[BerthServer]
    worker_env: dict
    tmp: Path
    moto: subprocess.Popen
    moto_port: int
    background: list[Background] = field(default_factory=list)

    def start(self, command: str, log_name: str) -> Background:
        process = Background(command, self.worker_env, self.tmp / log_name)
        process.start()
        self.background.append(process)
        return process


def wait_for(what: str, predicate, timeout: float):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.2)
    pytest.fail(f"timed out after {timeout}s waiting for {what}")


def request_waiting_at(port: int) -> bool:
    """Whether a connection to ``port`` on this host holds bytes its server has not
    read: a request to a stopped server."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port, receive_queue = int(fields[1].split(":")[1], 16), int(fields[4].split(":")[1], 16)
        if local_port == port and receive_queue:
            return True
    return False


def token_signing_key() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@pytest.fixture
def installation(tmp_path):
    postgres_url, redis_url = services()
    need("skopeo")
    fake_aws = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    moto, endpoint = start_moto_server({**os.environ, **fake_aws})
    database = PostgresDatabase(postgres_url)
    database.create()
    bucket = f"berth-scaled-{secrets.token_hex(6)}"
    boto3.client(
        "s3", endpoint_url=endpoint, region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
    ).create_bucket(Bucket=bucket)
    shared = {
        # what the README's scaled-out section asks every process to share
        "DATABASE_URL": database.url,
        "REDIS_URL": redis_url,
        "BLOB_STORAGE": "s3",
        "AWS_STORAGE_BUCKET_NAME": bucket,
        "AWS_S3_ENDPOINT_URL": endpoint,
        "AWS_S3_REGION_NAME": REGION,
        "AWS_S3_ADDRESSING_STYLE": "path",
        **fake_aws,
        "SECRET_KEY": secrets.token_urlsafe(40),
        "BERTH_TOKEN_PRIVATE_KEY": token_signing_key(),
        # parts of S3's minimum size, so that the chunks below cross part boundaries
        "BERTH_S3_UPLOAD_PART_SIZE": str(5 * MiB),
        "BERTH_CELERY_QUEUE": f"berth-scaled-{secrets.token_hex(6)}",
        "BERTH_CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT),
        # beat hands the worker a sweep every 2 s: proof that beat, broker and worker meet
        "BERTH_UPLOAD_SWEEP_SECONDS": "2",
        "BERTH_WEB_WORKERS": "2",
        "BERTH_WORKER_CONCURRENCY": "1",
    }
    webs = []
    for number in (1, 2):
        data_dir = tmp_path / f"web{number}"
        data_dir.mkdir()
        web = BerthServer(data_dir, database.url)
        web.env.update(shared)
        # not shared: with S3 no upload byte may land here
        web.env["BERTH_UPLOAD_DIR"] = str(data_dir / "uploads")
        web.serve_options = ["--no-worker"]
        web.log_path = tmp_path / f"web{number}.log"
        webs.append(web)
    worker_dir = tmp_path / "worker-host"
    worker_dir.mkdir()
    worker_env = {**webs[0].env, "BERTH_DATA_DIR": str(worker_dir)}
    worker_env.pop(SERVER_MARK_VARIABLE)
    setup = Installation(
        webs=webs, worker_env=worker_env, tmp=worker_dir, moto=moto, moto_port=int(endpoint.rsplit(":", 1)[1])
    )
    try:
        webs[0].cli("migrate")  # once, before the processes that share the database start
        for web in webs:
            web.launch()
        setup.start("beat", "beat.log")
        setup.start("worker", "worker1.log")
        for web in webs:
            web.wait_until_ready()
        yield setup
    finally:
        os.kill(moto.pid, signal.SIGCONT)
        for web in webs:
            web.stop()
        for process in setup.background:
            process.kill()
        moto.terminate()
        moto.wait(timeout=10)
        database.drop()
    for process in setup.background:
        assert not tracebacks_in(process.log()), f"{process.log_path}:\n" + "\n".join(tracebacks_in(process.log()))


def bearer(server: BerthServer, account, scope: str) -> dict[str, str]:
    challenge = requests.get(f"{server.url}/v2/", timeout=10).headers["WWW-Authenticate"]
    realm = re.search(r'realm="([^"]+)"', challenge).group(1)
    service = re.search(r'service="([^"]+)"', challenge).group(1)
    response = requests.get(
        realm, params={"service": service, "scope": scope}, auth=(account.username, account.password), timeout=30
    )
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['token']}"}


def upload_in_chunks(webs: list[BerthServer], name: str, headers: dict, blob: bytes, cuts: list[int]) -> str:
    """PATCH ``blob`` in the pieces ``cuts`` delimit, each to the other web process; commit it."""
    start = requests.post(f"{webs[0].url}/v2/{name}/blobs/uploads/", headers=headers, timeout=30)
    assert start.status_code == 202, start.text
    path = start.headers["Location"]
    chunks = len(cuts) - 1
    for number, (first, end) in enumerate(zip(cuts, cuts[1:])):
        web = webs[number % len(webs)]
        response = requests.patch(
            web.url + path,
            data=blob[first:end],
            timeout=60,
            headers={**headers, "Content-Range": f"{first}-{end - 1}", "Content-Type": "application/octet-stream"},
        )
        assert response.status_code == 202, f"chunk {number} on {web.url}: {response.text}"
        assert response.headers["Range"] == f"0-{end - 1}"
        path = response.headers["Location"]
    digest = I.sha256_digest(blob)
    put = requests.put(f"{webs[chunks % len(webs)].url}{path}", params={"digest": digest}, headers=headers, timeout=60)
    assert put.status_code == 201, put.text
    return digest


def upload_whole(web: BerthServer, name: str, headers: dict, blob: bytes) -> str:
    digest = I.sha256_digest(blob)
    response = requests.post(
        f"{web.url}/v2/{name}/blobs/uploads/",
        params={"digest": digest},
        data=blob,
        timeout=60,
        headers={**headers, "Content-Type": "application/octet-stream"},
    )
    assert response.status_code == 201, response.text
    return digest


def platforms_recorded(web: BerthServer, digest: str) -> list:
    result = web.cli(
        "shell",
        "-c",
        "import json; from apps.registry.models import Manifest; "
        f"print(json.dumps(Manifest.objects.get(digest='{digest}').platforms))",
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def pull_and_check(
    web: BerthServer, tmp: Path, reference: str, manifest_digest: str, blobs: set[str], creds: str
) -> None:
    """skopeo copies ``reference`` (every platform) into an OCI layout: the manifest
    digest is the pushed one and every blob is there with its digest."""
    out = tmp / f"pulled-{secrets.token_hex(4)}"
    tag = reference.rsplit(":", 1)[1]
    run_isolated(
        [
            "skopeo",
            "copy",
            "--all",
            "--src-tls-verify=false",
            "--src-creds",
            creds,
            f"docker://{web.host}/{reference}",
            f"oci:{out}:{tag}",
        ],
        tmp / "skopeo",
    )
    descriptor, _ = I.read_oci_layout(out, tag)
    assert descriptor["digest"] == manifest_digest
    pulled = {}
    for path in (out / "blobs" / "sha256").iterdir():
        pulled["sha256:" + path.name] = "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    assert all(name == content for name, content in pulled.items())
    assert blobs <= set(pulled), blobs - set(pulled)


def test_two_web_processes_a_worker_and_beat_share_one_installation(installation, tmp_path):
    web1, web2 = installation.webs
    [worker] = [process for process in installation.background if process.command == "worker"]
    account = web1.create_account("Scaled Co")
    name = f"{account.account_id}/scaled/app"
    headers = bearer(web1, account, f"repository:{name}:pull,push")  # signed by web1, honoured by web2

    # Images pushed with skopeo, one through each web process.
    single = I.build_oci_image(tmp_path / "single", tag="single")
    multi = I.build_multiarch_index(tmp_path / "multi", tag="multi")
    for web, image in ((web1, single), (web2, multi)):
        run_isolated(
            [
                "skopeo",
                "copy",
                "--all",
                "--dest-tls-verify=false",
                "--dest-creds",
                account.creds,
                f"oci:{image.path}:{image.tag}",
                f"docker://{web.host}/{name}:{image.tag}",
            ],
            tmp_path / "skopeo",
        )
    pushed_manifests = 4  # the image, the index and its two images
    wait_for(
        "the worker to record the pushed images' details",
        lambda: len(re.findall(r"record_image_details\[[0-9a-f-]+\] succeeded", worker.log())) >= pushed_manifests,
        TASK_TIMEOUT,
    )

    # A layer uploaded in chunks that alternate between the two web processes: tiny
    # ones, and ones below and above S3's 5 MiB part minimum, crossing parts.
    raw_layer, layer = I.random_layer("scaled", size=12 * MiB)
    cuts = [0, 1, 100 * 1024, 6 * MiB, 6 * MiB + 7, 9 * MiB, len(layer)]
    layer_digest = upload_in_chunks([web1, web2], name, headers, layer, cuts)
    config = I.canonical_json(I._image_config("amd64", [I.sha256_digest(raw_layer)]))
    config_digest = upload_whole(web2, name, headers, config)
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": I.OCI_MANIFEST,
            "config": {"mediaType": I.OCI_CONFIG, "digest": config_digest, "size": len(config)},
            "layers": [{"mediaType": I.OCI_LAYER_GZIP, "digest": layer_digest, "size": len(layer)}],
        }
    ).encode()
    manifest_digest = I.sha256_digest(manifest)

    # The worker is killed while it runs this manifest's post-push task: the blob
    # store stops answering, so the task is held reading the image's config.
    received_before = set(re.findall(RECEIVED, worker.log()))
    os.kill(installation.moto.pid, signal.SIGSTOP)
    try:
        put = requests.put(
            f"{web2.url}/v2/{name}/manifests/chunked",
            data=manifest,
            timeout=30,
            headers={**headers, "Content-Type": I.OCI_MANIFEST},
        )
        assert put.status_code == 201, put.text
        [task_id] = wait_for(
            "the worker to receive the post-push task",
            lambda: set(re.findall(RECEIVED, worker.log())) - received_before,
            TASK_TIMEOUT,
        )
        handed_out = time.monotonic()
        wait_for("the task to wait on the blob store", lambda: request_waiting_at(installation.moto_port), TASK_TIMEOUT)
        worker.kill()
    finally:
        os.kill(installation.moto.pid, signal.SIGCONT)
    assert f"record_image_details[{task_id}] succeeded" not in worker.log()
    assert platforms_recorded(web1, manifest_digest) == []

    # Another worker starts once the broker may hand the task out again: it runs it.
    time.sleep(max(0.0, handed_out + VISIBILITY_TIMEOUT + 1 - time.monotonic()))
    second = installation.start("worker", "worker2.log")
    wait_for(
        "the task to run on the second worker",
        lambda: f"record_image_details[{task_id}] succeeded" in second.log(),
        TASK_TIMEOUT,
    )
    assert platforms_recorded(web2, manifest_digest) == [{"architecture": "amd64", "os": "linux"}]
    wait_for(
        "beat's upload sweep to run on a worker",
        lambda: re.search(r"expire_abandoned_uploads\[[0-9a-f-]+\] succeeded", second.log()),
        TASK_TIMEOUT,
    )

    # Every image back, each from the web process it was not pushed through.
    pull_and_check(web2, tmp_path, f"{name}:single", single.manifest_digest, set(single.blob_digests), account.creds)
    pull_and_check(
        web1,
        tmp_path,
        f"{name}:multi",
        multi.index_digest,
        {digest for image in multi.images for digest in [image.manifest_digest, *image.blob_digests]},
        account.creds,
    )
    pull_and_check(web1, tmp_path, f"{name}:chunked", manifest_digest, {config_digest, layer_digest}, account.creds)

    # Nothing of any upload was written on either web host; nothing is left in the bucket.
    for web in (web1, web2):
        uploads = Path(web.env["BERTH_UPLOAD_DIR"])
        assert not uploads.exists() or not any(uploads.iterdir()), list(uploads.iterdir())
    s3 = boto3.client(
        "s3",
        endpoint_url=web1.env["AWS_S3_ENDPOINT_URL"],
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    bucket = web1.env["AWS_STORAGE_BUCKET_NAME"]
    assert not s3.list_multipart_uploads(Bucket=bucket).get("Uploads")
    assert not s3.list_objects_v2(Bucket=bucket, Prefix="uploads/").get("Contents")
