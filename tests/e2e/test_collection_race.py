"""Garbage collection under load, with the grace window at zero: client processes
push, re-push, mount, tag and delete images of a few repositories that share their
layers, while Celery beat collects every second and `berth gc` runs by hand beside
it. Then every image still tagged is pulled with skopeo and every digest checked,
every blob a remaining manifest references is served, and the store holds nothing
else.

Run against the pass's database (PostgreSQL in the PostgreSQL pass, SQLite in the
other) and both blob stores (the filesystem, and moto's S3 server)."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import random
import secrets
import shutil
import threading
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path

import boto3
import pytest
import requests

from apps.registry.tests.conftest import REGION, start_moto_server
from tests.live_database import server_database

from . import images as I
from .conftest import BerthServer, need, run_isolated

# Bounded in time and count: each client stops at whichever comes first.
LOAD_SECONDS = 15
CLIENTS = 3
OPERATIONS_PER_CLIENT = 1000
REPOSITORIES = ("race/one", "race/two", "race/three")
TAGS = ("a", "b", "c", "d")
LAYER_POOL = 24
IMAGE_POOL = 16
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
ACCEPT = ", ".join([OCI_MANIFEST, "application/vnd.oci.image.index.v1+json"])
# Refusals a client may meet when others delete what it works on, or the collector
# drops the link of a layer it pushed (grace window zero) before its manifest came.
EXPECTED_REFUSALS = {"MANIFEST_BLOB_UNKNOWN", "MANIFEST_UNKNOWN", "BLOB_UNKNOWN", "MANIFEST_INVALID"}


def _layers(seed: int) -> list[bytes]:
    generator = random.Random(seed)
    return [generator.randbytes(generator.randint(512, 8192)) for _ in range(LAYER_POOL)]


def _images(seed: int) -> list[tuple[bytes, list[bytes]]]:
    """(config, layers) for each image of the pool; images share layers."""
    generator = random.Random(seed + 1)
    layers = _layers(seed)
    pool = []
    for number in range(IMAGE_POOL):
        chosen = generator.sample(layers, generator.randint(1, 3))
        config = json.dumps({"architecture": "amd64", "os": "linux", "image": number, "seed": seed}).encode()
        pool.append((config, chosen))
    return pool


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _manifest(config: bytes, layers: list[bytes]) -> bytes:
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": _digest(config),
                       "size": len(config)},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": _digest(layer),
                        "size": len(layer)} for layer in layers],
        }
    ).encode()  # fmt: skip


class Client:
    """The registry protocol over requests, with a token per scope."""

    def __init__(self, url: str, credentials: tuple[str, str]) -> None:
        self.url = url
        self.session = requests.Session()
        self.session.trust_env = False
        self.credentials = credentials
        self.tokens: dict[str, str] = {}
        self.outcomes: Counter = Counter()

    def token(self, scope: str) -> str:
        if scope not in self.tokens:
            response = self.session.get(
                f"{self.url}/token",
                params={"service": "berth-registry", "scope": scope.split(" ")},
                auth=self.credentials,
                timeout=30,
            )
            response.raise_for_status()
            self.tokens[scope] = response.json()["token"]
        return self.tokens[scope]

    def request(self, method: str, path: str, scope: str, *, what: str, **kwargs) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token(scope)}", **kwargs.pop("headers", {})}
        response = self.session.request(
            method, f"{self.url}{path}", headers=headers, timeout=60, allow_redirects=False, **kwargs
        )
        if response.status_code >= 500:
            self.outcomes[f"{what}: {response.status_code} {response.text[:200]}"] += 1
        elif method == "HEAD" and response.status_code == 404:  # a HEAD's answer has no body
            self.outcomes[f"{what} absent ok"] += 1
        elif response.status_code >= 400:
            codes = [error.get("code") for error in (response.json().get("errors") or [])] if response.content else []
            unexpected = [code for code in codes if code not in EXPECTED_REFUSALS] or ([] if codes else ["?"])
            for code in codes:
                self.outcomes[f"refused {code}"] += 1
            if unexpected:
                self.outcomes[f"{what}: {response.status_code} {response.text[:200]}"] += 1
        else:
            self.outcomes[f"{what} ok"] += 1
        return response

    def push_blob(self, repository: str, data: bytes) -> None:
        scope = f"repository:{repository}:pull,push"
        digest = _digest(data)
        if self.request("HEAD", f"/v2/{repository}/blobs/{digest}", scope, what="head blob").status_code == 200:
            return  # as clients do: the repository has it
        self.request("POST", f"/v2/{repository}/blobs/uploads/?digest={digest}", scope, what="push blob", data=data)

    def mount_blob(self, repository: str, source: str, data: bytes) -> None:
        scope = f"repository:{repository}:pull,push repository:{source}:pull"
        digest = _digest(data)
        response = self.request(
            "POST", f"/v2/{repository}/blobs/uploads/?mount={digest}&from={source}", scope, what="mount"
        )
        if response.status_code == 202:  # not mountable (gone from the source): upload into the session
            location = response.headers["Location"]
            separator = "&" if "?" in location else "?"
            path = location.removeprefix(self.url) + f"{separator}digest={digest}"
            self.request("PUT", path, scope, what="complete upload", data=data)

    def put_manifest(self, repository: str, tag: str, body: bytes) -> requests.Response:
        return self.request(
            "PUT",
            f"/v2/{repository}/manifests/{tag}",
            f"repository:{repository}:pull,push",
            what="push manifest",
            data=body,
            headers={"Content-Type": OCI_MANIFEST},
        )

    def get_manifest(self, repository: str, reference: str) -> requests.Response:
        return self.request(
            "GET",
            f"/v2/{repository}/manifests/{reference}",
            f"repository:{repository}:pull",
            what="get manifest",
            headers={"Accept": ACCEPT},
        )

    def delete_manifest(self, repository: str, reference: str) -> None:
        self.request(
            "DELETE", f"/v2/{repository}/manifests/{reference}", f"repository:{repository}:delete", what="delete"
        )

    def tags(self, repository: str) -> list[str]:
        response = self.request("GET", f"/v2/{repository}/tags/list", f"repository:{repository}:pull", what="tags")
        return (response.json().get("tags") or []) if response.status_code == 200 else []


def run_client(url: str, credentials: tuple, repositories: list[str], seed: int, deadline: float, results) -> None:
    """One client process: random operations on ``repositories`` until the deadline
    or its count; puts (operations done, outcome counts) on ``results``."""
    generator = random.Random(seed)
    credentials = tuple(credentials)
    client = Client(url, credentials)
    pool = _images(0)
    done = 0
    while done < OPERATIONS_PER_CLIENT and time.time() < deadline:
        done += 1
        repository = generator.choice(repositories)
        config, layers = generator.choice(pool)
        operation = generator.choices(["push", "mount", "tag", "delete", "untag"], weights=[5, 2, 2, 2, 1])[0]
        if operation == "push":  # a first push, or a re-push of the same layers
            for blob in (config, *layers):
                client.push_blob(repository, blob)
            client.put_manifest(repository, generator.choice(TAGS), _manifest(config, layers))
        elif operation == "mount":
            source = generator.choice([name for name in repositories if name != repository])
            for blob in (config, *layers):
                client.mount_blob(repository, source, blob)
            client.put_manifest(repository, generator.choice(TAGS), _manifest(config, layers))
        elif operation == "tag":
            tags = client.tags(repository)
            if tags:
                response = client.get_manifest(repository, generator.choice(tags))
                if response.status_code == 200:
                    client.put_manifest(repository, generator.choice(TAGS), response.content)
        elif operation == "delete":  # the image, by digest, with every tag on it
            tags = client.tags(repository)
            if tags:
                response = client.get_manifest(repository, generator.choice(tags))
                if response.status_code == 200:
                    client.delete_manifest(repository, response.headers["Docker-Content-Digest"])
        else:
            tags = client.tags(repository)
            if tags:
                client.delete_manifest(repository, generator.choice(tags))
    results.put((done, dict(client.outcomes)))


# Each store with the database it is deployed with, one pass each (the suite's time): the
# filesystem with SQLite (the embedded defaults), S3 with PostgreSQL (the scaled-out set-up).
@pytest.fixture(
    params=[
        pytest.param("filesystem", marks=pytest.mark.database_independent()),
        pytest.param("s3", marks=pytest.mark.database_independent(pass_="postgres")),
    ]
)
def installation(request, tmp_path):
    """A server collecting every second with no grace window, on the pass's database
    and the given blob store; yields (server, a function listing the stored digests)."""
    need("skopeo")
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    database = ExitStack()
    server = BerthServer(data_dir, database.enter_context(server_database(data_dir)))
    server.env.update(
        {
            "BERTH_GC_GRACE_SECONDS": "0",
            "BERTH_GC_INTERVAL_SECONDS": "1",
            "BERTH_WEB_WORKERS": "2",
            "BERTH_WORKER_CONCURRENCY": "1",
        }
    )
    moto = None
    if request.param == "s3":
        fake_aws = {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
        moto, endpoint = start_moto_server({**os.environ, **fake_aws})
        bucket = f"berth-gc-{secrets.token_hex(6)}"
        s3 = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        s3.create_bucket(Bucket=bucket)
        server.env.update(
            {
                **fake_aws,
                "BLOB_STORAGE": "s3",
                "AWS_STORAGE_BUCKET_NAME": bucket,
                "AWS_S3_ENDPOINT_URL": endpoint,
                "AWS_S3_REGION_NAME": REGION,
                "AWS_S3_ADDRESSING_STYLE": "path",
            }
        )

        def stored() -> set[str]:
            keys = []
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="blobs/"):
                keys += [item["Key"] for item in page.get("Contents") or []]
            return {"sha256:" + key.rsplit("/", 1)[1] for key in keys}
    else:

        def stored() -> set[str]:
            root = data_dir / "blobs" / "sha256"
            return {"sha256:" + path.name for path in root.glob("*/*")} if root.is_dir() else set()

    try:
        server.start()
        yield server, stored
    finally:
        server.stop()
        if moto is not None:
            moto.terminate()
            moto.wait(timeout=10)
        database.close()


def _collect_by_hand(server: BerthServer, stop: threading.Event, reports: list) -> None:
    """`berth gc` in a loop beside beat's passes: two collectors at once."""
    while not stop.is_set():
        result = server.cli("gc", "--grace", "0", "--no-progress", "--json", check=False)
        reports.append(result)
        # A process's start-up is most of a pass here, and beat collects every second
        # anyway: leave the clients the cores.
        stop.wait(3)


