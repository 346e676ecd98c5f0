"""The batching recorder: submit returns at once, a flush writes the buffer in order
and tells the listeners; a failed write keeps the batch."""
from __future__ import annotations

import logging
import os

import pytest
from django.db import DatabaseError

from apps.audit import chain, services
from apps.audit.models import Event
from apps.audit.recorder import Recorder

from .conftest import make_draft

pytestmark = pytest.mark.django_db


@pytest.fixture
def buffered(settings) -> Recorder:
    """A recorder that buffers and whose flusher thread would not wake within a test."""
    settings.BERTH_AUDIT_SYNCHRONOUS = False
    settings.BERTH_AUDIT_FLUSH_SECONDS = 3600
    settings.BERTH_AUDIT_FLUSH_EVENTS = 10_000
    return Recorder()


def test_submit_buffers_and_flush_writes_every_event_in_order(buffered):
    drafts = [make_draft(request_parameters={"n": n}) for n in range(120)]
    batches = []
    buffered.add_listener(lambda batch: batches.append([draft.request_parameters["n"] for draft in batch]))

    for draft in drafts:
        buffered.submit(draft)

    assert not Event.objects.exists() and buffered.pending == 120
    assert buffered.flush() == 120
    assert buffered.pending == 0 and buffered.flush() == 0
    assert [event.request_parameters["n"] for event in Event.objects.order_by("sequence")] == list(range(120))
    assert batches == [list(range(120))]
    assert all(draft.recorded for draft in drafts)
    assert chain.verify().intact


def test_a_failed_write_keeps_the_batch_for_the_next_flush(buffered, monkeypatch):
    for n in range(3):
        buffered.submit(make_draft(request_parameters={"n": n}))
    real_append_batch = services.append_batch

    def database_down(drafts):
        raise DatabaseError("connection refused")

    monkeypatch.setattr(services, "append_batch", database_down)
    with pytest.raises(DatabaseError):
        buffered.flush()
    buffered.submit(make_draft(request_parameters={"n": 3}))
    assert buffered.pending == 4 and not Event.objects.exists()

    monkeypatch.setattr(services, "append_batch", real_append_batch)
    assert buffered.flush() == 4
    assert [event.request_parameters["n"] for event in Event.objects.order_by("sequence")] == [0, 1, 2, 3]


def test_beyond_the_buffer_limit_the_oldest_events_are_dropped_with_a_warning(buffered, settings, caplog):
    settings.BERTH_AUDIT_BUFFER_LIMIT = 5
    with caplog.at_level(logging.WARNING, logger="apps.audit.recorder"):
        for n in range(8):
            buffered.submit(make_draft(request_parameters={"n": n}))

    assert buffered.dropped == 3
    assert "dropped the 1 oldest unwritten events" in caplog.text
    buffered.flush()
    assert [event.request_parameters["n"] for event in Event.objects.order_by("sequence")] == [3, 4, 5, 6, 7]


def test_a_failing_listener_is_logged_and_the_events_are_written_anyway(buffered, caplog):
    seen = []

    def broken(batch):
        Event.objects.update(error_code="written by the broken listener")
        raise ValueError("listener bug")

    buffered.add_listener(broken)
    buffered.add_listener(lambda batch: seen.append(len(batch)))
    buffered.submit(make_draft())

    with caplog.at_level(logging.ERROR, logger="apps.audit.recorder"):
        assert buffered.flush() == 1
    assert "audit listener" in caplog.text
    assert seen == [1]
    # the broken listener's own writes were rolled back with its savepoint
    assert Event.objects.get().error_code == ""


def test_synchronous_mode_writes_at_once(settings):
    settings.BERTH_AUDIT_SYNCHRONOUS = True
    recorder = Recorder()
    counted = []
    recorder.add_listener(lambda batch: counted.append(len(batch)))

    recorder.submit(make_draft(event_name="GetDownloadUrlForLayer"))

    assert recorder.pending == 0
    assert Event.objects.get().event_name == "GetDownloadUrlForLayer"
    assert counted == [1]


def test_the_flusher_starts_once_and_is_woken_when_a_batch_is_full(buffered, settings, monkeypatch):
    started = []
    monkeypatch.setattr(buffered, "_start_flusher", lambda: started.append(True) or setattr(buffered, "_flusher", 1))
    settings.BERTH_AUDIT_FLUSH_EVENTS = 2

    buffered.submit(make_draft())
    assert not buffered._wake.is_set()
    buffered.submit(make_draft())

    assert buffered._wake.is_set()
    assert started == [True]


def test_a_forked_child_starts_with_an_empty_buffer_of_its_own(buffered):
    from apps.audit import recorder as module

    module.recorder._buffer.append(make_draft())
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child reports what it inherited, and leaves without running pytest's teardown
        os.write(write, f"{module.recorder.pending},{module.recorder._flusher is None}".encode())
        os._exit(0)
    os.close(write)
    reported = os.read(read, 100).decode()
    os.waitpid(pid, 0)
    module.recorder._buffer.clear()
    assert reported == "0,True"


def test_an_event_the_database_refuses_is_dropped_alone(buffered, caplog):
    stored = make_draft()
    services.record_many([stored])
    clash = make_draft(event_id=stored.event_id)  # an id already in the trail: refused every time
    for n in range(3):
        buffered.submit(make_draft(request_parameters={"n": n}))
    buffered.submit(clash)
    buffered.submit(make_draft(request_parameters={"n": 3}))

    with caplog.at_level(logging.ERROR, logger="apps.audit.recorder"):
        assert buffered.flush() == 4

    assert buffered.pending == 0 and buffered.dropped == 1
    assert f"audit event BatchGetImage {clash.event_id}" in caplog.text
    assert [e.request_parameters.get("n") for e in Event.objects.order_by("sequence")] == [None, 0, 1, 2, 3]
    assert chain.verify().intact


def test_a_draft_is_written_once(buffered):
    draft = make_draft()
    buffered.submit(draft)
    buffered.submit(draft)
    assert buffered.flush() == 1
    assert services.record_many([draft]) == []
    assert Event.objects.count() == 1
