"""Small filters the gallery's templates need to show registry data."""

from datetime import timedelta

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.timesince import timesince

from apps.kernel.sizes import binary_size

register = template.Library()


@register.filter
def platform(value: dict) -> str:
    """{"os": "linux", "architecture": "arm64", "variant": "v8"} -> "linux/arm64/v8"."""
    parts = [value.get("os", ""), value.get("architecture", ""), value.get("variant", "")]
    return "/".join(part for part in parts if part)


@register.filter
def short_digest(digest: str) -> str:
    """sha256:0123456789ab… -> sha256:0123456789ab (what a person compares at a glance)."""
    algorithm, _, hex_digits = digest.partition(":")
    return f"{algorithm}:{hex_digits[:12]}" if hex_digits else digest


@register.filter
def badges(bars: str) -> list[str]:
    """A row's "|Linux|Windows|" as ["Linux", "Windows"]."""
    return [value for value in bars.split("|") if value]


@register.filter
def size(value: int) -> str:
    """Bytes in binary units (apps.kernel.sizes), the one way the site says sizes."""
    return binary_size(value)


@register.filter
def compact_count(value: int) -> str:
    """A count as people skim it: 999, 4.6K, 46K, 1.2M (the exact figure goes in a title)."""
    value = int(value or 0)
    if value < 1000:
        return str(value)
    for limit, unit in ((10**9, "B"), (10**6, "M"), (10**3, "K")):
        scaled = value / limit
        shown = round(scaled, 1) if scaled < 10 else round(scaled)
        if shown >= 1:  # 999,999 is 1M, not 1000K
            return (f"{shown:.1f}".removesuffix(".0") if shown < 10 else f"{shown:.0f}") + unit
    raise AssertionError("unreachable: 1,000 and more is at least 1K")


@register.filter
def ago(moment) -> str:
    """How long ago, in its largest unit ("3 hours ago"), or "just now" within a minute."""
    if moment is None:
        return ""
    if timezone.now() - moment < timedelta(minutes=1):
        return "just now"
    return f"{timesince(moment, depth=1)} ago"


@register.filter
def thousands(value: int) -> str:
    """1234567 -> "1,234,567"."""
    return f"{int(value or 0):,}"


SPARKLINE_WIDTH = 120
SPARKLINE_HEIGHT = 32
SPARKLINE_PAD = 2


@register.simple_tag
def sparkline(history, element_id: str = "pull-history") -> str:
    """Pulls per day (a selectors.PullHistory) as a small inline SVG: a line over a
    faint area, scaled to the busiest day, with a title a screen reader reads
    ("1,234 pulls in the last 30 days"). Presentation attributes and classes only:
    the site's Content-Security-Policy allows no style attribute."""
    counts = [count for _, count in history.days] or [0]
    peak = max(counts) or 1
    inner_width = SPARKLINE_WIDTH - 2 * SPARKLINE_PAD
    inner_height = SPARKLINE_HEIGHT - 2 * SPARKLINE_PAD
    step = inner_width / (len(counts) - 1) if len(counts) > 1 else 0
    baseline = SPARKLINE_HEIGHT - SPARKLINE_PAD
    points = [(SPARKLINE_PAD + n * step, baseline - count / peak * inner_height) for n, count in enumerate(counts)]
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    area = f"{points[0][0]:.1f},{baseline} {line} {points[-1][0]:.1f},{baseline}"
    total = sum(counts)
    summary = f"{total:,} pull{'' if total == 1 else 's'} in the last {len(history.days)} days"
    if total:
        summary += f", at most {max(counts):,} a day"
    return format_html(
        '<svg class="sparkline" id="{}" viewBox="0 0 {} {}" width="{}" height="{}" preserveAspectRatio="none" '
        'role="img" aria-label="{}">'
        "<title>{}</title>"
        '<polygon class="sparkline__area" points="{}" fill="currentColor" fill-opacity="0.15" stroke="none"/>'
        '<polyline class="sparkline__line" points="{}" fill="none" stroke="currentColor" stroke-width="1.5" '
        'stroke-linejoin="round" stroke-linecap="round" vector-effect="non-scaling-stroke"/>'
        "</svg>",
        element_id,
        SPARKLINE_WIDTH,
        SPARKLINE_HEIGHT,
        SPARKLINE_WIDTH,
        SPARKLINE_HEIGHT,
        summary,
        summary,
        area,
        line,
    )
