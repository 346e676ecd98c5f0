"""Encryption at rest: the envelope format of the filesystem store, key rotation,
SSE on S3, and blobs shared only between repositories whose settings agree."""

from __future__ import annotations

import hashlib
import os
from datetime import timedelta
from pathlib import Path

import boto3
import pytest

from apps.audit.events import Actor
from apps.kernel.keyring import KeyRing, KeyRingError, KeyUnavailable, get_key_ring
from apps.registry import collector, services
from apps.registry.models import Blob
from apps.registry.storage import get_blob_store
from apps.registry.storage.encryption import AES256, KMS, PLAIN, Encryption
from apps.registry.storage.envelope import CHUNK_SIZE, TAG, BlobTampered, read_header
from apps.registry.storage.filesystem import FilesystemBlobStore
from apps.repositories import services as repository_services
from apps.repositories.models import Repository

from .conftest import REGION

TEST = Actor.system("test")


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture
def ring(tmp_path) -> KeyRing:
    ring = KeyRing(tmp_path / "key-ring.json", [os.urandom(32)])
    ring.create("team")
    return ring


@pytest.fixture
def fs(tmp_path, ring) -> FilesystemBlobStore:
    return FilesystemBlobStore(tmp_path / "blobs", key_ring=ring)


def put(store, tmp_path, data: bytes, encryption: Encryption) -> str:
    source = tmp_path / f"spool-{os.urandom(4).hex()}"
    source.write_bytes(data)
    digest = sha256(data)
    store.commit(digest, str(source), encryption)
    return digest


def read(store, digest, start=0, end=None, encryption=PLAIN) -> bytes:
    with store.open_range(digest, start, end, encryption) as stream:
        return b"".join(iter(lambda: stream.read(10_000), b""))


# -- the envelope format --------------------------------------------------------


@pytest.mark.parametrize("encryption", [Encryption(AES256), Encryption(KMS, "team")], ids=["aes256", "kms"])
def test_range_reads_decrypt_only_what_they_cover(fs, tmp_path, encryption):
    data = os.urandom(3 * CHUNK_SIZE + 100)
    digest = put(fs, tmp_path, data, encryption)
    stored = fs.path(digest, encryption).read_bytes()
    assert data[:64] not in stored and len(stored) > len(data)
    size = len(data)
    for start, end in [
        (0, 0),
        (0, 99),
        (size - 1, size - 1),
        (CHUNK_SIZE - 1, CHUNK_SIZE),  # crosses a chunk boundary
        (CHUNK_SIZE - 10, 2 * CHUNK_SIZE + 10),  # spans three chunks
        (2 * CHUNK_SIZE, 2 * CHUNK_SIZE),  # the first byte of a chunk
        (12345, None),  # to the end
        (3 * CHUNK_SIZE, None),  # the short last chunk alone
    ]:
        expected = data[start : (size if end is None else end + 1)]
        assert read(fs, digest, start, end, encryption) == expected, (start, end)
    assert read(fs, digest, encryption=encryption) == data


def test_a_tampered_chunk_is_refused_never_served(fs, tmp_path):
    encryption = Encryption(AES256)
    data = os.urandom(2 * CHUNK_SIZE + 7)
    digest = put(fs, tmp_path, data, encryption)
    path = fs.path(digest, encryption)
    with open(path, "rb") as raw:
        header = read_header(raw, digest)
    with open(path, "r+b") as raw:  # flip one bit of the second chunk
        raw.seek(header.chunk_offset(1) + 5)
        byte = raw.read(1)
        raw.seek(-1, os.SEEK_CUR)
        raw.write(bytes([byte[0] ^ 1]))
    with fs.open_range(digest, 0, None, encryption) as stream:
        assert stream.read(CHUNK_SIZE) == data[:CHUNK_SIZE]  # the first chunk is intact
        with pytest.raises(BlobTampered, match="chunk 1 of 3 fails authentication"):
            stream.read(10)
    with pytest.raises(BlobTampered):
        fs.open_range(digest, CHUNK_SIZE + 1, CHUNK_SIZE + 2, encryption)
    # Cut short: the last chunk is gone, and a file cannot pretend its previous chunk is the last.
    os.truncate(path, header.chunk_offset(2))
    with pytest.raises(BlobTampered):
        fs.open_range(digest, 2 * CHUNK_SIZE, None, encryption)