def test_collection_under_load_loses_nothing_referenced_and_keeps_nothing_else(installation, tmp_path):
    server, stored = installation
    account = server.create_account("Race")
    credentials = (account.username, account.password)
    for name in REPOSITORIES:
        server.create_repository(account.account_id, name)
    repositories = [f"{account.account_id}/{name}" for name in REPOSITORIES]

    stop, reports = threading.Event(), []
    collector = threading.Thread(target=_collect_by_hand, args=(server, stop, reports))
    collector.start()
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    deadline = time.time() + LOAD_SECONDS
    clients = [
        context.Process(
            target=run_client, args=(server.url, credentials, repositories, seed, deadline, results), daemon=True
        )
        for seed in range(CLIENTS)
    ]
    try:
        for process in clients:
            process.start()
        outcomes: Counter = Counter()
        operations = 0
        for _ in clients:
            done, counted = results.get(timeout=LOAD_SECONDS + 120)
            operations += done
            outcomes.update(counted)
    finally:
        stop.set()
        collector.join(timeout=120)
        for process in clients:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
    failures = {key: count for key, count in outcomes.items() if not key.endswith(" ok") and "refused" not in key}
    assert not failures, failures
    # Not a vacuous run, even beside the other pass on a 2-core machine (≈400
    # operations, ≈1,500 requests when alone): pushes landed, images were deleted.
    assert operations >= CLIENTS * 5, (operations, outcomes)
    assert outcomes["push manifest ok"] >= 5 and outcomes["delete ok"] >= 1, outcomes
    print(f"{operations} operations, {sum(outcomes.values())} requests: {dict(sorted(outcomes.items()))}")
    assert all(report.returncode == 0 for report in reports), [r.stderr[-2000:] for r in reports if r.returncode]
    assert reports, "the collector ran by hand at least once"

    # Quiet now: one pass drops the links pushes left without a manifest, the next
    # deletes what they held.
    for _ in range(2):
        server.cli("gc", "--grace", "0", "--no-progress")

    client = Client(server.url, credentials)
    referenced: set[str] = set()
    tagged = []
    for repository in repositories:
        for tag in client.tags(repository):
            response = client.get_manifest(repository, tag)
            assert response.status_code == 200, response.text
            tagged.append((repository, tag, response.headers["Docker-Content-Digest"], response.json()))
    assert tagged, outcomes
    for repository, tag, digest, manifest in tagged:
        blobs = {manifest["config"]["digest"], *(layer["digest"] for layer in manifest["layers"])}
        referenced |= blobs
        _pull_and_check(server, tmp_path, f"{repository}:{tag}", digest, blobs, credentials)
    # Untagged images stay too (as on ECR) and keep their blobs.
    api = _api(server, account)
    for repository in repositories:
        for image in _images_of(server, api, repository, "UNTAGGED"):
            response = client.get_manifest(repository, image["imageDigest"])
            assert response.status_code == 200, response.text
            manifest = response.json()
            referenced |= {manifest["config"]["digest"], *(layer["digest"] for layer in manifest["layers"])}
    assert stored() == referenced


