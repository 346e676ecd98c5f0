"""itertools.batched, which Python 3.11 lacks (3.12 has it)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from typing import TypeVar

T = TypeVar("T")


def batched(items: Iterable[T], size: int) -> Iterator[tuple[T, ...]]:
    """``items`` in tuples of ``size`` (the last one shorter), read lazily."""
    if size < 1:
        raise ValueError("size must be at least one")
    iterator = iter(items)
    while batch := tuple(islice(iterator, size)):
        yield batch
