"""Small filters the gallery's templates need to show registry data."""

from django import template

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
    """Bytes in binary units (apps.kernel.sizes), the one way the site says sizes,
    never broken across lines."""
    return binary_size(value).replace(" ", "\xa0")
