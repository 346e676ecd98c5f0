"""The recorder: submit spools the event and returns; a flush writes this process's
spool buffer, ingests every spool file in order and publishes the pulls of each
batch written."""

from __future__ import annotations

import io
import logging
import os
from datetime import UTC, datetime, timedelta

import pytest

from apps.audit import chain
from apps.audit.models import Event
from apps.audit.recorder import Recorder
from apps.events.models import DomainEvent

from .conftest import make_draft

pytestmark = pytest.mark.django_db


@pytest.fixture
def spooling(settings, tmp_path) -> Recorder:
    """A recorder that spools (to a directory of this test's own) and leaves the
    ingesting to the test: no ingest thread, and a spool thread that would not
    wake within a test."""
    settings.BERTH_AUDIT_SYNCHRONOUS = False
    settings.BERTH_AUDIT_WRITER = "process"
    settings.BERTH_AUDIT_SPOOL_DIR = tmp_path / "spool"
    settings.BERTH_AUDIT_SPOOL_WRITE_SECONDS = 3600
    return Recorder()


def test_submit_spools_and_flush_writes_every_event_in_order(spooling, settings):
    settings.BERTH_AUDIT_FLUSH_EVENTS = 50
    drafts = [make_draft(request_parameters={"n": n}) for n in range(120)]

    for draft in drafts:
        spooling.submit(draft)

    assert not Event.objects.exists() and spooling.spool.buffered == 120
    assert all(draft.recorded for draft in drafts)  # on their way: not spooled again
    assert spooling.flush() == 120
    assert spooling.spool.buffered == 0 and spooling.flush() == 0
    assert [event.request_parameters["n"] for event in Event.objects.order_by("sequence")] == list(range(120))
    assert [event.event_id for event in Event.objects.order_by("sequence")] == [d.event_id for d in drafts]
    # Each batch published its pulls (every draft here is one) with it.
    published = [event.payload["pulls"] for event in DomainEvent.objects.order_by("pk")]
    assert [sum(pull["count"] for pull in pulls) for pulls in published] == [50, 50, 20]
    assert chain.verify().intact


def test_a_draft_is_spooled_once(spooling):
    draft = make_draft()
    spooling.submit(draft)
    spooling.submit(draft)
    assert spooling.flush() == 1
    assert Event.objects.count() == 1


def test_a_batch_publishes_its_pulls_counted_per_image_reference_and_day(spooling):
    noon = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    digest = "sha256:" + "a" * 64
    manifest = "application/vnd.oci.image.manifest.v1+json"

    def pull(when=noon, method="GET", **fields):
        return make_draft(
            event_time=when, request_parameters={"imageTag": "v1", "httpMethod": method},
            response_elements={"imageDigest": digest, "imageManifestMediaType": manifest}, **fields,
        )  # fmt: skip

    for draft in [
        pull(), pull(when=noon + timedelta(minutes=5)), pull(when=noon + timedelta(days=1)),
        pull(method="HEAD"), pull(error_code="ImageNotFoundException"), pull(event_name="PutImage", read_only=False),
        make_draft(request_parameters={"imageDigest": digest, "httpMethod": "GET"},
                   response_elements={"imageDigest": digest, "imageManifestMediaType": manifest}, event_time=noon),
    ]:  # fmt: skip
        spooling.submit(draft)
    assert spooling.flush() == 7
    [event] = DomainEvent.objects.all()
    assert event.name == "images.pulled"
    by_tag = {"accountId": "111122223333", "repository": "team/app", "tag": "v1", "digest": digest,
              "mediaType": manifest}  # fmt: skip
    assert event.payload["pulls"] == [
        {**by_tag, "day": "2026-03-01", "count": 2, "lastPulledAt": "2026-03-01T12:05:00+00:00"},
        {**by_tag, "day": "2026-03-02", "count": 1, "lastPulledAt": "2026-03-02T12:00:00+00:00"},
        {**by_tag, "tag": "", "day": "2026-03-01", "count": 1, "lastPulledAt": "2026-03-01T12:00:00+00:00"},
    ]

    spooling.submit(make_draft(event_name="PutImage", read_only=False))
    assert spooling.flush() == 1
    assert DomainEvent.objects.count() == 1  # a batch without pulls publishes nothing