def _api(server: BerthServer, account) -> requests.Session:
    """A management API session signed with a new access key of the account's owner."""
    session = requests.Session()
    session.trust_env = False
    key = session.post(
        f"{server.url}/api/v1/auth/access-keys",
        json={"username": account.username, "password": account.password},
        timeout=30,
    )
    assert key.status_code == 201, key.text
    session.auth = (key.json()["accessKeyId"], key.json()["secretAccessKey"])
    return session


def _images_of(server: BerthServer, session: requests.Session, repository: str, tag_status: str) -> list[dict]:
    name = repository.split("/", 1)[1]
    images, token = [], None
    while True:
        response = session.get(
            f"{server.url}/api/v1/repositories/{name}/-/images",
            params={"max_results": 1000, "tagStatus": tag_status, **({"next": token} if token else {})},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        body = response.json()
        images += body.get("imageIds") or []
        token = body.get("next")
        if not token:
            return images


def _pull_and_check(
    server: BerthServer, tmp: Path, reference: str, digest: str, blobs: set[str], credentials: tuple[str, str]
) -> None:
    out = tmp / f"pulled-{secrets.token_hex(4)}"
    run_isolated(
        [
            "skopeo",
            "copy",
            "--preserve-digests",
            "--src-tls-verify=false",
            "--src-creds",
            ":".join(credentials),
            f"docker://{server.host}/{reference}",
            f"oci:{out}:pulled",
        ],
        tmp / "skopeo",
    )
    descriptor, _ = I.read_oci_layout(out, "pulled")
    assert descriptor["digest"] == digest
    for path in (out / "blobs" / "sha256").iterdir():
        assert hashlib.sha256(path.read_bytes()).hexdigest() == path.name
    pulled = {"sha256:" + path.name for path in (out / "blobs" / "sha256").iterdir()}
    assert blobs <= pulled, blobs - pulled
    shutil.rmtree(out)
