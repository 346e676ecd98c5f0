"""Running a write again when the database chose it as a deadlock's victim."""

from __future__ import annotations

import functools
import logging
import random
import time

from django.db import OperationalError, connection

logger = logging.getLogger(__name__)

# PostgreSQL's deadlock_detected and serialization_failure: the transaction was
# rolled back whole, and running it again is what the server asks for.
RETRIED_SQLSTATES = frozenset({"40P01", "40001"})
ATTEMPTS = 3


def _asks_for_a_retry(exc: OperationalError) -> bool:
    return getattr(exc.__cause__, "sqlstate", None) in RETRIED_SQLSTATES


def retried_on_deadlock(function):
    """Run ``function`` (a write that is a transaction of its own) again, up to
    ATTEMPTS times, when PostgreSQL rolled it back to break a deadlock. Writes whose
    locks two orders can take (a push and a delete of images sharing layers and tags)
    lose nothing to the rare cycle. Inside a caller's transaction the error goes up:
    only the outermost transaction can be run again."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return function(*args, **kwargs)
            except OperationalError as exc:
                if attempt == ATTEMPTS or connection.in_atomic_block or not _asks_for_a_retry(exc):
                    raise
                logger.warning("%s: %s; running it again (attempt %d)", function.__qualname__, exc, attempt + 1)
                time.sleep(random.uniform(0.01, 0.05) * attempt)
        raise AssertionError("unreachable")

    return wrapper
