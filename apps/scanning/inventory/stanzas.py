"""The "Key: value" stanza format shared by dpkg's status files (RFC 822-like, with
continuation lines) and apk's installed database ("K:value")."""

from __future__ import annotations

from collections.abc import Iterator


def deb822(text: str) -> Iterator[dict[str, str]]:
    """The stanzas of a dpkg status file: blank-line separated; a line starting with
    white space continues the previous field (only the first line is kept)."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if fields:
                yield fields
                fields = {}
            continue
        if line[0] in " \t":
            continue  # a continuation line (Description, Conffiles): not needed
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    if fields:
        yield fields


def apk(text: str) -> Iterator[dict[str, str]]:
    """The stanzas of apk's installed database: blank-line separated ``K:value`` lines
    (repeated keys, such as the files' ``R:``, keep their first value)."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if fields:
                yield fields
                fields = {}
            continue
        key, sep, value = line.partition(":")
        if sep and len(key) == 1:
            fields.setdefault(key, value.strip())
    if fields:
        yield fields
