"""The outbound registry client (apps/replication/client.py) against real registries:
a live Berth (token auth, accounts, private and public repositories, the OCI 1.1
referrers API) and Debian's reference registry (distribution 2.8: no auth, no
referrers API, so the tag-schema fallback).

An image is pushed by hand through the client (config and layer through
upload_blob in several chunks, the manifest through put_manifest) and read back.
The fault cases (broken uploads and downloads, retries) are in
apps/replication/tests/test_client.py."""

from __future__ import annotations

import hashlib
import json
import secrets
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from apps.replication.client import (
    OCI_INDEX,
    OCI_MANIFEST,
    AccessDenied,
    NotFound,
    RegistryClient,
)

from .conftest import need
from .outbound_proxy import BreakingProxy

pytestmark = pytest.mark.e2e

CHUNK = 64 * 1024
CONFIG_TYPE = "application/vnd.oci.image.config.v1+json"
LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar"
SIGNATURE_TYPE = "application/vnd.example.signature.v1+json"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def chunks_of(data: bytes):
    def source(offset: int):
        for start in range(offset, len(data), 50_000):
            yield data[start : start + 50_000]

    return source


class HandMadeImage:
    """A config, one layer of a few chunks, and their manifest."""

    def __init__(self, label: str) -> None:
        self.layer = secrets.token_bytes(3 * CHUNK + 1234)
        self.config = json.dumps(
            {
                "architecture": "amd64",
                "os": "linux",
                "rootfs": {"type": "layers", "diff_ids": [sha256(self.layer)]},
                "config": {"Labels": {"made-by": label}},
            }
        ).encode()
        self.manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {"mediaType": CONFIG_TYPE, "digest": sha256(self.config), "size": len(self.config)},
                "layers": [{"mediaType": LAYER_TYPE, "digest": sha256(self.layer), "size": len(self.layer)}],
            }
        ).encode()
        self.digest = sha256(self.manifest)

    def blobs(self) -> list[bytes]:
        return [self.config, self.layer]


def signature_for(subject: HandMadeImage, empty_config: bytes = b"{}") -> bytes:
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": SIGNATURE_TYPE,
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": sha256(empty_config), "size": 2},
            "layers": [{"mediaType": "application/vnd.oci.empty.v1+json", "digest": sha256(empty_config), "size": 2}],
            "subject": {"mediaType": OCI_MANIFEST, "digest": subject.digest, "size": len(subject.manifest)},
        }
    ).encode()


def push(client: RegistryClient, repository: str, image: HandMadeImage, tag: str) -> list[str]:
    outcomes = [client.upload_blob(repository, sha256(blob), len(blob), chunks_of(blob)) for blob in image.blobs()]
    assert client.put_manifest(repository, tag, image.manifest, OCI_MANIFEST) == image.digest
    return outcomes


def assert_round_trip(client: RegistryClient, repository: str, image: HandMadeImage, tag: str) -> None:
    """Push ``image`` as ``tag`` and read all of it back."""
    assert push(client, repository, image, tag) == ["uploaded", "uploaded"]
    # a second upload finds what is there
    assert client.upload_blob(repository, sha256(image.layer), len(image.layer), chunks_of(image.layer)) == "present"
    for reference in (tag, image.digest):
        fetched = client.get_manifest(repository, reference)
        assert (fetched.body, fetched.media_type, fetched.digest) == (image.manifest, OCI_MANIFEST, image.digest)
    head = client.head_manifest(repository, tag)
    assert (head.digest, head.size, head.media_type) == (image.digest, len(image.manifest), OCI_MANIFEST)
    with client.open_blob(repository, sha256(image.layer)) as stream:
        assert stream.size == len(image.layer)
        assert b"".join(stream) == image.layer
    assert client.open_blob(repository, sha256(image.layer), offset=CHUNK).read() == image.layer[CHUNK:]
    assert client.open_blob(repository, sha256(image.config)).read() == image.config
    assert tag in client.list_tags(repository)
    assert client.has_blob(repository, sha256(image.config))
    assert not client.has_blob(repository, sha256(b"never pushed"))
    assert client.head_manifest(repository, "no-such-tag") is None
    with pytest.raises(NotFound) as caught:
        client.get_manifest(repository, "no-such-tag")
    assert caught.value.status == 404 and caught.value.code == "MANIFEST_UNKNOWN"


