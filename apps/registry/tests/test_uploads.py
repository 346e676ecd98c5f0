"""The upload area: chunks landing on different processes, failures that must
leave an upload as it was, and the sweep of abandoned uploads."""

from __future__ import annotations

import hashlib
import io
import os
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.audit.events import Actor
from apps.registry import services
from apps.registry.models import Upload
from apps.registry.storage.uploads import OffsetMismatch, ShortBody, UploadArea, UploadBusy

PUSHER = Actor.system("replication")


class FailingStream:
    def __init__(self, data: bytes) -> None:
        self.data = io.BytesIO(data)

    def read(self, size: int) -> bytes:
        chunk = self.data.read(min(size, 10))
        if not chunk:
            raise ConnectionResetError("client went away")
        return chunk


def test_chunks_from_different_processes_hash_correctly(tmp_path):
    # Two UploadArea objects over one directory are two web processes.
    first, second = UploadArea(tmp_path), UploadArea(tmp_path)
    data = os.urandom(3 * 1024 * 1024 + 17)
    first.create("u1")
    first.append("u1", io.BytesIO(data[:1000]), offset=0, length=1000)
    second.append("u1", io.BytesIO(data[1000:2_000_000]), offset=1000, length=2_000_000 - 1000)
    first.append("u1", io.BytesIO(data[2_000_000:]), offset=2_000_000, length=len(data) - 2_000_000)
    expected = hashlib.sha256(data).hexdigest()
    assert first.hexdigest("u1", "sha256") == expected
    assert second.hexdigest("u1", "sha256") == expected
    assert first.hexdigest("u1", "sha512") == hashlib.sha512(data).hexdigest()


def test_running_hash_is_used_when_this_process_saw_everything(tmp_path, monkeypatch):
    area = UploadArea(tmp_path)
    area.create("u2")
    area.append("u2", io.BytesIO(b"hello "), offset=None, length=None)
    area.append("u2", io.BytesIO(b"world"), offset=None, length=None)
    monkeypatch.setattr("builtins.open", lambda *a, **k: pytest.fail("rehashed from disk"))
    assert area.hexdigest("u2", "sha256") == hashlib.sha256(b"hello world").hexdigest()


def test_offset_mismatch_and_short_body_leave_the_upload_unchanged(tmp_path):
    area = UploadArea(tmp_path)
    area.create("u3")
    area.append("u3", io.BytesIO(b"abc"), offset=0, length=3)
    with pytest.raises(OffsetMismatch) as mismatch:
        area.append("u3", io.BytesIO(b"zzz"), offset=10, length=3)
    assert mismatch.value.current_size == 3
    with pytest.raises(ShortBody):
        area.append("u3", io.BytesIO(b"de"), offset=3, length=5)
    with pytest.raises(ConnectionResetError):
        area.append("u3", FailingStream(b"0123456789" * 5), offset=3, length=100)
    assert area.size("u3") == 3
    area.append("u3", io.BytesIO(b"def"), offset=3, length=3)
    assert area.hexdigest("u3", "sha256") == hashlib.sha256(b"abcdef").hexdigest()


def test_concurrent_writers_are_refused(tmp_path):
    import fcntl

    area = UploadArea(tmp_path)
    area.create("u4")
    fd = os.open(area.path("u4"), os.O_WRONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with pytest.raises(UploadBusy):
            area.append("u4", io.BytesIO(b"x"), offset=0, length=1)
    finally:
        os.close(fd)


@pytest.mark.django_db
def test_abandoned_uploads_expire(tenant, settings):
    from apps.repositories.services import create_repository

    repository = create_repository(actor=Actor.system("test"), account=tenant.account, name="sweep")
    stale = services.start_upload(repository=repository, actor=PUSHER)
    fresh = services.start_upload(repository=repository, actor=PUSHER)
    Upload.objects.filter(pk=stale.pk).update(updated_at=timezone.now() - timedelta(days=2))
    area = services.upload_area()
    orphan = area.root / "orphan-without-session"
    orphan.write_bytes(b"left by a crash")
    old = (timezone.now() - timedelta(days=2)).timestamp()
    os.utime(orphan, (old, old))

    from apps.registry.tasks import expire_abandoned_uploads

    assert expire_abandoned_uploads.delay().get() == 2
    assert list(Upload.objects.values_list("pk", flat=True)) == [fresh.pk]
    assert not area.path(str(stale.pk)).exists()
    assert area.path(str(fresh.pk)).exists()
    assert not orphan.exists()


@pytest.mark.django_db
def test_a_completion_racing_another_is_refused_cleanly(tenant):
    import fcntl

    from apps.registry.exceptions import BlobUploadBusy, BlobUploadUnknown
    from apps.repositories.services import create_repository

    repository = create_repository(actor=Actor.system("test"), account=tenant.account, name="race")
    upload = services.start_upload(repository=repository, actor=PUSHER)
    services.append_to_upload(upload=upload, stream=io.BytesIO(b"payload"), offset=0, length=7, actor=PUSHER)
    digest = "sha256:" + hashlib.sha256(b"payload").hexdigest()
    area = services.upload_area()
    fd = os.open(area.path(str(upload.id)), os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # another process is completing it
        with pytest.raises(BlobUploadBusy):
            services.complete_upload(upload=upload, digest=digest, actor=PUSHER)
    finally:
        os.close(fd)
    services.complete_upload(upload=upload, digest=digest, actor=PUSHER)
    with pytest.raises(BlobUploadUnknown):
        services.complete_upload(upload=upload, digest=digest, actor=PUSHER)


@pytest.mark.django_db
def test_status_reports_what_a_killed_writer_left_and_a_resume_from_it_completes(tenant, registry_client):
    """A worker killed mid-chunk leaves the bytes it wrote in the spool file, and
    never gets to record the chunk: the status, and the resume, go by the file."""
    import fcntl

    client = registry_client(tenant)
    repo = f"{tenant.id}/app"
    token = client.token(f"repository:{repo}:pull,push")
    data = os.urandom(3 * 1024 * 1024 + 5)
    location = client.request("POST", f"/v2/{repo}/blobs/uploads/", token=token)["Location"]
    first = 1024 * 1024
    response = client.request(
        "PATCH", location, token=token, data=data[:first], headers={"Content-Range": f"0-{first - 1}"}
    )
    assert response["Range"] == f"0-{first - 1}"
    upload = Upload.objects.get()
    spool = services.upload_area().path(str(upload.id))
    held = first + 700 * 1024
    with open(spool, "ab") as killed_writer:  # wrote 700 KiB of the next chunk, then died
        killed_writer.write(data[first:held])
    assert Upload.objects.get().size == first

    response = client.request("GET", location, token=token)
    assert response.status_code == 204
    assert response["Range"] == f"0-{held - 1}"
    response = client.request("PATCH", location, token=token, data=b"x", headers={"Content-Range": "bad"})
    assert response.status_code == 416
    assert response["Range"] == f"0-{held - 1}"

    # while a request writes, the status is what the last completed chunk left
    fd = os.open(spool, os.O_WRONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        assert client.request("GET", location, token=token)["Range"] == f"0-{first - 1}"
    finally:
        os.close(fd)

    response = client.request(
        "PATCH", location, token=token, data=data[held:], headers={"Content-Range": f"{held}-{len(data) - 1}"}
    )
    assert response.status_code == 202
    assert response["Range"] == f"0-{len(data) - 1}"
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    assert client.request("PUT", f"{location}?digest={digest}", token=token).status_code == 201
    response = client.request("GET", f"/v2/{repo}/blobs/{digest}", token=token)
    assert b"".join(response.streaming_content) == data
