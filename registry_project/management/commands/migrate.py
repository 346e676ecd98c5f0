"""`berth migrate` (and the migrate `berth serve` runs at start), one process at a
time per database. Hosts that share a database start together (a deploy, an
upgrade), and two of Django's migrate at once plan the same migrations: the second
fails on a duplicate key (creating django_migrations) or on a table the first has
just made, and its `berth serve` exits. On PostgreSQL an advisory lock of the
database serializes them; on SQLite a lock on a file beside the database's (only
processes of one host share its file)."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator

from django.core.management.commands import migrate
from django.db import DatabaseError, connections
from django.db.backends.base.base import BaseDatabaseWrapper

# pg_advisory_lock's key: a constant every Berth process uses ("berthmig", as a signed bigint).
ADVISORY_LOCK_KEY = int.from_bytes(b"berthmig", "big", signed=True)
SQLITE_LOCK_SUFFIX = ".migrate-lock"


@contextlib.contextmanager
def one_at_a_time(connection: BaseDatabaseWrapper) -> Iterator[None]:
    """Hold the database's migration lock, waiting for whoever holds it."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [ADVISORY_LOCK_KEY])
        try:
            yield
        finally:
            # A connection that broke has let go of the lock with its session.
            with contextlib.suppress(DatabaseError), connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [ADVISORY_LOCK_KEY])
    elif connection.vendor == "sqlite" and not connection.is_in_memory_db():
        fd = os.open(f"{connection.settings_dict['NAME']}{SQLITE_LOCK_SUFFIX}", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock
    else:
        yield


class Command(migrate.Command):
    help = f"{migrate.Command.help} One process at a time per database."

    def handle(self, *args, **options):
        with one_at_a_time(connections[options["database"]]):
            super().handle(*args, **options)
