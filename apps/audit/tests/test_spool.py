"""The audit spool: lines that read back as the events written, and an ingester that
writes each spooled event to the trail exactly once, in order, whatever stops it."""

from __future__ import annotations

import fcntl
import json
import logging
import math
import os
import signal
import subprocess
import sys
import textwrap
import uuid
from datetime import UTC, datetime

import pytest
from django.db import DatabaseError

from apps.audit import chain, services, spool
from apps.audit.models import Event, SpoolCursor
from apps.audit.recorder import Recorder
from apps.audit.rows import EventRow

from .conftest import make_draft, user_actor

pytestmark = pytest.mark.django_db


@pytest.fixture
def spool_dir(settings, tmp_path):
    settings.BERTH_AUDIT_SYNCHRONOUS = False
    settings.BERTH_AUDIT_WRITER = "process"
    settings.BERTH_AUDIT_SPOOL_DIR = tmp_path / "spool"
    settings.BERTH_AUDIT_SPOOL_WRITE_SECONDS = 3600
    return tmp_path / "spool"


@pytest.fixture
def recorder(spool_dir) -> Recorder:
    return Recorder()


def spool_files(directory) -> list[str]:
    return sorted(path.name for path in directory.iterdir() if path.name.endswith(spool.SUFFIX))


def stored_numbers() -> list:
    return [event.request_parameters.get("n") for event in Event.objects.order_by("sequence")]


# -- lines -----------------------------------------------------------------------------


def test_a_line_reads_back_as_the_row_of_the_event_that_was_written():
    draft = make_draft(
        actor=user_actor("111122223333", "ci-bot", access_key_id="BKIAEXAMPLE"),
        request_parameters={"imageTag": "v1.0", "nested": {"list": [1, 2.5, None, True]}, "ü": "ñ\u2603"},
        response_elements={"imageDigest": "sha256:" + "a" * 64},
        error_code="AccessDenied",
        error_message="no\nway",
        user_agent="skopeo/1.13 \x00 odd",
        read_only=False,
    )
    line = spool.encode(draft)
    assert line.endswith(b"\n") and line.count(b"\n") == 1

    back = spool.decode(line)

    row = EventRow.from_draft(draft)
    assert back.fields == row.fields and back.form == row.form
    # the form is what the chain hashes for the stored event
    services.append_rows([back])
    stored = Event.objects.get()
    assert chain.canonical(chain.fields_of(stored)) == back.form
    assert stored.event_id == draft.event_id and stored.event_time == draft.event_time
    assert stored.user_agent == "skopeo/1.13 \ufffd odd" and stored.error_message == "no\nway"
    assert (stored.image_digest, stored.image_tag) == ("sha256:" + "a" * 64, "v1.0")
    # listeners read it as they read a draft
    assert (back.event_name, back.read_only, back.error_code) == ("BatchGetImage", False, "AccessDenied")
    assert back.event_time == draft.event_time
    assert back.request_parameters == draft.request_parameters
    assert back.recipient_account_id == "111122223333" and back.repository == "team/app"


def test_values_json_cannot_carry_are_spooled_as_text():
    moment = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)
    ident = uuid.uuid4()
    draft = make_draft(request_parameters={"when": moment, "id": ident, "ratio": math.nan})
    back = spool.decode(spool.encode(draft))
    assert back.request_parameters == {"when": str(moment), "id": str(ident), "ratio": "nan"}


def test_a_line_of_the_form_alone_reads_as_the_same_event(monkeypatch):
    draft = make_draft(request_parameters={"imageTag": "v1"})
    row = EventRow.from_draft(draft)
    assert spool.encode(draft).startswith(b"[3,")
    # what version 2 wrote, and what this one writes for a form its parts would not make
    monkeypatch.setattr(spool, "spool_form", lambda draft: (EventRow.from_draft(draft).form, 0, 0))
    line = spool.encode(draft)
    assert line == b"[2," + row.form.encode() + b"]\n"
    assert spool.decode(line).fields == row.fields


def test_a_line_of_the_unreleased_format_1_is_refused():
    # Format 1 (a JSON array of a draft's fields) never left a development branch:
    # no spool file holds it, and it reads as any other line that is not an event.
    line = json.dumps([1, "0" * 32, "2026-01-01T00:00:00+00:00"] + [""] * 19).encode() + b"\n"
    with pytest.raises(spool.BadLine):
        spool.decode(line)


def _line(fields) -> bytes:
    return b"[2," + json.dumps(fields, separators=(",", ":")).encode() + b"]\n"


_GOOD = EventRow.from_draft(make_draft()).fields