def test_a_blob_file_moved_to_another_digest_is_refused(fs, tmp_path):
    encryption = Encryption(AES256)
    first, second = put(fs, tmp_path, b"first blob", encryption), put(fs, tmp_path, b"second!!!!", encryption)
    fs.path(second, encryption).write_bytes(fs.path(first, encryption).read_bytes())
    with pytest.raises(BlobTampered):
        fs.open_range(second, 0, None, encryption)


# -- keys ------------------------------------------------------------------------


def test_key_rotation_rewrap_and_retirement(fs, tmp_path, ring):
    encryption = Encryption(KMS, "team")
    old = put(fs, tmp_path, b"written under version 1", encryption)
    assert ring.rotate("team").current == 2
    new = put(fs, tmp_path, b"written under version 2", encryption)

    def version(digest):
        with open(fs.path(digest, encryption), "rb") as raw:
            return read_header(raw, digest).key_version

    assert (version(old), version(new)) == (1, 2)
    assert read(fs, old, encryption=encryption) == b"written under version 1"
    assert read(fs, new, encryption=encryption) == b"written under version 2"
    # A blob left on version 1 is refused once version 1 is retired, naming the key.
    straggler = put(fs, tmp_path, b"straggler", encryption)
    with open(fs.path(straggler, encryption), "r+b") as raw:  # written before the rotation, as it were
        header = read_header(raw, straggler)
        data_key = fs.unwrap(header.key_name, header.key_version, header.wrapped_key)
    from cryptography.hazmat.primitives.keywrap import aes_key_wrap

    from apps.registry.storage.envelope import rewrap

    rewrap(fs.path(straggler, encryption), lambda h: (1, aes_key_wrap(ring.key("team", 1), data_key)))
    assert version(straggler) == 1
    assert fs.rewrap(encryption) == (2, 3)  # old and straggler moved; new already there
    assert {version(d) for d in (old, new, straggler)} == {2}
    ring.retire("team", 1)
    assert read(fs, old, encryption=encryption) == b"written under version 1"
    rewrap(fs.path(straggler, encryption), lambda h: (1, h.wrapped_key))  # back to the retired version
    with pytest.raises(KeyUnavailable, match="'team' has no version 1"):
        fs.open_range(straggler, 0, None, encryption)
    with pytest.raises(KeyRingError, match="current version"):
        ring.retire("team", 2)


def test_the_key_ring_file_holds_no_key_in_the_clear(ring, tmp_path):
    key = ring.key("team", 1)
    assert key not in (tmp_path / "key-ring.json").read_bytes()
    other = KeyRing(tmp_path / "key-ring.json", [os.urandom(32)])  # the wrong master key
    with pytest.raises(KeyUnavailable, match="cannot be unwrapped"):
        other.key("team", 1)


# -- through the registry --------------------------------------------------------


@pytest.fixture
def data_dir(settings, tmp_path):
    """The blob store, upload area and key ring in this test's own directory."""
    settings.BLOB_STORAGE = "filesystem"
    settings.BERTH_BLOB_DIR = tmp_path / "data" / "blobs"
    settings.BERTH_UPLOAD_DIR = tmp_path / "data" / "uploads"
    settings.BERTH_KEY_RING_FILE = tmp_path / "data" / "key-ring.json"
    get_blob_store.cache_clear()
    get_key_ring().create("team")
    yield tmp_path / "data"
    get_blob_store.cache_clear()


def make(tenant, name, encryption_type="", kms_key="") -> str:
    repository_services.create_repository(
        account=tenant.account, name=name, encryption_type=encryption_type, kms_key=kms_key, actor=TEST
    )
    return f"{tenant.id}/{name}"


