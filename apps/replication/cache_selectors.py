"""Reads of the pull-through cache rules."""

from __future__ import annotations

from django.db.models import QuerySet

from apps.accounts.models import Account

from .cache_errors import PullThroughCacheRuleNotFound
from .models import PullThroughCacheRule


def rules(account: Account, *, prefixes: list[str] | None = None) -> QuerySet[PullThroughCacheRule]:
    """Amazon ECR's DescribePullThroughCacheRules: the account's rules by prefix,
    only ``prefixes`` when given (PullThroughCacheRuleNotFound names one it lacks)."""
    found = PullThroughCacheRule.objects.filter(account=account).order_by("ecr_repository_prefix")
    if prefixes:
        found = found.filter(ecr_repository_prefix__in=prefixes)
        have = set(found.values_list("ecr_repository_prefix", flat=True))
        for prefix in prefixes:
            if prefix not in have:
                raise PullThroughCacheRuleNotFound(prefix)
    return found


def rule(account: Account, prefix: str) -> PullThroughCacheRule:
    found = PullThroughCacheRule.objects.filter(account=account, ecr_repository_prefix=prefix).first()
    if found is None:
        raise PullThroughCacheRuleNotFound(prefix)
    return found


def rules_page(
    account: Account, *, prefixes: list[str] | None = None, start: int = 0, limit: int
) -> tuple[list[PullThroughCacheRule], int | None]:
    """A page of ``rules``: ``limit`` from ``start`` (a previous page's offset), and
    where the next page starts (None: the last)."""
    page = list(rules(account, prefixes=prefixes)[start : start + limit + 1])
    return page[:limit], start + limit if len(page) > limit else None
