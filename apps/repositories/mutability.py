"""Which image tags of a repository may move: Amazon ECR's image tag mutability,
with the wildcard exclusion filters that flip the rule for the tags they match.
Pure functions over a repository's settings."""

from __future__ import annotations

import re
from fnmatch import fnmatchcase

from .models import Repository, TagMutability

# Tag characters plus the `*` wildcard; nothing else is special (no `?`, no `[...]`).
EXCLUSION_FILTER_PATTERN = r"^[a-zA-Z0-9._*-]{1,128}$"
MAX_EXCLUSION_FILTERS = 5
WITH_EXCLUSION = frozenset({TagMutability.IMMUTABLE_WITH_EXCLUSION, TagMutability.MUTABLE_WITH_EXCLUSION})

_EXCLUSION_FILTER = re.compile(EXCLUSION_FILTER_PATTERN)


class TagMutabilityInvalid(ValueError):
    """``code`` says what is wrong, in DRF's words (`invalid`, `required`, `max_length`)."""

    def __init__(self, message: str, *, code: str = "invalid") -> None:
        super().__init__(message)
        self.code = code


def validate_tag_mutability(mutability: str, exclusion_filters: list[str] | tuple[str, ...]) -> list[str]:
    """The filters to store for this setting (duplicates dropped, order kept)."""
    if mutability not in TagMutability.values:
        raise TagMutabilityInvalid(
            f"image tag mutability must be one of {', '.join(TagMutability.values)}", code="invalid_choice"
        )
    filters = list(dict.fromkeys(exclusion_filters))
    if mutability not in WITH_EXCLUSION:
        if filters:
            raise TagMutabilityInvalid(
                f"exclusion filters apply only with {' or '.join(sorted(WITH_EXCLUSION))}, not with {mutability}"
            )
        return []
    if not filters:
        raise TagMutabilityInvalid(f"{mutability} needs at least one exclusion filter", code="required")
    if len(filters) > MAX_EXCLUSION_FILTERS:
        raise TagMutabilityInvalid(f"at most {MAX_EXCLUSION_FILTERS} exclusion filters", code="max_length")
    for pattern in filters:
        if not isinstance(pattern, str) or not _EXCLUSION_FILTER.match(pattern):
            raise TagMutabilityInvalid(
                f"invalid exclusion filter {str(pattern)[:200]!r}: 1 to 128 tag characters "
                "(letters, digits, '.', '_', '-') and the '*' wildcard"
            )
    return filters


def tag_matches(tag: str, exclusion_filters: list[str]) -> bool:
    # fnmatchcase is exact here: valid filters hold no character it treats specially but `*`.
    return any(fnmatchcase(tag, pattern) for pattern in exclusion_filters)


def tag_is_immutable(repository: Repository, tag: str) -> bool:
    """May ``tag`` not be moved to another manifest once it exists?"""
    mutability = repository.image_tag_mutability
    if mutability == TagMutability.MUTABLE:
        return False
    if mutability == TagMutability.IMMUTABLE:
        return True
    excluded = tag_matches(tag, repository.image_tag_mutability_exclusion_filters or [])
    if mutability == TagMutability.IMMUTABLE_WITH_EXCLUSION:
        return not excluded
    return excluded
