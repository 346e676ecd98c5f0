"""`berth vulndb import PATH…` loads advisories; `berth vulndb status` shows what is loaded."""

from __future__ import annotations

import os

from django.core.management.base import BaseCommand, CommandError
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from apps.scanning import vulndb


class Command(BaseCommand):
    help = (
        "The vulnerability database. `import PATH…`: OSV records from directories, .zip files (as osv.dev's "
        "all.zip), JSON Lines or JSON files, and Alpine secdb and Debian security-tracker lists, converted; "
        "only what changed is written, and continuously scanned images are re-matched. `status`: each source, "
        "when it was imported and what that import did."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        importing = sub.add_parser("import", help="load or update advisories from PATH…")
        importing.add_argument("paths", nargs="+", metavar="PATH")
        importing.add_argument("--no-progress", action="store_true", help="no progress bar (logs, CI)")
        sub.add_parser("status", help="the sources loaded, when, and their counts")

    def handle(self, *args, action: str, **options):
        if action == "import":
            self._import(options["paths"], progress=not options["no_progress"])
        else:
            self._status()

    def _import(self, paths: list[str], *, progress: bool) -> None:
        for path in paths:
            if not os.path.exists(path):
                raise CommandError(f"{path}: no such file or directory")
        if progress:
            with Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                TextColumn("{task.completed} records"),
                TimeElapsedColumn(),
                console=Console(file=self.stdout._out, force_terminal=None),
            ) as bar:
                task = bar.add_task("importing advisories", total=None)
                result = vulndb.import_paths(paths, progress=lambda n: bar.advance(task, n))
        else:
            result = vulndb.import_paths(paths)
        for tally in result.sources.values():
            self.stdout.write(
                f"{tally.name}: {tally.records} records, {tally.added} added, {tally.changed} changed, "
                f"{tally.unchanged} unchanged, {tally.invalid} invalid"
            )
            for error in tally.errors:
                self.stderr.write(f"  invalid: {error}")
        if not result.sources:
            raise CommandError(f"no advisories found in {' '.join(paths)}")
        self.stdout.write(f"{len(result.changed_ids)} advisories added or changed")

    def _status(self) -> None:
        rows = vulndb.status()
        if not rows:
            self.stdout.write("no advisories imported yet: berth vulndb import PATH…")
            return
        for source in rows:
            self.stdout.write(
                f"{source.name}\t{source.imported_at:%Y-%m-%d %H:%M:%S %Z}\t{source.records} records "
                f"({source.added} added, {source.changed} changed, {source.unchanged} unchanged, "
                f"{source.invalid} invalid)\t{source.location}"
            )
        total = sum(source.advisories.count() for source in rows)
        self.stdout.write(f"{total} advisories stored")
