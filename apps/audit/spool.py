"""The audit spool: events that change nothing (pulls, refusals, failed writes) are
appended to a file by the process that served the request, and an ingester writes
them to the trail in batches, off the request path.

A pull costs its request thread one draft added to a list: no database work, no
system call, and no thread competing with the request threads for the
interpreter while it writes to the database. The process's spool thread turns
the drafts into lines (``rows.EventRow``'s canonical form, which the ingester
hashes as it is, and the lengths of the parts of it that repeat, which the
ingester parses once: ``rows.spool_form``) and writes them to the page cache every
BERTH_AUDIT_SPOOL_WRITE_SECONDS (0.1 s); from there, a web worker that crashes
or is killed loses nothing, and a graceful exit writes out the buffer (atexit
and gunicorn's worker_exit hook).

Files. Each process appends to a file of its own in BERTH_AUDIT_SPOOL_DIR, named
``<host>-<pid>-<nanoseconds>-<random>.jsonl``, one event per line (O_APPEND). The writer holds
a shared ``flock`` on its file for as long as it may write to it (the lock is
taken before the file gets its visible name), and moves on to a new file past
BERTH_AUDIT_SPOOL_FILE_BYTES. A line is read only once its newline is there.

Ingestion. ``Ingester.run_once`` reads every spool file from its cursor, writes
the events in batches of BERTH_AUDIT_FLUSH_EVENTS (the batch's images.pulled event and
the chain append in one transaction), and moves the file's cursor (a SpoolCursor
row) forward in that same transaction: a batch is written exactly once, whatever
stops the ingester between batches. A file whose writer is gone (its lock can be
taken) and which is read to its end is removed. One ingester works at a time per
spool directory (an exclusive ``flock`` on ``.ingest.lock``); `berth serve` runs
one in a process of its own (`berth audit_writer`), and a process in
BERTH_AUDIT_WRITER=thread mode runs one in a thread.

Owners. Hosts that share one database (the scaled-out setup) each have a spool
directory of their own, and their ingesters share the cursor table. The directory
keeps a random id in ``.spool-id`` (made by the first ingester to run on it), and
cursors are keyed by that id and the file's name: an ingester reads, moves and
forgets only its own directory's cursors, whatever the hosts' names."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import secrets
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from django.conf import settings
from django.db import DataError, IntegrityError, connection, transaction

from apps.kernel.secrets import read_or_create

from .events import EventDraft
from .models import SpoolCursor
from .rows import EventRow, spool_form

logger = logging.getLogger(__name__)

SUFFIX = ".jsonl"
LOCK_NAME = ".ingest.lock"
ID_NAME = ".spool-id"
FORMAT = 3  # the first field of every line: how the rest reads
READ_BYTES = 4 << 20  # how much of a file one read takes in
SPOOL_BUFFER_EVENTS = 4096  # a buffer this full is written at once


# -- lines ----------------------------------------------------------------------------

LINE_START = b"[%d," % FORMAT
FORM_LINE_START = b"[2,"  # format 2: the form alone (what this version writes when the form has no parts)


def encode(draft: EventDraft) -> bytes:
    """One spool line: ``[3,<who length>,<what length>,<the event's canonical form>]``
    and a newline. The audit writer hashes the form as it is and reads its <who>
    and <what> parts (``rows.spool_form``) from kept ones."""
    form, who_length, what_length = spool_form(draft)
    if who_length:
        return b"%s%d,%d,%s]\n" % (LINE_START, who_length, what_length, form.encode())
    return b"%s%s]\n" % (FORM_LINE_START, form.encode())


class BadLine(ValueError):
    """A spool line that does not read as an event."""


def decode(line: bytes) -> EventRow:
    body = line.rstrip(b"\n")
    try:
        if body.startswith(LINE_START) and body.endswith(b"]"):
            who_length, what_length, form = body[len(LINE_START) : -1].decode().split(",", 2)
            return EventRow.from_parts(form, int(who_length), int(what_length))
        if body.startswith(FORM_LINE_START) and body.endswith(b"]"):
            return EventRow.from_form(body[len(FORM_LINE_START) : -1].decode())
    except (UnicodeDecodeError, ValueError) as error:  # BadRow is a ValueError
        raise BadLine(str(error)) from None
    raise BadLine(f"not a format {FORMAT} spool line")


# -- writing ---------------------------------------------------------------------------


def spool_dir() -> Path:
    return Path(settings.BERTH_AUDIT_SPOOL_DIR)


class SpoolWriter:
    """This process's spool file. ``append`` only adds the draft to a list: a
    thread of its own turns the drafts into lines and writes them out every
    BERTH_AUDIT_SPOOL_WRITE_SECONDS (sooner once SPOOL_BUFFER_EVENTS wait) with one
    ``write``. A request thread makes no system call for its event (a call that
    releases the interpreter lock costs a request thread under load far more
    than the call), and does not encode it either: encoding a few hundred events
    in one loop costs each of them about half what it costs between the
    requests' own work. Thread-safe; a forked child starts empty, with a file of
    its own."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._lock = threading.Lock()  # the drafts
        self._file_lock = threading.Lock()  # the lines and the file
        self._drafts: list[EventDraft] = []  # appended, not yet encoded
        self._lines: list[bytes] = []  # encoded, not yet written (kept when a write fails)
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._fd: int | None = None
        self._written = 0
        self.dropped = 0  # events that could not be encoded

    def after_fork(self) -> None:
        """In a forked child: the parent's buffer and file are the parent's to
        write (closing the inherited descriptor leaves the parent's lock in place)."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
        self._reset()

    def append(self, draft: EventDraft) -> None:
        """Spool ``draft``, which nothing changes any more."""
        with self._lock:
            self._drafts.append(draft)
            full = len(self._drafts) >= SPOOL_BUFFER_EVENTS
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="berth-audit-spool", daemon=True)
                self._thread.start()
        if full:
            self._wake.set()

    @property
    def buffered(self) -> int:
        """Events appended and not yet written to the file."""
        return len(self._drafts) + len(self._lines)

    def write(self) -> int:
        """Write the buffer to the file now; returns how many events it held.
        On an error (a full disk) the events stay buffered and the error is raised."""
        with self._file_lock:
            with self._lock:
                drafts, self._drafts = self._drafts, []
            for draft in drafts:
                try:
                    self._lines.append(encode(draft))
                except Exception:  # a value no line can carry: this event alone is lost
                    self.dropped += 1
                    logger.exception(
                        "cannot spool audit event %s of request %s: dropped", draft.event_name, draft.request_id
                    )
            if not self._lines:
                return 0
            try:
                if self._fd is None or self._written >= settings.BERTH_AUDIT_SPOOL_FILE_BYTES:
                    self._open()
                view = memoryview(b"".join(self._lines))
                while view:  # a regular file takes it all but on a full disk
                    written = os.write(self._fd, view)
                    view = view[written:]
                    self._written += written
            except OSError:
                # Lines written in part are not read until a newline ends them, and
                # lines written whole before the error come again in the next file:
                # the trail's unique event ids keep them once.
                self._close()
                raise
            count, self._lines = len(self._lines), []
            return count

    def _run(self) -> None:
        while True:
            self._wake.wait(timeout=settings.BERTH_AUDIT_SPOOL_WRITE_SECONDS)
            self._wake.clear()
            try:
                self.write()
            except OSError:
                logger.exception("cannot write the audit spool; %d events wait in memory", self.buffered)
                time.sleep(1)

    def _open(self) -> None:
        directory = spool_dir()
        directory.mkdir(parents=True, exist_ok=True)
        # sorted by writer, then by age: a writer's files are read in the order written
        name = f"{socket.gethostname()}-{os.getpid()}-{time.time_ns():020d}-{secrets.token_hex(4)}{SUFFIX}"
        hidden = directory / f".{name}.new"
        fd = os.open(hidden, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        try:
            # Locked before the ingester can see it: an unlocked file is one whose writer is gone.
            fcntl.flock(fd, fcntl.LOCK_SH)
            os.rename(hidden, directory / name)
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(hidden)
            raise
        self._close()
        self._fd, self._written = fd, 0

    def close(self) -> None:
        """Write what is buffered and close the file (which lets the ingester
        remove it once read). Raises OSError when the buffer cannot be written."""
        try:
            self.write()
        finally:
            with self._file_lock:
                self._close()

    def _close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


# -- ingesting -------------------------------------------------------------------------

WriteBatch = Callable[[Sequence[EventRow]], int]


@contextlib.contextmanager
def _exclusive(path: Path) -> Iterator[bool]:
    """Whether this caller got the ingest lock (without waiting for it)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)  # releases the lock


