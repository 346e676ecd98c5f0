"""The recorder: where events that change nothing (pulls, refusals, failed writes)
go, so that a pull never waits on the database or on the chain head's lock.

``submit`` appends the event to this process's spool file (``apps.audit.spool``)
and returns. The spool's ingester writes the trail: under `berth serve` in a
process of its own (`berth audit_writer`, BERTH_AUDIT_WRITER=process), otherwise in
a daemon thread that each spooling process starts on its first submit (thread);
either way every BERTH_AUDIT_FLUSH_SECONDS. In thread mode the spool is also
ingested at interpreter exit and from gunicorn's worker_exit hook; in either mode
a process writes out its spool buffer then.

Each batch passes ``services.tally_failures`` first, which counts instead of
writing the failed requests from outside an account past the first few of their
window; every flush then writes the aggregate events of the windows that are over
(``report_failures``).

The pulls among a batch's events are published as one images.pulled domain event
(``apps.audit.pulls``) in the batch's transaction: they reach their subscribers
(the gallery's counters) once the batch is written, or never twice."""

from __future__ import annotations

import atexit
import logging
import os
import threading
from collections.abc import Sequence

from django import db
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.events import outbox
from apps.events.names import IMAGES_PULLED

from . import services
from .events import EventDraft
from .pulls import images_pulled
from .rows import EventRow
from .spool import Ingester, SpoolWriter

logger = logging.getLogger(__name__)


class Recorder:
    def __init__(self) -> None:
        self.spool = SpoolWriter()
        self.ingester = Ingester(self._write)
        self._reset()

    def _reset(self) -> None:
        """Fresh state, also in a forked child: its thread did not come along."""
        self._thread_lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def _after_fork(self) -> None:
        self.spool.after_fork()
        self._reset()

    @property
    def dropped(self) -> int:
        """Events lost: ones no spool line could carry, lines that did not read,
        events the database refused."""
        return self.spool.dropped + self.ingester.dropped

    def submit(self, draft: EventDraft) -> None:
        if draft.recorded:
            return
        if draft.read_only and not settings.BERTH_AUDIT_READ_EVENTS:
            return  # a trail of writes only (CloudTrail's ReadWriteType WriteOnly)
        if settings.BERTH_AUDIT_SYNCHRONOUS:
            self._write([EventRow.from_draft(draft)])
            draft.recorded = True
            return
        self.spool.append(draft)
        draft.recorded = True  # on its way: not to be spooled again
        if self._thread is None and settings.BERTH_AUDIT_WRITER == "thread":
            self._start_thread()

    def flush(self) -> int:
        """Ingest the spool now (none of it when another ingester is at work on
        it), then report the failure windows that are over; returns how many
        events were written. A database error is raised; the events it kept out
        stay spooled, the windows unreported."""
        self.spool.write()
        written = self.ingester.run_once()
        return written + self.report_failures()

    def report_failures(self) -> int:
        """Write the aggregate events of the failure windows that are over; returns how many."""
        now = timezone.now()
        if not services.failure_reports_due(now=now):
            return 0
        with transaction.atomic():
            rows = services.take_due_failure_reports(now=now)
            return self._append(rows) if rows else 0

    def _write(self, batch: Sequence[EventRow]) -> int:
        with transaction.atomic():
            batch = services.tally_failures(batch)
            return self._append(batch) if batch else 0

    def _append(self, batch: Sequence[EventRow]) -> int:
        """The batch's events, and its pulls as a domain event, in the caller's transaction."""
        pulls = images_pulled(batch)
        if pulls:
            outbox.publish(IMAGES_PULLED, {"pulls": pulls})
        # Last: the chain head is locked only for the insert.
        return len(services.append_rows(batch))

    def _start_thread(self) -> None:
        with self._thread_lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self.run, name="berth-audit-ingester", daemon=True)
                self._thread.start()

    def run(self, stop: threading.Event | None = None) -> None:
        """Ingest every BERTH_AUDIT_FLUSH_SECONDS until ``stop`` is set, then once more."""
        stop = stop or threading.Event()  # the ingest thread of a spooling process runs until exit
        while True:
            stopping = stop.wait(timeout=settings.BERTH_AUDIT_FLUSH_SECONDS)
            db.close_old_connections()
            try:
                self.flush()
            except Exception:
                logger.exception("audit ingest failed; the spooled events wait for the next attempt")
                # a broken connection is replaced on the next attempt
                db.connections.close_all()
            if stopping:
                return

    def flush_quietly(self) -> None:
        """At exit (thread mode): ingest what is spooled, where an exception has
        nowhere useful to go. In process mode the audit writer does it."""
        try:
            self.spool.close()
        except OSError:
            logger.exception("cannot write the audit spool at exit: %d events lost", self.spool.buffered)
        if self._thread is None:  # not an ingesting process (or it spooled nothing)
            return
        try:
            written = self.flush()
        except Exception:
            logger.exception("audit ingest at exit failed: the events stay spooled for the next ingester")
        else:
            if written:
                logger.info("audit ingest at exit wrote %d events", written)


recorder = Recorder()
os.register_at_fork(after_in_child=recorder._after_fork)
atexit.register(recorder.flush_quietly)


def submit(draft: EventDraft) -> None:
    recorder.submit(draft)


def flush() -> int:
    return recorder.flush()
