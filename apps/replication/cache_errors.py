"""The pull-through cache rules' refusals (Amazon ECR's exceptions of the same names)."""

from __future__ import annotations

from apps.kernel.errors import DomainError


class PullThroughCacheRuleInvalid(DomainError):
    """A rule's parameter is malformed, or its prefix overlaps another rule's;
    ``field`` names the parameter."""

    def __init__(self, message: str, *, field: str) -> None:
        self.field = field
        super().__init__(message)


class PullThroughCacheRuleAlreadyExists(DomainError):
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        super().__init__(f"a pull-through cache rule with the prefix {prefix} already exists in this registry")


class PullThroughCacheRuleNotFound(DomainError):
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        super().__init__(f"no pull-through cache rule with the prefix {prefix[:100]} exists in this registry")