@pytest.mark.django_db
def test_no_plaintext_of_an_encrypted_layer_anywhere_in_the_data_directory(data_dir, tenant, alice):
    marker = b"BERTH-PLAINTEXT-MARKER-" + os.urandom(8).hex().encode()
    layer = (marker + os.urandom(100)) * 1000  # three chunks, the marker in each
    aes = make(tenant, "aes", "AES256")
    kms = make(tenant, "kms", "KMS", "team")
    for name in (aes, kms):
        digest = alice.push_blob(name, layer)
        response = alice.request("GET", f"/v2/{name}/blobs/{digest}", scope=f"repository:{name}:pull")
        assert b"".join(response.streaming_content) == layer
        response = alice.request(
            "GET", f"/v2/{name}/blobs/{digest}", scope=f"repository:{name}:pull", headers={"Range": "bytes=100-70000"}
        )
        assert response.status_code == 206 and b"".join(response.streaming_content) == layer[100:70001]

    def files_with_marker():
        return sorted(
            str(path.relative_to(data_dir))
            for path in data_dir.rglob("*")
            if path.is_file() and marker in path.read_bytes()
        )

    assert files_with_marker() == []
    plain = make(tenant, "plain")
    alice.push_blob(plain, layer)  # proves the search can see it
    encoded = sha256(layer).split(":")[1]
    assert files_with_marker() == [f"blobs/sha256/{encoded[:2]}/{encoded}"]


@pytest.mark.django_db
def test_blobs_are_shared_only_within_a_scope_and_collected_in_every_scope(data_dir, tenant, alice):
    plain, aes, aes_too = make(tenant, "plain"), make(tenant, "aes", "AES256"), make(tenant, "aes-too", "AES256")
    layer = os.urandom(5000)
    digest = alice.push_blob(plain, layer)
    store = get_blob_store()
    assert store.exists(digest) and not store.exists(digest, Encryption(AES256))
    # A mount from a plain repository into an AES256 one finds no AES256 copy: an upload starts.
    response = alice.request(
        "POST",
        f"/v2/{aes}/blobs/uploads/?mount={digest}&from={plain}",
        scope=f"repository:{aes}:pull,push repository:{plain}:pull",
    )
    assert response.status_code == 202, response.content
    alice.push_blob(aes, layer)
    assert store.exists(digest, Encryption(AES256))
    assert Blob.objects.filter(digest=digest).count() == 1
    # Two AES256 repositories share the one AES256 copy: the mount links it.
    response = alice.request(
        "POST",
        f"/v2/{aes_too}/blobs/uploads/?mount={digest}&from={aes}",
        scope=f"repository:{aes_too}:pull,push repository:{aes}:pull",
    )
    assert response.status_code == 201, response.content
    assert [digest for digest, _, _ in store.stored()].count(digest) == 2  # plain and aes256
    # Gone from every repository: the collector deletes both copies.
    for name in (plain, aes, aes_too):
        response = alice.request("DELETE", f"/v2/{name}/blobs/{digest}", scope=f"repository:{name}:delete")
        assert response.status_code == 202, response.content
    collector.collect(grace=timedelta(0))
    collector.collect(grace=timedelta(0))
    assert not store.exists(digest) and not store.exists(digest, Encryption(AES256))
    assert not Blob.objects.filter(digest=digest).exists()


@pytest.mark.django_db
def test_replication_within_the_registry_re_encrypts_across_scopes(data_dir, tenant, alice):
    plain, kms = make(tenant, "plain"), make(tenant, "kms", "KMS", "team")
    layer = os.urandom(3000)
    digest = alice.push_blob(plain, layer)
    source = Repository.objects.get(account=tenant.account, name="plain")
    target = Repository.objects.get(account=tenant.account, name="kms")
    assert services.copy_blob(repository=target, source=source, digest=digest, actor=TEST) is not None
    assert read(get_blob_store(), digest, encryption=Encryption(KMS, "team")) == layer
    response = alice.request("GET", f"/v2/{kms}/blobs/{digest}", scope=f"repository:{kms}:pull")
    assert b"".join(response.streaming_content) == layer


