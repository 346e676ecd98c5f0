"""`berth audit_writer`: the audit spool's ingester in a process of its own (as
`berth serve` runs it). Every BERTH_AUDIT_FLUSH_SECONDS it writes what the web
processes spooled to the trail; on SIGTERM or SIGINT it ingests once more and
exits. Web processes started with BERTH_AUDIT_WRITER=process leave the ingesting
to it."""
from __future__ import annotations

import signal
import threading

from django.core.management.base import BaseCommand

from apps.audit.recorder import recorder


class Command(BaseCommand):
    help = "Write spooled audit events (pulls, refusals) to the trail until stopped."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="ingest what is spooled now, then exit")

    def handle(self, *args, once: bool, **options):
        if once:
            written = recorder.flush()
            self.stdout.write(f"wrote {written} spooled audit events")
            return
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda signum, frame: stop.set())
        self.stdout.write(f"audit writer ingesting {recorder.ingester.directory}")
        self.stdout.flush()
        recorder.run(stop)
        self.stdout.write("audit writer stopped")
