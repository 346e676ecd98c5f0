"""Bytes served, counted in memory: what blob and manifest GETs sent, per day,
repository and kind of caller (anonymous or signed in), for apps/usage.

Counting costs a GET one dictionary update under an uncontended lock; the database
sees the tallies at most once an interval per process (BERTH_USAGE_FLUSH_SECONDS, a
minute), when the first GET past it publishes them as ``blobs.served`` domain events
(as record_pull does for pull times), and once more as the process exits. Each
event carries a batch id, so its subscriber can tell a redelivery from new counts.
A process that is killed loses at most an interval of counts; a flush the database
refuses keeps its tallies for the next one."""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import uuid
from datetime import date, timedelta

from django.conf import settings
from django.db import DatabaseError, transaction

from apps.events import outbox
from apps.events.names import BLOBS_SERVED

logger = logging.getLogger(__name__)

FLUSH_INTERVAL = float(settings.BERTH_USAGE_FLUSH_SECONDS)  # seconds between a process's flushes
EVENT_TALLIES = 1000  # tallies per event at most, to keep each payload small
_EPOCH = date(1970, 1, 1)
_DAY = 86400

# (UTC day number, repository id, account id, anonymous) -> [bytes, requests, repository name]
_tallies: dict[tuple[int, int, str, bool], list] = {}
_lock = threading.Lock()
_due = time.time() + FLUSH_INTERVAL


def served(repository, *, anonymous: bool, size: int) -> None:
    """Count one GET of ``repository`` that sent ``size`` bytes (a range's length; a
    blob's full size when redirected to the store)."""
    now = time.time()
    # The day as a number: a date object per request would cost more than the count.
    key = (int(now // _DAY), repository.pk, repository.account_id, anonymous)
    with _lock:
        tally = _tallies.get(key)
        if tally is None:
            _tallies[key] = [size, 1, repository.name]
        else:
            tally[0] += size
            tally[1] += 1
    if now >= _due:
        flush(due_only=True)


def pending() -> dict[tuple[int, int, str, bool], list]:
    """A copy of what this process has counted and not yet published (for tests and
    the staff)."""
    with _lock:
        return {key: list(tally) for key, tally in _tallies.items()}


def day_of(number: int) -> date:
    return _EPOCH + timedelta(days=number)


def flush(*, due_only: bool = False) -> int:
    """Publish the tallies counted so far (``due_only``: only when the interval has
    passed); returns how many were published. A database that refuses the event
    leaves them counted for the next flush."""
    global _due
    with _lock:
        now = time.time()
        if due_only and now < _due:
            return 0  # another thread flushed meanwhile
        _due = now + FLUSH_INTERVAL
        if not _tallies:
            return 0
        tallies = dict(_tallies)
        _tallies.clear()
    try:
        _publish(tallies)
    except DatabaseError:
        # The GETs succeeded: a busy database only delays their counting.
        logger.warning(
            "could not publish %d served-bytes tallies; kept for the next flush", len(tallies), exc_info=True
        )
        _restore(tallies)
        return 0
    return len(tallies)


def _publish(tallies: dict) -> None:
    rows = [
        {
            "day": day_of(day).isoformat(),
            "repositoryId": repository_id,
            "accountId": account_id,
            "repository": name,
            "anonymous": anonymous,
            "bytes": size,
            "requests": requests,
        }
        for (day, repository_id, account_id, anonymous), (size, requests, name) in tallies.items()
    ]
    with transaction.atomic():
        for start in range(0, len(rows), EVENT_TALLIES):
            outbox.publish(BLOBS_SERVED, {"batchId": str(uuid.uuid4()), "served": rows[start : start + EVENT_TALLIES]})


def _restore(tallies: dict) -> None:
    with _lock:
        for key, (size, requests, name) in tallies.items():
            tally = _tallies.setdefault(key, [0, 0, name])
            tally[0] += size
            tally[1] += requests


def reset() -> None:
    """Forget what is counted and start a new interval (the tests)."""
    global _due
    with _lock:
        _tallies.clear()
        _due = time.time() + FLUSH_INTERVAL


def flush_quietly() -> None:
    """At exit: publish what is counted, where an exception has nowhere useful to go."""
    try:
        flush()
    except Exception:
        logger.exception("could not publish the served-bytes tallies at exit: they are lost")


def _after_fork() -> None:
    """In a forked child: what the parent counted is the parent's to publish. The
    lock is made anew, as a thread of the parent may have held it at the fork."""
    global _lock, _due
    _lock = threading.Lock()
    _tallies.clear()
    _due = time.time() + FLUSH_INTERVAL


os.register_at_fork(after_in_child=_after_fork)
atexit.register(flush_quietly)