@pytest.mark.parametrize(
    "line",
    [
        b"not json\n",
        b"[]\n",
        b"[2]\n",
        b'{"a": 1}\n',
        b'[1, "zz", "2026-01-01"]\n',
        json.dumps([1, "x" * 32, "not a time"] + [""] * 19).encode() + b"\n",
        b"[2,not json]\n",
        b'[2,["a"]]\n',
        b"[3," + _line(_GOOD)[3:],
        _line(_GOOD[:-1]),  # a field short
        _line([*_GOOD[:4], "true", *_GOOD[5:]]),  # read_only as text
        _line(["not-an-id", *_GOOD[1:]]),
        _line([_GOOD[0], "2026-11-28 03:00:00", *_GOOD[2:]]),  # not the canonical time
        _line([*_GOOD[:19], "[1]", *_GOOD[20:]]),  # request parameters that are not an object
        b"[2," + json.dumps(_GOOD).encode()[:-1] + b"\n",
    ],  # cut short
)
def test_a_line_that_is_not_an_event_is_refused(line):
    with pytest.raises(spool.BadLine):
        spool.decode(line)


# -- ingesting ---------------------------------------------------------------------------


def test_the_cursor_moves_with_each_batch(recorder, spool_dir, settings):
    settings.BERTH_AUDIT_FLUSH_EVENTS = 4
    for n in range(10):
        recorder.submit(make_draft(request_parameters={"n": n}))
    recorder.spool.write()
    [name] = spool_files(spool_dir)

    assert recorder.ingester.run_once() == 10

    assert stored_numbers() == list(range(10))
    assert SpoolCursor.objects.get(name=name).offset == (spool_dir / name).stat().st_size
    for n in range(10, 13):
        recorder.submit(make_draft(request_parameters={"n": n}))
    assert recorder.flush() == 3
    assert stored_numbers() == list(range(13))
    assert chain.verify().intact


def test_a_database_error_leaves_the_events_spooled_for_the_next_run(recorder, monkeypatch):
    for n in range(3):
        recorder.submit(make_draft(request_parameters={"n": n}))
    real_append_rows = services.append_rows

    def database_down(rows):
        raise DatabaseError("connection refused")

    monkeypatch.setattr(services, "append_rows", database_down)
    with pytest.raises(DatabaseError):
        recorder.flush()
    recorder.submit(make_draft(request_parameters={"n": 3}))
    assert not Event.objects.exists()

    monkeypatch.setattr(services, "append_rows", real_append_rows)
    assert recorder.flush() == 4
    assert stored_numbers() == [0, 1, 2, 3]


def test_events_and_cursor_commit_together(recorder, monkeypatch, settings):
    """A run stopped between writing a batch and moving the cursor wrote nothing:
    the next run writes the batch once."""
    settings.BERTH_AUDIT_FLUSH_EVENTS = 2
    for n in range(4):
        recorder.submit(make_draft(request_parameters={"n": n}))
    real_move = spool.Ingester._move
    moves = []

    def move_then_fail(owner, name, position):
        moves.append(position)
        if len(moves) == 2:
            raise DatabaseError("the connection dropped before COMMIT")
        real_move(owner, name, position)

    monkeypatch.setattr(spool.Ingester, "_move", staticmethod(move_then_fail))
    with pytest.raises(DatabaseError):
        recorder.flush()
    assert stored_numbers() == [0, 1]  # the first batch and its cursor committed; the second neither

    monkeypatch.setattr(spool.Ingester, "_move", staticmethod(real_move))
    assert recorder.flush() == 2
    assert stored_numbers() == [0, 1, 2, 3]
    assert chain.verify().intact


def test_a_line_that_does_not_read_is_dropped_alone(recorder, spool_dir, caplog):
    recorder.submit(make_draft(request_parameters={"n": 0}))
    recorder.spool.write()
    [name] = spool_files(spool_dir)
    with open(spool_dir / name, "ab") as file:
        file.write(b"{garbage}\n")
    recorder.submit(make_draft(request_parameters={"n": 1}))

    with caplog.at_level(logging.ERROR, logger="apps.audit.spool"):
        assert recorder.flush() == 2

    assert stored_numbers() == [0, 1]
    assert recorder.dropped == 1
    assert "does not read" in caplog.text


def test_an_event_the_database_refuses_is_dropped_alone(recorder, caplog):
    stored = make_draft()
    services.record_many([stored])
    clash = make_draft(event_id=stored.event_id)  # an id already in the trail: refused every time
    for n in range(3):
        recorder.submit(make_draft(request_parameters={"n": n}))
    recorder.submit(clash)
    recorder.submit(make_draft(request_parameters={"n": 3}))

    with caplog.at_level(logging.ERROR, logger="apps.audit.spool"):
        assert recorder.flush() == 4

    assert recorder.dropped == 1
    assert f"audit event BatchGetImage {clash.event_id}" in caplog.text
    assert stored_numbers() == [None, 0, 1, 2, 3]
    assert chain.verify().intact