def test_synchronous_mode_writes_at_once(settings, tmp_path):
    settings.BERTH_AUDIT_SYNCHRONOUS = True
    settings.BERTH_AUDIT_SPOOL_DIR = tmp_path / "spool"
    recorder = Recorder()

    recorder.submit(make_draft(event_name="GetDownloadUrlForLayer"))

    assert recorder.spool.buffered == 0 and not (tmp_path / "spool").exists()
    assert Event.objects.get().event_name == "GetDownloadUrlForLayer"


def test_thread_mode_starts_one_ingest_thread(spooling, settings, monkeypatch):
    settings.BERTH_AUDIT_WRITER = "thread"
    started = []
    monkeypatch.setattr(spooling, "_start_thread", lambda: started.append(True) or setattr(spooling, "_thread", 1))
    spooling.submit(make_draft())
    spooling.submit(make_draft())
    assert started == [True]


def test_process_mode_starts_no_ingest_thread(spooling):
    spooling.submit(make_draft())
    assert spooling._thread is None


def test_at_exit_a_process_in_thread_mode_writes_its_spool(spooling, settings):
    settings.BERTH_AUDIT_WRITER = "thread"
    spooling._thread = 1  # as if started: the exit hook does the work here
    for n in range(3):
        spooling.submit(make_draft(request_parameters={"n": n}))
    spooling.flush_quietly()
    assert Event.objects.count() == 3


def test_at_exit_a_process_in_process_mode_writes_out_its_buffer_only(spooling, tmp_path):
    spooling.submit(make_draft())
    spooling.flush_quietly()
    assert not Event.objects.exists()
    # on disk, its file closed, for the audit writer to ingest and remove
    assert Recorder().flush() == 1
    assert sorted(path.name for path in (tmp_path / "spool").iterdir()) == [".ingest.lock", ".spool-id"]


def test_a_forked_child_starts_with_an_empty_buffer_and_a_file_of_its_own(spooling):
    from apps.audit import recorder as module

    module.recorder.spool._drafts.append(make_draft())
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child reports what it inherited, and leaves without running pytest's teardown
        spool = module.recorder.spool
        os.write(write, f"{spool.buffered},{spool._fd is None},{spool._thread is None}".encode())
        os._exit(0)
    os.close(write)
    reported = os.read(read, 100).decode()
    os.waitpid(pid, 0)
    module.recorder.spool._drafts.clear()
    assert reported == "0,True,True"


def test_an_event_no_line_can_carry_is_dropped_alone(spooling, caplog):
    class Unprintable:
        def __str__(self):
            raise RuntimeError("no text for this")

    spooling.submit(make_draft(request_parameters={"n": 0}))
    spooling.submit(make_draft(request_parameters={"n": Unprintable()}))
    spooling.submit(make_draft(request_parameters={"n": 2}))

    with caplog.at_level(logging.ERROR, logger="apps.audit.spool"):
        assert spooling.flush() == 2

    assert [event.request_parameters["n"] for event in Event.objects.order_by("sequence")] == [0, 2]
    assert spooling.spool.dropped == 1 and "cannot spool audit event BatchGetImage" in caplog.text


def test_a_trail_of_writes_only_leaves_read_events_out(spooling, settings):
    settings.BERTH_AUDIT_READ_EVENTS = False
    spooling.submit(make_draft(event_name="BatchGetImage", read_only=True))
    spooling.submit(make_draft(event_name="PutImage", read_only=False, error_code="ImageAlreadyExistsException"))
    assert spooling.flush() == 1
    assert Event.objects.get().event_name == "PutImage"


def test_the_audit_writer_gives_sqlite_a_larger_page_cache(spooling):
    from django.core.management import call_command
    from django.db import connection
    from django.db.backends.signals import connection_created

    from apps.audit.management.commands import audit_writer

    spooling.submit(make_draft())
    spooling.spool.write()
    try:
        call_command("audit_writer", "--once", stdout=io.StringIO())
    finally:
        connection_created.disconnect(audit_writer._sqlite_cache)
    assert Event.objects.count() == 1
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's page cache")
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        assert cursor.fetchone()[0] == -audit_writer.SQLITE_CACHE_KIB
