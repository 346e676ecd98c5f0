"""`berth audit_writer`: the audit spool's ingester in a process of its own (as
`berth serve` runs it). Every BERTH_AUDIT_FLUSH_SECONDS it writes what the web
processes spooled to the trail; on SIGTERM or SIGINT it ingests once more and
exits. Web processes started with BERTH_AUDIT_WRITER=process leave the ingesting
to it. It runs at nice BERTH_AUDIT_WRITER_NICE (10): while the web workers want
the CPU, the events wait in the spool and the pulls go first."""

from __future__ import annotations

import logging
import os
import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connection
from django.db.backends.signals import connection_created

from apps.audit.recorder import recorder

# SQLite's page cache for the writer's connection (its default is 2 MB). Each batch
# appends to the end of every index's range for each address, principal, image and
# repository in it: with a few hundred clients those pages alone outgrow 2 MB, and
# every batch read them back (a pass of 20,000 pulls from 350 addresses: 84-126 µs
# an event with the default, 64-84 µs with this).
SQLITE_CACHE_KIB = 64 << 10


logger = logging.getLogger(__name__)


def _sqlite_cache(sender, connection, **kwargs) -> None:
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")


class Command(BaseCommand):
    help = "Write spooled audit events (pulls, refusals) to the trail until stopped."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="ingest what is spooled now, then exit")

    def handle(self, *args, once: bool, **options):
        connection_created.connect(_sqlite_cache)
        if connection.connection is not None:  # opened before this command ran
            _sqlite_cache(None, connection)
        if once:
            written = recorder.flush()
            self.stdout.write(f"wrote {written} spooled audit events")
            return
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda signum, frame: stop.set())
        if settings.BERTH_AUDIT_WRITER_NICE:
            os.nice(settings.BERTH_AUDIT_WRITER_NICE)
        # logged, not printed: under BERTH_LOG_FORMAT=json every line `berth serve` writes is JSON
        logger.info("audit writer ingesting %s (nice %d)", recorder.ingester.directory, os.nice(0))
        recorder.run(stop)
        logger.info("audit writer stopped")
