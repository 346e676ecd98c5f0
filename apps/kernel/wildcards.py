"""IAM wildcard matching: ``*`` is any run of characters (also none), ``?`` exactly one."""

from __future__ import annotations

import re
from functools import lru_cache


@lru_cache(maxsize=4096)
def _compile(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    parts = []
    for char in pattern:
        if char == "*":
            parts.append(".*")
        elif char == "?":
            parts.append(".")
        else:
            parts.append(re.escape(char))
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.compile("".join(parts), flags)


def wildcard_match(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    return _compile(pattern, ignore_case).fullmatch(value) is not None


def has_wildcard(text: str) -> bool:
    return "*" in text or "?" in text
