"""Charts of the insights pages as server-rendered SVG: geometry computed here,
drawn by templates/console/insights/_*.html with presentation attributes and CSS
classes only (the Content-Security-Policy allows no style attribute). Every bar
has a <title> (a tooltip, and what a screen reader reads); a data table under each
chart says the same for those who cannot see it."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date

# The stacked chart's canvas (SVG user units; the SVG scales to its box).
WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 48, 8, 12, 28
PLOT_WIDTH, PLOT_HEIGHT = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM


def nice_ceiling(value: int) -> int:
    """The smallest of 1, 2, 2.5, 5 × 10^n at or above ``value`` (at least 1)."""
    if value <= 1:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * power >= value:
            return max(1, math.ceil(step * power))
    return 10 * power  # pragma: no cover


@dataclass(frozen=True)
class Segment:
    y: float
    height: float
    css: str
    title: str


@dataclass
class Bar:
    x: float
    width: float
    segments: list[Segment] = field(default_factory=list)


@dataclass(frozen=True)
class Tick:
    y: float
    label: str


@dataclass(frozen=True)
class Label:
    x: float
    text: str


@dataclass
class StackedChart:
    title: str
    bars: list[Bar]
    ticks: list[Tick]
    labels: list[Label]
    legend: list[tuple[str, str]]  # (css class, name)
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right_edge: int = WIDTH - RIGHT
    baseline: int = TOP + PLOT_HEIGHT
    empty: bool = False

    @property
    def view_box(self) -> str:
        return f"0 0 {self.width} {self.height}"


def _count(n: int) -> str:
    return f"{n:,} pull" + ("" if n == 1 else "s")


def stacked_by_day(title: str, days: list[date], layers: list[tuple[str, list[int]]]) -> StackedChart:
    """One bar a day, stacked from the bottom in the order of ``layers`` ((name, one
    count a day)); empty layers are left out of the legend."""
    totals = [sum(layer[1][index] for layer in layers) for index in range(len(days))]
    top = nice_ceiling(max(totals, default=0))
    step = PLOT_WIDTH / max(len(days), 1)
    gap = min(step * 0.2, 6) if step > 3 else 0
    bars = []
    for index, day in enumerate(days):
        bar = Bar(x=round(LEFT + index * step + gap / 2, 2), width=round(max(step - gap, 0.5), 2))
        stacked = 0
        for number, (name, counts) in enumerate(layers):
            count = counts[index]
            if not count:
                continue
            height = PLOT_HEIGHT * count / top
            y = TOP + PLOT_HEIGHT - PLOT_HEIGHT * (stacked + count) / top
            bar.segments.append(
                Segment(
                    round(y, 2),
                    round(height, 2),
                    f"chart-series--{number}",
                    f"{day:%Y-%m-%d} · {name}: {_count(count)}",
                )
            )
            stacked += count
        bars.append(bar)
    ticks = [Tick(round(TOP + PLOT_HEIGHT - PLOT_HEIGHT * part / 4, 2), f"{top * part / 4:,.0f}") for part in range(5)]
    if top < 4:  # a small axis: whole pulls only
        ticks = [Tick(round(TOP + PLOT_HEIGHT - PLOT_HEIGHT * n / top, 2), str(n)) for n in range(top + 1)]
    every = max(1, math.ceil(len(days) / 6))
    labels = [
        Label(round(LEFT + (index + 0.5) * step, 2), f"{day:%b} {day.day}")
        for index, day in enumerate(days)
        if index % every == 0
    ]
    legend = [(f"chart-series--{number}", name) for number, (name, counts) in enumerate(layers) if any(counts)]
    return StackedChart(title, bars, ticks, labels, legend, empty=not any(totals))


@dataclass(frozen=True)
class HorizontalBar:
    y: float
    width: float
    name: str
    value: int
    title: str
    label_y: float


@dataclass
class HorizontalChart:
    title: str
    bars: list[HorizontalBar]
    width: int = 480
    label_width: int = 110
    bar_height: int = 22
    height: int = 0

    @property
    def view_box(self) -> str:
        return f"0 0 {self.width} {self.height}"

    @property
    def value_x(self) -> int:
        return self.label_width + 6


def horizontal(title: str, rows: list[tuple[str, int]], *, unit: str = "pulls") -> HorizontalChart:
    """One bar a row (name, value), the longest the largest value."""
    chart = HorizontalChart(title, [])
    largest = max((value for _, value in rows), default=0) or 1
    room = chart.width - chart.label_width - 60
    for index, (name, value) in enumerate(rows):
        y = 4 + index * (chart.bar_height + 8)
        chart.bars.append(
            HorizontalBar(
                y=y,
                width=round(max(room * value / largest, 1 if value else 0), 2),
                name=name,
                value=value,
                title=f"{name}: {value:,} {unit}",
                label_y=y + chart.bar_height * 0.7,
            )
        )
    chart.height = 8 + len(rows) * (chart.bar_height + 8)
    return chart
