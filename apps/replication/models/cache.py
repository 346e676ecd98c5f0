"""The pull-through cache's tables: rules, what each cached tag is upstream, and
the leases that let one request at a time fetch a piece of content."""

from __future__ import annotations

from django.db import models

from apps.accounts.models import Account
from apps.kernel.names import DIGEST_MAX_LENGTH, REPOSITORY_NAME_MAX_LENGTH, TAG_MAX_LENGTH
from apps.repositories.models import Repository

# Amazon ECR's bound on ecrRepositoryPrefix.
ECR_REPOSITORY_PREFIX_MAX_LENGTH = 30
UPSTREAM_URL_MAX_LENGTH = 2048


class PullThroughCacheRule(models.Model):
    """Amazon ECR's pull-through cache rule: the account's repositories under
    ``ecr_repository_prefix`` + "/" cache the upstream registry's repositories
    under ``upstream_repository_prefix`` ("" for all of them)."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="pull_through_cache_rules")
    ecr_repository_prefix = models.CharField(max_length=ECR_REPOSITORY_PREFIX_MAX_LENGTH)
    upstream_registry_url = models.CharField(max_length=UPSTREAM_URL_MAX_LENGTH)
    upstream_repository_prefix = models.CharField(max_length=REPOSITORY_NAME_MAX_LENGTH, blank=True, default="")
    # The upstream's credentials: the password sealed (apps.kernel.sealing), never shown.
    username = models.CharField(max_length=255, blank=True, default="")
    sealed_password = models.TextField(blank=True, default="")
    tag_recheck_seconds = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "ecr_repository_prefix"], name="pull_through_prefix_once")
        ]

    def __str__(self) -> str:
        return f"{self.account_id}/{self.ecr_repository_prefix} -> {self.upstream_registry_url}"


class CachedTag(models.Model):
    """A cached tag as the upstream had it when last asked: its digest there and
    when it was checked (a re-check is due ``tag_recheck_seconds`` later)."""

    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="cached_tags")
    tag = models.CharField(max_length=TAG_MAX_LENGTH)
    upstream_digest = models.CharField(max_length=DIGEST_MAX_LENGTH)
    checked_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["repository", "tag"], name="cached_tag_once")]


class UpstreamFetchLease(models.Model):
    """Who fetches a piece of content from an upstream now, across processes: the
    request that inserts the row fetches, the others wait for the content (or for
    the row to go, or to expire: its holder died). The holder extends
    ``expires_at`` while it streams."""

    key = models.CharField(primary_key=True, max_length=400)
    holder = models.CharField(max_length=64)
    expires_at = models.DateTimeField()
