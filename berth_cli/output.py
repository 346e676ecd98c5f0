"""What a command prints: a plain aligned table (or one object's fields) for people,
indented JSON with `--output json` for programs, and a progress display on stderr
for anything that takes more than a moment."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Self

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

TABLE = "table"
JSON = "json"
FORMATS = (TABLE, JSON)
EMPTY = "-"
PROGRESS_DELAY = 0.5  # seconds before a progress display appears


@dataclass(frozen=True)
class Column:
    header: str
    key: str | Callable[[dict], Any]
    format: Callable[[Any], str] | None = None

    def text(self, row: dict) -> str:
        value = self.key(row) if callable(self.key) else _lookup(row, self.key)
        if self.format is not None and value is not None:
            return self.format(value)
        return plain(value)


def _lookup(row: dict, key: str) -> Any:
    value: Any = row
    for part in key.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def plain(value: Any) -> str:
    if value is None or value == "" or value == []:
        return EMPTY
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ", ".join(plain(item) for item in value)
    if isinstance(value, dict):
        return ", ".join(f"{key}={plain(item)}" for key, item in value.items())
    return str(value)


def when(value: str) -> str:
    """An API timestamp (ISO 8601, UTC) to the second, as people read it."""
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return str(value)
    suffix = "Z" if moment.utcoffset() is not None and not moment.utcoffset() else moment.strftime("%z")
    return moment.strftime("%Y-%m-%d %H:%M:%S") + suffix


def size(value: int) -> str:
    """Bytes in binary units (1 KiB = 1024 bytes), as the website says them."""
    amount = float(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if amount < 1024 or unit == "TiB":
            return f"{int(amount)} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    raise AssertionError("unreachable")


def short_digest(value: str) -> str:
    algorithm, _, hexdigits = value.partition(":")
    return f"{algorithm}:{hexdigits[:12]}" if hexdigits else value


def table(rows: Iterable[dict], columns: Sequence[Column]) -> str:
    """Left-aligned columns two spaces apart under upper-case headers; `-` for nothing."""
    cells = [[column.header.upper() for column in columns]]
    cells += [[column.text(row) for column in columns] for row in rows]
    widths = [max(len(line[index]) for line in cells) for index in range(len(columns))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in cells)


def fields(item: dict, columns: Sequence[Column]) -> str:
    """One object as `Label:  value` lines."""
    labels = [f"{column.header}:" for column in columns]
    width = max(len(label) for label in labels)
    return "\n".join(f"{label.ljust(width)}  {column.text(item)}" for label, column in zip(labels, columns))


def to_json(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False)


def emit(data: Any, output: str, render: Callable[[Any], str]) -> None:
    """Print `data` as JSON or as what `render` makes of it."""
    text = to_json(data) if output == JSON else render(data)
    if text:
        click.echo(text)


def output_option(function: Callable) -> Callable:
    return click.option(
        "--output",
        "-o",
        type=click.Choice(FORMATS),
        default=TABLE,
        show_default=True,
        help="table for people, json for programs",
    )(function)


class Activity:
    """A spinner on stderr (with a count of `unit`s so far, or a bar towards `total`) that
    appears only if the work is still going after PROGRESS_DELAY, and only on a terminal:
    scripts and pipes see nothing."""

    def __init__(
        self, description: str, *, total: int | None = None, unit: str | None = None, console: Console | None = None
    ):
        self.console = console or Console(stderr=True)
        self._lock = threading.Lock()
        self._finished = False
        self._progress: Progress | None = None
        self._timer: threading.Timer | None = None
        if not self.console.is_terminal:
            return
        columns = [SpinnerColumn(), TextColumn("{task.description}")]
        if total is not None:
            columns += [BarColumn(), MofNCompleteColumn()]
        elif unit is not None:
            columns.append(TextColumn(f"{{task.completed:.0f}} {unit}"))
        columns.append(TimeElapsedColumn())
        self._progress = Progress(*columns, console=self.console, transient=True)
        self._task = self._progress.add_task(description, total=total)
        self._timer = threading.Timer(PROGRESS_DELAY, self._show)
        self._timer.daemon = True

    def _show(self) -> None:
        with self._lock:
            if not self._finished and self._progress is not None:
                self._progress.start()

    def advance(self, amount: int = 1) -> None:
        if self._progress is not None:
            self._progress.advance(self._task, amount)

    def __enter__(self) -> Self:
        if self._timer is not None:
            self._timer.start()
        return self

    def __exit__(self, *exc_info) -> None:
        if self._timer is not None:
            self._timer.cancel()
        with self._lock:
            self._finished = True
            if self._progress is not None and self._progress.live.is_started:
                self._progress.stop()
