"""The latest verification of the hash chain, for pages to show.

Walking the whole chain (``chain.verify``) recomputes every stored event's hash:
10,000 events took 0.3 s on SQLite and 0.6 s on PostgreSQL (measured for the
console's audit page), and every pull is an event, so a trail of millions takes
minutes: it is never run in a page view. A user asks for it
(``request_verification``: at most one walk queued or running at a time), a
Celery task walks (``run``), and its report is kept in the cache, shared by the
web processes and the workers, with when it started and ended. The report names
a broken event by sequence and id only; a page shows the detail to an account
that may see that event."""

from __future__ import annotations

import logging
import time

from django.core.cache import cache
from django.utils import timezone

from . import chain

logger = logging.getLogger(__name__)

RESULT_KEY = "audit:chain-verification"
PENDING_KEY = "audit:chain-verification:pending"
# A walk asked for and not done within this long is presumed lost (a worker gone): it may be asked for again.
PENDING_SECONDS = 15 * 60
# The latest report is kept this long (a walk a month keeps one on the page).
RESULT_SECONDS = 90 * 24 * 3600


def latest() -> dict | None:
    """The latest finished walk's report (see ``run``), or None."""
    return cache.get(RESULT_KEY)


def pending() -> str | None:
    """When the walk queued or running was asked for (ISO time), or None."""
    return cache.get(PENDING_KEY)


def request_verification() -> bool:
    """Mark a walk as asked for; True when it is to be queued, False when one
    already is (the caller queues ``tasks.verify_chain`` on True)."""
    return cache.add(PENDING_KEY, timezone.now().isoformat(), PENDING_SECONDS)


def run() -> dict:
    """Walk the chain now and keep the report."""
    started_at = timezone.now()
    began = time.monotonic()
    try:
        report = chain.verify()
    finally:
        cache.delete(PENDING_KEY)
    result = {
        "intact": report.intact,
        "count": report.count,
        "first_sequence": report.first_sequence,
        "last_sequence": report.last_sequence,
        "broken": None,
        "started_at": started_at.isoformat(),
        "finished_at": timezone.now().isoformat(),
        "seconds": round(time.monotonic() - began, 3),
    }
    if report.broken is not None:
        broken = report.broken
        result["broken"] = {
            "sequence": broken.sequence,
            "event_id": broken.event_id,
            "problem": broken.problem,
            "detail": broken.detail,
        }
        logger.error("%s", broken)
    cache.set(RESULT_KEY, result, RESULT_SECONDS)
    return result