def assert_resumes_through_breaks(
    port: int, repository: str, credentials: dict, resumed: tuple[list[int], ...]
) -> None:
    """Through a proxy that cuts an upload chunk short and then a download, the
    client resumes both from what the registry says it holds (upload) and from
    what arrived (download), and the bytes are whole. ``resumed``: the sequences
    of offsets the source may be read from (any one of them)."""
    proxy = BreakingProxy(port)
    try:
        client = RegistryClient(proxy.url, chunk_size=CHUNK, timeout=30, sleep=lambda _: None, **credentials)
        layer = secrets.token_bytes(5 * CHUNK + 77)
        digest = sha256(layer)
        offsets: list[int] = []

        def source(offset: int):
            offsets.append(offset)
            return chunks_of(layer)(offset)

        # the first chunk arrives, then a third of the second one
        proxy.patches_before_cut, proxy.cut_patch_after = 1, CHUNK // 3
        assert client.upload_blob(repository, digest, len(layer), source) == "uploaded"
        assert proxy.cuts == ["patch"]
        assert offsets in resumed

        proxy.cut_blob_download_after = 2 * CHUNK + 500
        assert client.open_blob(repository, digest).read() == layer
        assert proxy.cuts == ["patch", "download"]
    finally:
        proxy.close()
    direct = RegistryClient(f"http://127.0.0.1:{port}", timeout=30, **credentials)
    assert direct.open_blob(repository, digest).read() == layer


# --------------------------------------------------------------------------- a live Berth


@pytest.fixture(scope="module")
def owners(berth):
    """Two accounts, each with a private repository; the first also a public one."""
    first = berth.create_account("outbound-a")
    second = berth.create_account("outbound-b")
    for account, name, public in (
        (first, "app", False),
        (first, "copy", False),
        (first, "open", True),
        (second, "secret", False),
    ):
        berth.create_repository(account.account_id, name, public=public)
    return first, second


def berth_client(berth, account=None, **options) -> RegistryClient:
    credentials = {"username": account.username, "password": account.password} if account else {}
    return RegistryClient(berth.url, chunk_size=CHUNK, timeout=30, sleep=lambda _: None, **credentials, **options)


def test_round_trip_mount_and_referrers_against_berth(berth, owners):
    owner, _ = owners
    client = berth_client(berth, owner)
    client.ping()
    repository = f"{owner.account_id}/app"
    image = HandMadeImage("berth")
    assert_round_trip(client, repository, image, "v1")

    # another repository of the account mounts the layer instead of receiving it
    other = f"{owner.account_id}/copy"
    layer = image.layer
    assert client.upload_blob(other, sha256(layer), len(layer), chunks_of(layer), mount_from=[repository]) == "mounted"
    assert client.open_blob(other, sha256(layer)).read() == layer

    # a signature whose subject is the image, found through the referrers API
    empty = b"{}"
    assert client.upload_blob(repository, sha256(empty), 2, chunks_of(empty)) == "uploaded"
    signature = signature_for(image, empty)
    signature_digest = client.put_manifest(repository, sha256(signature), signature, OCI_MANIFEST)
    [found] = client.referrers(repository, image.digest)
    assert (found.digest, found.artifact_type, found.size) == (signature_digest, SIGNATURE_TYPE, len(signature))
    assert client.referrers(repository, sha256(b"no manifest")) == []

    assert client.delete_manifest(repository, signature_digest) is True
    assert client.referrers(repository, image.digest) == []

    # a tag goes and its image stays (OCI distribution 1.1)
    assert client.put_manifest(repository, "v2", image.manifest, OCI_MANIFEST) == image.digest
    assert client.delete_tag(repository, "v2") is True
    assert client.delete_tag(repository, "v2") is False
    assert client.head_manifest(repository, "v2") is None
    assert client.head_manifest(repository, "v1").digest == image.digest


def test_public_repository_answers_anonymous_pulls(berth, owners):
    owner, _ = owners
    repository = f"{owner.account_id}/open"
    image = HandMadeImage("public")
    push(berth_client(berth, owner), repository, image, "v1")
    anonymous = berth_client(berth)
    anonymous.ping()
    assert anonymous.get_manifest(repository, "v1").digest == image.digest
    assert anonymous.open_blob(repository, sha256(image.layer)).read() == image.layer
    with pytest.raises(AccessDenied):  # public reads, not public writes
        anonymous.upload_blob(repository, sha256(b"x"), 1, chunks_of(b"x"))


