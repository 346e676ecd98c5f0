"""The operating system, from os-release (``etc/os-release``, else
``usr/lib/os-release``): ``KEY=value`` lines, values optionally quoted as in a shell."""

from __future__ import annotations

from .packages import OperatingSystem

# The paths tried, in order (os-release(5)); symbolic links are followed by the walker.
PATHS = ("etc/os-release", "usr/lib/os-release")

_UNESCAPE = {'\\"': '"', "\\\\": "\\", "\\$": "$", "\\`": "`"}


def parse(data: bytes) -> dict[str, str]:
    """The assignments of an os-release file (comments and malformed lines ignored)."""
    fields: dict[str, str] = {}
    for raw_line in data.decode("utf-8", "replace").splitlines():
        line = raw_line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        fields[key.strip()] = _unquote(value.strip())
    return fields


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1]
        if value and "\\" in value:
            for escaped, plain in _UNESCAPE.items():
                value = value.replace(escaped, plain)
    return value


def operating_system(fields: dict[str, str]) -> OperatingSystem | None:
    """The OperatingSystem the fields describe, None without an ID."""
    os_id = fields.get("ID", "").strip().lower()
    if not os_id:
        return None
    return OperatingSystem(
        id=os_id,
        version_id=fields.get("VERSION_ID", ""),
        version_codename=fields.get("VERSION_CODENAME", ""),
        pretty_name=fields.get("PRETTY_NAME", ""),
    )