@pytest.mark.django_db
def test_every_object_of_an_encrypted_repository_carries_its_sse_headers(s3_settings, moto_endpoint, tenant, alice):
    aes = make(tenant, "aes", "AES256")
    kms = make(tenant, "kms", "KMS", "alias/berth-test")
    alice.push_image(aes, "v1")
    alice.push_image(kms, "v1")
    client = boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    # An upload in progress: its objects in the bucket are encrypted as the repository's blobs.
    response = alice.request("POST", f"/v2/{kms}/blobs/uploads/", scope=f"repository:{kms}:pull,push")
    assert response.status_code == 202, response.content
    response = alice.request(
        "PATCH", response["Location"], scope=f"repository:{kms}:pull,push", data=b"pending bytes",
        headers={"Content-Range": "0-12"},
    )  # fmt: skip
    assert response.status_code == 202, response.content
    keys = [item["Key"] for item in client.list_objects_v2(Bucket=s3_settings)["Contents"]]
    assert len(keys) == 5  # a config and a layer in each repository, and the upload's tail
    for key in keys:
        head = client.head_object(Bucket=s3_settings, Key=key)
        if key.startswith("uploads/"):
            assert head["ServerSideEncryption"] == "aws:kms", key
        elif key.startswith("encrypted/aes256/"):
            assert head["ServerSideEncryption"] == "AES256", key
        else:
            assert key.startswith("encrypted/kms/alias%2Fberth-test/"), key
            assert head["ServerSideEncryption"] == "aws:kms", key
            assert head["SSEKMSKeyId"].endswith("alias/berth-test"), key
    # Reads (a presigned redirect) decrypt as plain GETs.
    digest = sha256(b"x" * 10)
    alice.push_blob(kms, b"x" * 10)
    response = alice.request("GET", f"/v2/{kms}/blobs/{digest}", scope=f"repository:{kms}:pull")
    assert response.status_code == 307
    import requests

    session = requests.Session()
    session.trust_env = False
    assert session.get(response["Location"], timeout=10).content == b"x" * 10


@pytest.mark.django_db
def test_settings_refused_with_a_clear_reason(data_dir, tenant):
    with pytest.raises(repository_services.EncryptionConfigurationInvalid, match="KMS_DSSE"):
        make(tenant, "dsse", "KMS_DSSE", "team")
    with pytest.raises(repository_services.EncryptionConfigurationInvalid, match="needs a KMS key"):
        make(tenant, "nokey", "KMS")
    with pytest.raises(repository_services.EncryptionConfigurationInvalid, match="berth keys create nope"):
        make(tenant, "unknown", "KMS", "nope")
    with pytest.raises(repository_services.EncryptionConfigurationInvalid, match="only given with"):
        make(tenant, "aeskey", "AES256", "team")
    assert not Repository.objects.filter(account=tenant.account).exists()


@pytest.mark.django_db
def test_the_default_applies_to_repositories_a_push_creates(data_dir, settings, tenant, alice):
    settings.BERTH_DEFAULT_ENCRYPTION = "AES256"
    name = f"{tenant.id}/created-by-push"
    digest = alice.push_blob(name, b"pushed")
    repository = Repository.objects.get(account=tenant.account, name="created-by-push")
    assert repository.encryption_type == "AES256"
    assert get_blob_store().exists(digest, Encryption(AES256)) and not get_blob_store().exists(digest)


def test_data_dir_paths_are_what_the_docs_say(fs):
    assert fs.path("sha256:" + "ab" * 32, Encryption(KMS, "team")) == Path(fs.root) / "encrypted/kms/team/sha256/ab" / (
        "ab" * 32
    )
    assert TAG == 16


@pytest.mark.django_db
def test_berth_keys_commands(data_dir, tenant, alice, capsys):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    kms = make(tenant, "kms", "KMS", "team")
    old = alice.push_blob(kms, b"before the rotation")
    call_command("keys", "rotate", "team")
    new = alice.push_blob(kms, b"after the rotation")
    call_command("keys", "rewrap", "team")
    assert "1 of 2 blobs moved to version 2" in capsys.readouterr().out
    call_command("keys", "retire", "team", "1")
    for digest, data in ((old, b"before the rotation"), (new, b"after the rotation")):
        response = alice.request("GET", f"/v2/{kms}/blobs/{digest}", scope=f"repository:{kms}:pull")
        assert b"".join(response.streaming_content) == data
    call_command("keys", "list")
    assert "team\tcurrent 2\tversions 2" in capsys.readouterr().out
    with pytest.raises(CommandError, match="already holds a key named 'team'"):
        call_command("keys", "create", "team")


