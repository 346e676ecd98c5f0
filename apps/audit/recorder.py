"""The batching recorder: events that change nothing (pulls, refusals, failed
writes) are written in batches by a background thread, so a pull never waits on
the database or on the chain head's lock.

``submit`` only appends to an in-process buffer. A daemon flusher thread, started
on the first submit in each process (gunicorn forks its workers), writes the
buffer with ``services.record_many`` every BERTH_AUDIT_FLUSH_SECONDS, or sooner
once BERTH_AUDIT_FLUSH_EVENTS are waiting. A batch the database refuses stays in
the buffer for the next attempt; beyond BERTH_AUDIT_BUFFER_LIMIT the oldest
events are dropped, with a warning. The buffer is flushed on interpreter exit and
from gunicorn's worker_exit hook (``apps.audit.gunicorn_hooks``).

Listeners (``add_listener``) see the drafts of every batch written, inside the
batch's transaction (their work commits with the events, or neither does): the
gallery counts pulls this way. A listener that fails is
logged and its work rolled back; the events are written all the same."""
from __future__ import annotations

import atexit
import collections
import logging
import os
import threading
from collections.abc import Callable, Sequence

from django import db
from django.conf import settings
from django.db import DataError, IntegrityError, transaction

from . import services
from .events import EventDraft

logger = logging.getLogger(__name__)

Listener = Callable[[Sequence[EventDraft]], None]


class Recorder:
    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._reset()

    def _reset(self) -> None:
        """Fresh state, also in a forked child: the parent's buffer is the parent's
        to write, and its thread and locks did not come along."""
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._buffer: collections.deque[EventDraft] = collections.deque()
        self._wake = threading.Event()
        self._flusher: threading.Thread | None = None
        self.dropped = 0

    def add_listener(self, listener: Listener) -> None:
        if listener not in self._listeners:
            self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    @property
    def pending(self) -> int:
        return len(self._buffer)

    def submit(self, draft: EventDraft) -> None:
        if settings.BERTH_AUDIT_SYNCHRONOUS:
            self._write([draft])
            return
        with self._lock:
            self._buffer.append(draft)
            self._trim()
            waiting = len(self._buffer)
            if self._flusher is None:
                self._start_flusher()
        if waiting >= settings.BERTH_AUDIT_FLUSH_EVENTS:
            self._wake.set()

    def flush(self) -> int:
        """Write everything buffered now; returns how many events were written.
        On a database error the batch goes back to the buffer and the error is raised."""
        with self._flush_lock:
            with self._lock:
                batch = list(self._buffer)
                self._buffer.clear()
            if not batch:
                return 0
            try:
                try:
                    written = self._write(batch)
                except (IntegrityError, DataError):
                    # The database refuses something in the batch, and would every time:
                    # write the events one by one, so only the one it refuses is lost.
                    written = self._write_each(batch)
            except Exception:
                with self._lock:
                    self._buffer.extendleft(reversed([draft for draft in batch if not draft.recorded]))
                    self._trim()
                raise
            return written

    def _write(self, batch: list[EventDraft]) -> int:
        try:
            with transaction.atomic():
                # Listeners first: the chain head is then locked last and only for the
                # insert, in every transaction that takes it (no lock-order cycles).
                for listener in list(self._listeners):
                    try:
                        with transaction.atomic():
                            listener(batch)
                    except Exception:
                        logger.exception("audit listener %r failed on a batch of %d events", listener, len(batch))
                return services.append_batch(batch)
        except Exception:
            for draft in batch:  # rolled back: none of them is stored
                draft.recorded = False
            raise

    def _write_each(self, batch: list[EventDraft]) -> int:
        written = 0
        for draft in batch:
            try:
                written += self._write([draft])
            except (IntegrityError, DataError):
                self.dropped += 1
                logger.exception(
                    "the database refuses audit event %s %s (request %s): dropped",
                    draft.event_name, draft.event_id, draft.request_id,
                )
        return written

    def _trim(self) -> None:
        """Drop the oldest events beyond the buffer limit (the lock is held)."""
        over = len(self._buffer) - settings.BERTH_AUDIT_BUFFER_LIMIT
        if over > 0:
            for _ in range(over):
                self._buffer.popleft()
            self.dropped += over
            logger.warning(
                "audit buffer full (%d events): dropped the %d oldest unwritten events (%d so far)",
                settings.BERTH_AUDIT_BUFFER_LIMIT, over, self.dropped,
            )

    def _start_flusher(self) -> None:
        self._flusher = threading.Thread(target=self._run_flusher, name="berth-audit-flusher", daemon=True)
        self._flusher.start()

    def _run_flusher(self) -> None:
        while True:
            self._wake.wait(timeout=settings.BERTH_AUDIT_FLUSH_SECONDS)
            self._wake.clear()
            db.close_old_connections()
            try:
                self.flush()
            except Exception:
                logger.exception("audit flush failed; %d events wait for the next attempt", self.pending)
                # a broken connection is replaced on the next attempt
                db.connections.close_all()

    def flush_quietly(self) -> None:
        """Flush at shutdown, where an exception has nowhere useful to go."""
        try:
            written = self.flush()
        except Exception:
            logger.exception("audit flush at shutdown failed: %d events lost", self.pending)
        else:
            if written:
                logger.info("audit flush at shutdown wrote %d events", written)


recorder = Recorder()
os.register_at_fork(after_in_child=recorder._reset)
atexit.register(recorder.flush_quietly)


def submit(draft: EventDraft) -> None:
    recorder.submit(draft)


def flush() -> int:
    return recorder.flush()


def add_listener(listener: Listener) -> None:
    recorder.add_listener(listener)


def remove_listener(listener: Listener) -> None:
    recorder.remove_listener(listener)