def test_access_denied_for_wrong_credentials_and_another_accounts_repository(berth, owners):
    owner, stranger = owners
    image = HandMadeImage("private")
    push(berth_client(berth, stranger), f"{stranger.account_id}/secret", image, "v1")

    wrong = RegistryClient(berth.url, username=owner.username, password="not-" + owner.password, timeout=30)
    with pytest.raises(AccessDenied) as caught:
        wrong.ping()
    assert caught.value.status == 401
    assert owner.password not in caught.value.message

    for client in (berth_client(berth, owner), berth_client(berth)):
        with pytest.raises(AccessDenied) as caught:
            client.get_manifest(f"{stranger.account_id}/secret", "v1")
        assert caught.value.status in (401, 403)
        with pytest.raises(AccessDenied):
            client.open_blob(f"{stranger.account_id}/secret", sha256(image.layer))


def test_upload_and_download_resume_after_breaks_against_berth(berth, owners):
    owner, _ = owners
    credentials = {"username": owner.username, "password": owner.password}
    # Berth keeps whole chunks only: the upload goes on after the first one
    assert_resumes_through_breaks(berth.port, f"{owner.account_id}/app", credentials, resumed=([0, CHUNK],))


# --------------------------------------------------------------------------- Debian's docker-registry


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def distribution(tmp_path_factory):
    binary = need("docker-registry")
    root = tmp_path_factory.mktemp("docker-registry")
    port = _free_port()
    config = root / "config.yml"
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: warn\n"
        f"storage:\n  filesystem:\n    rootdirectory: {root / 'data'}\n  delete:\n    enabled: true\n"
        # it waits this long for open connections when told to stop
        f"http:\n  addr: 127.0.0.1:{port}\n  draintimeout: 1s\n"
    )
    log = open(root / "registry.log", "wb")
    process = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(url + "/v2/", timeout=2):
                    break
            except (urllib.error.URLError, OSError):
                if process.poll() is not None or time.monotonic() > deadline:
                    log_text = Path(root / "registry.log").read_text()
                    raise RuntimeError("docker-registry did not start:\n" + log_text) from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()


def test_round_trip_mount_and_referrers_fallback_against_docker_registry(distribution):
    client = RegistryClient(distribution, chunk_size=CHUNK, timeout=30, sleep=lambda _: None)
    client.ping()
    image = HandMadeImage("distribution")
    assert_round_trip(client, "team/app", image, "v1")
    layer = image.layer
    assert (
        client.upload_blob("team/copy", sha256(layer), len(layer), chunks_of(layer), mount_from=["team/app"])
        == "mounted"
    )

    # distribution 2.8 has no referrers API: without the tag schema's index there are none
    empty = b"{}"
    client.upload_blob("team/app", sha256(empty), 2, chunks_of(empty))
    signature = signature_for(image, empty)
    signature_digest = client.put_manifest("team/app", sha256(signature), signature, OCI_MANIFEST)
    assert client.referrers("team/app", image.digest) == []
    index = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            {
                "mediaType": OCI_MANIFEST,
                "digest": signature_digest,
                "size": len(signature),
                "artifactType": SIGNATURE_TYPE,
            }
        ],
    }
    fallback_tag = "sha256-" + image.digest.removeprefix("sha256:")
    client.put_manifest("team/app", fallback_tag, json.dumps(index).encode(), OCI_INDEX)
    [found] = client.referrers("team/app", image.digest)
    assert (found.digest, found.artifact_type) == (signature_digest, SIGNATURE_TYPE)

    assert client.delete_manifest("team/app", signature_digest) is True
    assert client.delete_manifest("team/app", signature_digest) is False


def test_docker_registry_lists_tags_and_refuses_unknown_repositories(distribution):
    client = RegistryClient(distribution, timeout=30, sleep=lambda _: None)
    image = HandMadeImage("tags")
    push(client, "team/tags", image, "t00")
    for number in range(1, 12):
        client.put_manifest("team/tags", f"t{number:02}", image.manifest, OCI_MANIFEST)
    assert sorted(client.list_tags("team/tags")) == [f"t{number:02}" for number in range(12)]
    with pytest.raises(NotFound) as caught:
        client.list_tags("team/never")
    assert caught.value.code == "NAME_UNKNOWN"


def test_upload_and_download_resume_after_breaks_against_docker_registry(distribution):
    # distribution keeps the part of the cut chunk it read, but its upload URL signs the
    # offset of the last whole answer and refuses every later request (404
    # BLOB_UPLOAD_INVALID): the session is lost and the upload starts over. When the
    # client's status request comes before distribution has written the cut chunk's
    # part, the status still says the first chunk, the client goes on from there, and
    # only its next PATCH is refused: then it starts over.
    assert_resumes_through_breaks(
        int(distribution.rsplit(":", 1)[1]), "team/resume", {}, resumed=([0, 0], [0, CHUNK, 0])
    )
