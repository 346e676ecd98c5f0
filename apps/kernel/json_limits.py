"""JSON from clients: how deep it nests, measured before it is parsed, and where
it holds a NUL character.

Python's json parser recurses once per nested array or object, so a body of
10,000 `[` ends in RecursionError (a server error) instead of a refusal. The
depth is measured here first, on the raw text, with a handful of passes of C
string methods rather than a Python loop over characters (bench/README.md has
what it costs).

PostgreSQL can neither store nor look up text holding NUL (`"\\u0000"` in JSON),
where SQLite can: callers refuse it, so that both databases answer alike."""

from __future__ import annotations

import json
from typing import Any

# `{`/`}` read as `[`/`]`: only the nesting counts (a mismatched pair is the
# parser's to refuse). Every other byte but quotes is deleted, and backslashes
# too once escapes are gone.
_AS_BRACKETS = bytes.maketrans(b"{}", b"[]")
_NOT_STRUCTURE_OR_ESCAPE = bytes(b for b in range(256) if b not in b'[]{}"\\')
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'[]{}"')


class JSONTooDeep(ValueError):
    """The document nests arrays and objects deeper than allowed."""

    def __init__(self, max_depth: int) -> None:
        self.max_depth = max_depth
        super().__init__(f"nests arrays and objects more than {max_depth} levels deep")


def check_depth(document: bytes | str, max_depth: int) -> None:
    """Raise JSONTooDeep when ``document`` nests deeper than ``max_depth`` (an array
    or object holding nothing nested is one level), before anything parses it.

    For any text json.loads accepts the depth is exact; for text it refuses, it is
    never less than the depth the parser would reach before refusing it."""
    data = _utf8(document)
    # Brackets, quotes and backslashes: a small part of a real document, in one pass.
    structure = data.translate(_AS_BRACKETS, _NOT_STRUCTURE_OR_ESCAPE)
    if structure.count(b"[") <= max_depth:
        return  # nearly every document: too few brackets to nest that deep
    if b"\\" in structure:
        # Escaped backslashes first, so that `\\"` still ends its string; then escaped
        # quotes, which end nothing. Outside strings valid JSON has no backslash.
        data = data.replace(b"\\\\", b"").replace(b'\\"', b"")
        structure = data.translate(_AS_BRACKETS, _NOT_STRUCTURE)
    # Adjacent quotes removed in pairs keep every bracket on the same side of a
    # string boundary.
    structure = structure.replace(b'""', b"")
    if b'"' in structure:
        structure = b"".join(structure.split(b'"')[::2])  # the brackets inside strings go
    # Each pass removes the innermost pairs: a balanced text is empty after as many
    # passes as it is deep. What no pass can remove are unmatched brackets: each
    # unmatched `[` deepens everything after it. A run of more `[` than allowed ends
    # the count early (hostile input is mostly that).
    too_deep = b"[" * (max_depth + 1)
    for peeled in range(max_depth + 1):
        if too_deep in structure:
            raise JSONTooDeep(max_depth)
        inner = structure.replace(b"[]", b"")
        if len(inner) == len(structure):
            if peeled + inner.count(b"[") > max_depth:
                raise JSONTooDeep(max_depth)
            return
        structure = inner
    raise JSONTooDeep(max_depth)


def _utf8(document: bytes | str) -> bytes:
    """The text as UTF-8, whichever encoding json.loads would read it in (it takes
    UTF-16 and UTF-32 too, where every character is several bytes)."""
    if isinstance(document, str):
        return document.encode("utf-8", "surrogatepass")
    data = bytes(document)
    # JSON starts with an ASCII character: in UTF-16 or UTF-32 a NUL byte or a BOM
    # is among its first four bytes (a UTF-8 BOM changes nothing here).
    if b"\x00" not in data[:4] and data[:2] not in (b"\xff\xfe", b"\xfe\xff"):
        return data
    return data.decode(json.detect_encoding(data), "surrogatepass").encode("utf-8", "surrogatepass")


def loads(document: bytes | str, *, max_depth: int, **options: Any) -> Any:
    """json.loads, after check_depth."""
    check_depth(document, max_depth)
    return json.loads(document, **options)


def nul_path(text: str, value: Any) -> str | None:
    """Where the first string or object key holding NUL is in ``value``, parsed from
    JSON ``text``: a dotted path (`context.key`, `imageIds.0.imageTag`; "" for
    ``value`` itself), or None when there is none."""
    # JSON refuses a raw NUL in a string: only the escape decodes to one, so text
    # without it (nearly all) is not walked.
    if "\\u0000" not in text:
        return None
    return _nul_path(value, "")


def _nul_path(value: Any, path: str) -> str | None:
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        where = f"{path}.{key}" if path else str(key)
        if isinstance(key, str) and "\x00" in key:
            return where.replace("\x00", "\N{REPLACEMENT CHARACTER}")
        found = _nul_path(item, where)
        if found is not None:
            return found
    return None