def _restart_sqlite_wal() -> None:
    """On SQLite, have the next write start the write-ahead log over. Under a steady
    stream of pulls some reader always holds an old snapshot when the automatic
    (passive) checkpoint runs, so the log never restarts and keeps growing, and
    every page a request reads is looked up through more of it: a web process's
    reads grew dearer the longer the audit writer wrote (its wal-index had
    15 MB behind it after 24 s of wrk). A RESTART checkpoint waits out the few
    milliseconds of the readers of the moment instead."""
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_checkpoint(RESTART)")


def spool_id(directory: Path) -> str:
    """The id the cursors of ``directory``'s files are kept under: read from its
    ``.spool-id``, which the first caller makes."""
    return read_or_create(directory / ID_NAME, lambda: uuid.uuid4().hex)


def _writer_gone(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


class Ingester:
    """Moves spooled events into the trail. ``write_batch`` writes a batch of rows
    in the caller's transaction (the images.pulled event and the chain append) and
    returns how many it stored; it may raise IntegrityError / DataError for a batch
    the database refuses, and is then given the batch's events one by one."""

    def __init__(self, write_batch: WriteBatch, *, directory: Path | None = None) -> None:
        self._write_batch = write_batch
        self._directory = directory
        self.dropped = 0  # lines and events the database refused, or that did not read

    @property
    def directory(self) -> Path:
        return self._directory or spool_dir()

    def run_once(self) -> int:
        """Ingest what every spool file holds now; returns how many events were
        written (0 when another ingester has the directory). A database error
        stops the pass and is raised; what was not written stays spooled."""
        directory = self.directory
        if not directory.is_dir():
            return 0
        with _exclusive(directory / LOCK_NAME) as mine:
            if not mine:
                return 0
            owner = spool_id(directory)
            names = sorted(entry.name for entry in os.scandir(directory) if entry.name.endswith(SUFFIX))
            cursors = self._cursors(owner, names) if names else {}
            written = 0
            for name in names:
                written += self._ingest_file(owner, directory / name, cursors.get(name, 0))
            self._forget_missing(owner, names)
            if written:
                _restart_sqlite_wal()
            return written

    @staticmethod
    def _cursors(owner: str, names: list[str]) -> dict[str, int]:
        """The offsets of ``names`` (files of ``owner``'s directory) read so far. A
        file with no cursor of its owner's may have one from before cursors had
        owners: that offset holds, and the file's first move takes it over."""
        offsets = dict(SpoolCursor.objects.filter(owner=owner, name__in=names).values_list("name", "offset"))
        unowned = [name for name in names if name not in offsets]
        if unowned:
            offsets.update(SpoolCursor.objects.filter(owner="", name__in=unowned).values_list("name", "offset"))
        return offsets

    def _ingest_file(self, owner: str, path: Path, offset: int) -> int:
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            return 0
        written = 0
        try:
            while True:
                data = os.pread(fd, READ_BYTES, offset)
                end = data.rfind(b"\n") + 1
                if end:
                    written += self._ingest_lines(owner, path.name, data[:end], offset)
                    offset += end
                if len(data) < READ_BYTES or not end:
                    break
            # Read to the end, with the writer gone: nothing more will come.
            if _writer_gone(fd):
                rest = os.fstat(fd).st_size - offset
                if rest > 0:
                    more = os.pread(fd, rest, offset)
                    if b"\n" in more:  # written after the read above, before the writer went
                        return written + self._ingest_file(owner, path, offset)
                    self.dropped += 1
                    logger.warning("audit spool %s ends in %d bytes of an unfinished line: dropped", path.name, rest)
                os.unlink(path)
                SpoolCursor.objects.filter(owner__in=(owner, ""), name=path.name).delete()
        finally:
            os.close(fd)
        return written

    def _ingest_lines(self, owner: str, name: str, data: bytes, offset: int) -> int:
        """Write the lines in ``data`` (starting at ``offset`` in the file) in
        batches, each with its cursor move."""
        batch_size = max(1, settings.BERTH_AUDIT_FLUSH_EVENTS)
        written = 0
        rows: list[EventRow] = []
        position = committed = offset
        start = 0
        while start < len(data):
            end = data.index(b"\n", start) + 1
            line = data[start:end]
            start = end
            position = offset + end
            if line.strip():
                try:
                    rows.append(decode(line))
                except BadLine as error:
                    self.dropped += 1
                    logger.error(
                        "audit spool %s: the line at byte %d does not read (%s): dropped",
                        name,
                        position - len(line),
                        error,
                    )
            if len(rows) >= batch_size:
                written += self._commit(owner, name, rows, position)
                rows, committed = [], position
        if position != committed:  # the rest, or lines that did not read: the cursor moves past them
            written += self._commit(owner, name, rows, position)
        return written

    def _commit(self, owner: str, name: str, rows: list[EventRow], position: int) -> int:
        try:
            with transaction.atomic():
                written = self._write_batch(rows) if rows else 0
                self._move(owner, name, position)
            return written
        except (IntegrityError, DataError):
            # The database refuses something in the batch, and would every time:
            # write the events one by one, so only the one it refuses is lost.
            written = 0
            with transaction.atomic():
                for row in rows:
                    try:
                        with transaction.atomic():
                            written += self._write_batch([row])
                    except (IntegrityError, DataError):
                        self.dropped += 1
                        logger.exception(
                            "the database refuses audit event %s %s (request %s): dropped",
                            row.event_name,
                            row.event_id,
                            row.request_id,
                        )
                self._move(owner, name, position)
            return written

    @staticmethod
    def _move(owner: str, name: str, position: int) -> None:
        if not SpoolCursor.objects.filter(owner=owner, name=name).update(offset=position):
            SpoolCursor.objects.filter(owner="", name=name).delete()  # taken over, if it was unowned
            SpoolCursor.objects.create(owner=owner, name=name, offset=position)

    @staticmethod
    def _forget_missing(owner: str, names: Sequence[str]) -> None:
        """The owner's cursors of files that are gone (removed after a crash between
        the unlink and the cursor's delete). Other owners' cursors are theirs:
        their files are in directories this ingester does not see."""
        present = set(names)
        ours = SpoolCursor.objects.filter(owner=owner).values_list("name", flat=True)
        stale = [name for name in ours if name not in present]
        if stale:  # an idle pass reads, and writes nothing
            SpoolCursor.objects.filter(owner=owner, name__in=stale).delete()