@pytest.mark.django_db
def test_the_console_creates_and_shows_an_encrypted_repository(data_dir, settings, tenant, client):
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    client.login(username=tenant.username, password=tenant.password)
    response = client.post(
        "/console/new-repository",
        {
            "name": "secret",
            "visibility": "private",
            "image_tag_mutability": "MUTABLE",
            "encryption_type": "KMS",
            "kms_key": "nope",
        },
    )
    assert response.status_code == 400 and b"berth keys create nope" in response.content
    response = client.post(
        "/console/new-repository",
        {
            "name": "secret",
            "visibility": "private",
            "image_tag_mutability": "MUTABLE",
            "encryption_type": "KMS",
            "kms_key": "team",
        },
    )
    assert response.status_code == 302, response.content
    repository = Repository.objects.get(account=tenant.account, name="secret")
    assert (repository.encryption_type, repository.kms_key) == ("KMS", "team")
    page = client.get("/console/repositories/secret/-/settings")
    assert b"KMS, key <code>team</code>" in page.content


@pytest.mark.django_db
def test_the_aws_api_creates_and_describes_encryption_as_ecr_does(data_dir, tenant):
    from apps.audit.models import Event
    from apps.aws.tests.conftest import boto3_client, user_of

    ecr = boto3_client(user_of(tenant))
    created = ecr.create_repository(
        repositoryName="kms", encryptionConfiguration={"encryptionType": "KMS", "kmsKey": "team"}
    )["repository"]
    assert created["encryptionConfiguration"] == {"encryptionType": "KMS", "kmsKey": "team"}
    ecr.create_repository(repositoryName="aes", encryptionConfiguration={"encryptionType": "AES256"})
    ecr.create_repository(repositoryName="default")  # BERTH_DEFAULT_ENCRYPTION: none
    described = {
        r["repositoryName"]: r.get("encryptionConfiguration") for r in ecr.describe_repositories()["repositories"]
    }
    assert described == {
        "kms": {"encryptionType": "KMS", "kmsKey": "team"},
        "aes": {"encryptionType": "AES256"},
        "default": None,
    }
    with pytest.raises(ecr.exceptions.InvalidParameterException, match="KMS_DSSE"):
        ecr.create_repository(
            repositoryName="dsse", encryptionConfiguration={"encryptionType": "KMS_DSSE", "kmsKey": "team"}
        )
    event = Event.objects.filter(event_name="CreateRepository", repository="kms").get()
    assert event.request_parameters["encryptionConfiguration"] == {"encryptionType": "KMS", "kmsKey": "team"}


@pytest.mark.django_db
def test_a_creation_template_encrypts_the_repositories_it_creates(data_dir, tenant):
    from apps.replication import creation
    from apps.repositories.creation_templates import create_repository_creation_template

    create_repository_creation_template(
        account=tenant.account,
        prefix="cache",
        applied_for=["PULL_THROUGH_CACHE"],
        encryption_configuration={"encryptionType": "KMS", "kmsKey": "team"},
        actor=TEST,
    )
    made = creation.create_repository(
        account=tenant.account, name="cache/library/alpine", applied_for="PULL_THROUGH_CACHE", actor=TEST
    )
    assert (made.encryption_type, made.kms_key) == ("KMS", "team")
    # Replicas made without a template take their source's setting.
    source = Repository.objects.get(pk=made.pk)
    replica = creation.create_repository(
        account=tenant.account, name="elsewhere/alpine", applied_for="REPLICATION", source=source, actor=TEST
    )
    assert (replica.encryption_type, replica.kms_key) == ("KMS", "team")


@pytest.mark.django_db
def test_reconciliation_finds_orphans_in_every_scope(data_dir, tmp_path):
    store = get_blob_store()
    data = os.urandom(2000)
    digest = put(store, tmp_path, data, Encryption(KMS, "team"))  # bytes with no row: a crash before the commit
    report = collector.reconcile(grace=timedelta(0))
    assert (report.orphans, report.orphan_bytes) == (1, 2000)  # the blob's size, not the file's
    collector.collect(grace=timedelta(0))
    assert not store.exists(digest, Encryption(KMS, "team"))
