"""The pull-through cache between live servers: the session's Berth caches a second
live Berth (its own database and data directory, a private repository, the
rule's credentials) and Debian's reference registry, pulled with skopeo.

The tests of the Berth upstream run in order: first pull (streamed), second pull
(local), concurrent first pulls, a tag moved upstream, the upstream down."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.live_database import server_database

from . import images as I
from .conftest import BerthServer, _free_port, need, run_isolated
from .test_access_control import Api
from .test_clients import copy

pytestmark = pytest.mark.e2e

LARGE_LAYER_BYTES = 24 * 1024 * 1024
PREFIX = "hub"


def blob_gets(server: BerthServer, repository: str) -> list[str]:
    """The digests of the blob GETs ``server`` answered for ``repository``, from its access log."""
    pattern = re.compile(rf'"GET /v2/{re.escape(repository)}/blobs/(sha256:[0-9a-f]{{64}}) HTTP/1.1" 200 ')
    return pattern.findall(server.log_path.read_text(errors="replace"))


def manifest_gets(server: BerthServer, repository: str) -> int:
    pattern = re.compile(rf'"GET /v2/{re.escape(repository)}/manifests/[^ ]+ HTTP/1.1" 200 ')
    return len(pattern.findall(server.log_path.read_text(errors="replace")))


def push(tmp: Path, image, ref: str, creds: str | None) -> None:
    copy(tmp, f"oci:{image.path}:{image.tag}", f"docker://{ref}", dest_creds=creds)


def pull(tmp: Path, ref: str, creds: str, into: Path) -> dict:
    """skopeo copy ``ref`` into an OCI layout; its manifest."""
    copy(tmp, f"docker://{ref}", f"oci:{into}:pulled", src_creds=creds)
    index = json.loads((into / "index.json").read_text())
    digest = index["manifests"][0]["digest"]
    return {"digest": digest, "manifest": json.loads((into / "blobs" / "sha256" / digest.split(":")[1]).read_bytes())}


def image_with_large_layer(path: Path, tag: str):
    layout = I.OCILayout(path)
    raw, gz = I.make_layer({"big.bin": os.urandom(LARGE_LAYER_BYTES)})
    small_raw, small_gz = I.make_layer({"small.txt": os.urandom(64).hex().encode()})
    layers = [
        {"mediaType": I.OCI_LAYER_GZIP, **layout.add_blob(gz)},
        {"mediaType": I.OCI_LAYER_GZIP, **layout.add_blob(small_gz)},
    ]
    config = I.canonical_json(I._image_config("amd64", [I.sha256_digest(raw), I.sha256_digest(small_raw)]))
    config_desc = {"mediaType": I.OCI_CONFIG, **layout.add_blob(config)}
    manifest = json.dumps(
        {"schemaVersion": 2, "mediaType": I.OCI_MANIFEST, "config": config_desc, "layers": layers}
    ).encode()
    described = layout.add_blob(manifest)
    layout.set_ref(tag, I.OCI_MANIFEST, described["digest"], described["size"])
    return type(
        "Built", (), {"path": layout.path, "tag": tag, "digest": described["digest"], "large": layers[0]["digest"]}
    )


@pytest.fixture(scope="module")
def upstream(tmp_path_factory):
    """A second live Berth with a private repository `app` holding `app:v1`."""
    need("skopeo")
    root = tmp_path_factory.mktemp("upstream")
    data_dir = root / "data"
    data_dir.mkdir()
    with server_database(data_dir) as database_url:
        server = BerthServer(data_dir, database_url)
        try:
            server.start()
            account = server.create_account("upstream")
            image = image_with_large_layer(root / "v1", "v1")
            push(root / "push", image, f"{server.host}/{account.account_id}/library/app:v1", account.creds)
            yield server, account, image
        finally:
            server.stop()


@pytest.fixture(scope="module")
def cache(berth, upstream):
    """An account of the session's Berth with a rule caching the upstream's
    `library/...` under `hub/...`, re-checking tags every second."""
    server, account, _ = upstream
    owner = berth.create_account("cache")
    api = Api.for_root(berth, owner)
    rule = api.call(
        "POST",
        "pull-through-cache-rules",
        json={
            "ecrRepositoryPrefix": PREFIX,
            "upstreamRegistryUrl": server.url,
            "upstreamRepositoryPrefix": f"{account.account_id}/library",
            "credentials": {"username": account.username, "password": account.password},
            "tagRecheckSeconds": 1,
        },
    )
    assert rule["credentialsConfigured"] and "password" not in json.dumps(rule)
    assert api.call("POST", f"pull-through-cache-rules/{PREFIX}/-/validate")["isValid"] is True
    return owner, api


def _token(berth, owner, repository: str) -> str:
    response = requests.get(
        f"{berth.url}/token",
        params={"service": "berth-registry", "scope": f"repository:{repository}:pull"},
        auth=(owner.username, owner.password),
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return response.json()["token"]


def test_the_first_pull_streams_each_layer_while_storing_it(berth, upstream, cache, tmp_path):
    _, _, image = upstream
    owner, _ = cache
    repository = f"{owner.account_id}/{PREFIX}/app"
    headers = {"Authorization": f"Bearer {_token(berth, owner, repository)}"}
    accept = {"Accept": I.OCI_MANIFEST}
    manifest = requests.get(f"{berth.url}/v2/{repository}/manifests/v1", headers=headers | accept, timeout=60)
    assert manifest.status_code == 200, manifest.text
    assert manifest.headers["Docker-Content-Digest"] == image.digest

    stored = berth.data_dir / "blobs" / "sha256" / image.large[7:9] / image.large[7:]
    started = time.monotonic()
    with requests.get(
        f"{berth.url}/v2/{repository}/blobs/{image.large}", headers=headers, stream=True, timeout=60
    ) as blob:
        assert blob.status_code == 200, blob.text
        chunks = blob.iter_content(256 * 1024)
        first = next(chunks)
        first_byte = time.monotonic() - started
        # The client holds the first bytes while the cache holds neither the blob
        # nor the whole of its bytes: it is streaming, not serving a finished copy.
        spooled = [path.stat().st_size for path in (berth.data_dir / "uploads").iterdir()]
        assert not stored.exists()
        assert spooled and max(spooled) < LARGE_LAYER_BYTES
        hasher = hashlib.sha256(first)
        for chunk in chunks:
            hasher.update(chunk)
        total = time.monotonic() - started
    assert f"sha256:{hasher.hexdigest()}" == image.large
    print(
        f"large layer ({LARGE_LAYER_BYTES >> 20} MiB + gzip): first byte after {first_byte:.3f}s, all after {total:.3f}s"
    )
    deadline = time.monotonic() + 10
    while not stored.exists():  # committed just after the last byte went out
        assert time.monotonic() < deadline, "the streamed blob was never committed"
        time.sleep(0.05)

    pulled = pull(tmp_path, f"{berth.host}/{repository}:v1", owner.creds, tmp_path / "first")
    assert pulled["digest"] == image.digest


def test_the_second_pull_is_local(berth, upstream, cache, tmp_path):
    server, account, image = upstream
    owner, _ = cache
    upstream_repository = f"{account.account_id}/library/app"
    blobs_before, manifests_before = blob_gets(server, upstream_repository), manifest_gets(server, upstream_repository)
    assert sorted(set(blobs_before)) == sorted(blobs_before), "the first pull fetched a blob twice"
    pulled = pull(tmp_path, f"{berth.host}/{owner.account_id}/{PREFIX}/app:v1", owner.creds, tmp_path / "second")
    assert pulled["digest"] == image.digest
    assert blob_gets(server, upstream_repository) == blobs_before
    assert manifest_gets(server, upstream_repository) == manifests_before


def test_concurrent_first_pulls_fetch_each_blob_once(berth, upstream, cache, tmp_path):
    server, account, _ = upstream
    owner, _ = cache
    image = I.build_oci_image(tmp_path / "conc", tag="v1", n_layers=3)
    push(tmp_path / "push", image, f"{server.host}/{account.account_id}/library/conc:v1", account.creds)
    ref = f"{berth.host}/{owner.account_id}/{PREFIX}/conc:v1"
    with ThreadPoolExecutor(4) as pool:
        pulled = list(pool.map(lambda n: pull(tmp_path / f"p{n}", ref, owner.creds, tmp_path / f"out{n}"), range(4)))
    assert {p["digest"] for p in pulled} == {image.manifest_digest}
    fetched = blob_gets(server, f"{account.account_id}/library/conc")
    assert sorted(fetched) == sorted(set(image.blob_digests)), "each blob once from the upstream"


def test_a_tag_moved_upstream_is_noticed_and_audited(berth, upstream, cache, tmp_path):
    server, account, image = upstream
    owner, api = cache
    moved = I.build_oci_image(tmp_path / "v1b", tag="v1", n_layers=1)
    push(tmp_path / "push", moved, f"{server.host}/{account.account_id}/library/app:v1", account.creds)
    time.sleep(1.2)  # the rule re-checks a tag at most every second
    pulled = pull(tmp_path, f"{berth.host}/{owner.account_id}/{PREFIX}/app:v1", owner.creds, tmp_path / "moved")
    assert pulled["digest"] == moved.manifest_digest
    events = api.call("GET", "audit/events", params={"event_name": "BatchImportUpstreamImage", "tag": "v1"})
    moves = [
        event
        for event in events["events"]
        if (event.get("responseElements") or {}).get("previousImageDigest") == image.digest
    ]
    assert moves, events
    event = moves[0]
    assert event["userIdentity"]["type"] == "BerthService"
    assert event["requestParameters"]["upstream"] == f"{server.url}/{account.account_id}/library/app"
    assert event["responseElements"]["image"]["imageId"]["imageDigest"] == moved.manifest_digest


def test_with_the_upstream_down_the_cache_serves_what_it_holds(berth, upstream, cache, tmp_path):
    server, _, _ = upstream
    owner, _ = cache
    server.stop()
    time.sleep(1.2)  # a re-check is due, and fails
    pulled = pull(tmp_path, f"{berth.host}/{owner.account_id}/{PREFIX}/conc:v1", owner.creds, tmp_path / "down")
    assert pulled["digest"]
    repository = f"{owner.account_id}/{PREFIX}/app"
    headers = {"Authorization": f"Bearer {_token(berth, owner, repository)}"}
    missing = requests.get(f"{berth.url}/v2/{repository}/manifests/never", headers=headers, timeout=60)
    assert missing.status_code == 503, missing.text
    error = missing.json()["errors"][0]
    assert error["code"] == "UNAVAILABLE" and server.url in error["message"], error
    berth.wait_for_log("could not re-check", timeout=10)


def test_debians_reference_registry_as_the_upstream(berth, tmp_path):
    binary = need("docker-registry")
    need("skopeo")
    port = _free_port()
    config = tmp_path / "config.yml"
    config.write_text(
        f"version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {tmp_path / 'store'}\n"
        f"http:\n  addr: 127.0.0.1:{port}\nlog:\n  level: warn\n"
    )
    registry = subprocess.Popen([binary, "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if requests.get(f"http://127.0.0.1:{port}/v2/", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "docker-registry did not start"
            time.sleep(0.1)
        image = I.build_oci_image(tmp_path / "img", tag="1.0", n_layers=2)
        push(tmp_path / "push", image, f"127.0.0.1:{port}/tools/thing:1.0", None)
        owner = berth.create_account("dreg")
        api = Api.for_root(berth, owner)
        api.call(
            "POST",
            "pull-through-cache-rules",
            json={"ecrRepositoryPrefix": "dreg", "upstreamRegistryUrl": f"http://127.0.0.1:{port}"},
        )
        pulled = pull(tmp_path, f"{berth.host}/{owner.account_id}/dreg/tools/thing:1.0", owner.creds, tmp_path / "out")
        assert pulled["digest"] == image.manifest_digest
        described = run_isolated(
            [
                "skopeo",
                "inspect",
                "--tls-verify=false",
                "--creds",
                owner.creds,
                f"docker://{berth.host}/{owner.account_id}/dreg/tools/thing:1.0",
            ],
            tmp_path / "inspect",
        )
        assert json.loads(described.stdout)["Digest"] == image.manifest_digest
    finally:
        registry.terminate()
        registry.wait(timeout=10)
