"""`berth gc`: a garbage collection pass by hand; `--dry-run` says what it would free."""

from __future__ import annotations

import json
from contextlib import contextmanager
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from apps.registry import collector


def _size(count: int) -> str:
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


class Command(BaseCommand):
    help = (
        "Garbage collection, online: drop links no manifest references, then delete from the store the blobs no "
        "repository links once the grace window (BERTH_GC_GRACE_SECONDS) has passed. Celery beat runs the same "
        "pass every BERTH_GC_INTERVAL_SECONDS; this runs one now. --dry-run changes nothing and reports what "
        "would be freed, per repository. --reconcile also looks through the store for bytes no row describes."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="report what a pass would free; change nothing")
        parser.add_argument(
            "--grace", type=float, metavar="SECONDS", help="the grace window for this pass (default: the setting)"
        )
        parser.add_argument(
            "--reconcile", action="store_true", help="first condemn stored bytes that no row describes (slower)"
        )
        parser.add_argument("--json", action="store_true", help="the report as JSON")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar (logs, CI)")

    def handle(self, *args, dry_run: bool, grace: float | None, reconcile: bool, **options):
        if grace is not None and grace < 0:
            raise CommandError("--grace must be 0 or more seconds")
        window = None if grace is None else timedelta(seconds=grace)
        if dry_run:
            report = collector.plan(grace=window)
            self._report(report, options["json"], dry_run=True)
            return
        with self._progress(not options["no_progress"]) as progress:
            orphans = collector.reconcile(grace=window, progress=progress) if reconcile else None
            report = collector.collect(grace=window, progress=progress)
        if orphans is not None:
            report.orphans, report.orphan_bytes = orphans.orphans, orphans.orphan_bytes
        self._report(report, options["json"], dry_run=False)

    @contextmanager
    def _progress(self, shown: bool):
        """A bar per stage of the pass; yields the collector's progress callback."""
        tasks: dict[str, int] = {}
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(file=self.stdout._out, force_terminal=None),
            disable=not shown,
        ) as bar:

            def advance(stage: str, done: int, total: int | None) -> None:
                if stage not in tasks:
                    tasks[stage] = bar.add_task(stage, total=total)
                bar.advance(tasks[stage], done)

            yield advance

    def _report(self, report: collector.Report, as_json: bool, *, dry_run: bool) -> None:
        if as_json:
            self.stdout.write(json.dumps({"dryRun": dry_run, **report.as_dict()}, indent=2))
            return
        verb = "would delete" if dry_run else "deleted"
        self.stdout.write(f"grace window: {report.grace_seconds:g} s")
        if report.orphans:
            self.stdout.write(f"stored bytes with no row, condemned: {report.orphans} ({_size(report.orphan_bytes)})")
        self.stdout.write(f"{verb} {report.blobs} blobs, {_size(report.bytes)}")
        self.stdout.write(
            f"{'would drop' if dry_run else 'dropped'} {report.links} links no manifest references "
            f"({_size(report.link_bytes)}; freed by a pass after the grace window unless linked again)"
        )
        if report.per_repository:
            width = max(len(name) for name in report.per_repository)
            self.stdout.write(f"{'REPOSITORY':<{width}}  {'BLOBS':>7}  {'BYTES':>10}  {'LINKS':>7}  {'LINK BYTES':>10}")
            for name, share in sorted(report.per_repository.items()):
                self.stdout.write(
                    f"{name:<{width}}  {share.blobs:>7}  {_size(share.bytes):>10}  {share.links:>7}  "
                    f"{_size(share.link_bytes):>10}"
                )