def test_a_line_is_read_only_once_it_is_whole(recorder, spool_dir):
    recorder.submit(make_draft(request_parameters={"n": 0}))
    recorder.spool.write()
    [name] = spool_files(spool_dir)
    half = spool.encode(make_draft(request_parameters={"n": 1}))
    with open(spool_dir / name, "ab") as file:
        file.write(half[:40])

    assert recorder.flush() == 1
    with open(spool_dir / name, "ab") as file:
        file.write(half[40:])
    assert recorder.flush() == 1
    assert stored_numbers() == [0, 1]


def test_a_file_is_removed_once_read_and_its_writer_gone(recorder, spool_dir):
    recorder.submit(make_draft())
    recorder.spool.write()
    [name] = spool_files(spool_dir)

    assert recorder.flush() == 1
    assert spool_files(spool_dir) == [name]  # its writer may still add to it

    recorder.spool.close()
    assert recorder.flush() == 0
    assert spool_files(spool_dir) == []
    assert not SpoolCursor.objects.exists()


def test_a_writer_moves_to_a_new_file_past_the_size_limit(recorder, spool_dir, settings):
    settings.BERTH_AUDIT_SPOOL_FILE_BYTES = 1000
    for n in range(12):
        recorder.submit(make_draft(request_parameters={"n": n}))
        recorder.spool.write()
    assert len(spool_files(spool_dir)) >= 3

    assert recorder.flush() == 12

    assert stored_numbers() == list(range(12))
    assert len(spool_files(spool_dir)) == 1  # the one still open


def test_the_ingester_leaves_the_spool_to_another_at_work(recorder, spool_dir):
    recorder.submit(make_draft())
    recorder.spool.write()
    fd = os.open(spool_dir / spool.LOCK_NAME, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        assert recorder.flush() == 0
    finally:
        os.close(fd)
    assert recorder.flush() == 1


def test_cursors_of_files_that_are_gone_are_forgotten(recorder, spool_dir):
    """Only this directory's own: another directory's cursors (on this host or
    another) are that directory's ingester's to keep."""
    import socket

    recorder.submit(make_draft())
    recorder.spool.write()
    mine = spool.spool_id(spool_dir)
    gone = f"{socket.gethostname()}-1-deadbeef.jsonl"
    SpoolCursor.objects.create(owner=mine, name=gone, offset=10)
    SpoolCursor.objects.create(owner="another-directory", name=gone, offset=10)
    SpoolCursor.objects.create(owner="", name=gone, offset=10)  # a cursor from before owners: whose, nobody knows

    assert recorder.flush() == 1

    assert set(SpoolCursor.objects.filter(name=gone).values_list("owner", flat=True)) == {"another-directory", ""}


def test_a_process_killed_after_spooling_loses_no_event(spool_dir):
    """A web worker that is killed: what it spooled is on disk (its spool thread
    writes every BERTH_AUDIT_SPOOL_WRITE_SECONDS), and is ingested once its lock is gone."""
    script = textwrap.dedent(
        """
        import os, signal, sys, time
        import django
        django.setup()
        from apps.audit.recorder import recorder
        from apps.audit.tests.conftest import make_draft
        for n in range(25):
            recorder.submit(make_draft(request_parameters={"n": n}))
        def lines_on_disk():
            spool_dir = os.environ["BERTH_AUDIT_SPOOL_DIR"]
            return sum(open(os.path.join(spool_dir, name), "rb").read().count(b"\\n")
                       for name in (os.listdir(spool_dir) if os.path.isdir(spool_dir) else [])
                       if name.endswith(".jsonl"))
        deadline = time.monotonic() + 30
        while lines_on_disk() < 25 and time.monotonic() < deadline:
            time.sleep(0.05)
        print("spooled", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "registry_project.settings",
        "BERTH_AUDIT_SYNCHRONOUS": "false",
        "BERTH_AUDIT_WRITER": "process",
        "BERTH_AUDIT_SPOOL_DIR": str(spool_dir),
        "BERTH_AUDIT_SPOOL_WRITE_SECONDS": "0.05",
    }
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == -signal.SIGKILL, result.stderr
    assert "spooled" in result.stdout

    assert Recorder().flush() == 25
    assert stored_numbers() == list(range(25))
    assert spool_files(spool_dir) == []  # read, and its writer is gone
