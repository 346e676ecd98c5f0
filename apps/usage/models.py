"""What accounts store and serve, day by day (docs/usage.md).

Rows name their account and repository by id and name, not by foreign key: the
history of a repository (or an account) outlives it, and deleting one waits on
none of these tables."""

from __future__ import annotations

from django.db import models

from apps.kernel.names import REPOSITORY_NAME_MAX_LENGTH


class RepositorySnapshot(models.Model):
    """A repository's stored bytes on a day (apps.registry.selectors.stored_bytes),
    as the day's snapshot found them; taking the day's snapshot again replaces it."""

    day = models.DateField()
    account_id = models.CharField(max_length=12)
    repository_id = models.BigIntegerField()
    repository = models.CharField(max_length=REPOSITORY_NAME_MAX_LENGTH)
    referenced_bytes = models.BigIntegerField()
    exclusive_bytes = models.BigIntegerField()
    image_count = models.IntegerField()
    taken_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["day", "repository_id"], name="usage_repository_day_once")]
        indexes = [models.Index(fields=["account_id", "day"], name="usage_repository_account_day")]

    def __str__(self) -> str:
        return f"{self.account_id}/{self.repository} on {self.day}"


class AccountSnapshot(models.Model):
    """An account's stored bytes on a day: each blob once however many of its
    repositories link it (not the sum of its repositories' figures)."""

    day = models.DateField()
    account_id = models.CharField(max_length=12)
    referenced_bytes = models.BigIntegerField()
    exclusive_bytes = models.BigIntegerField()
    image_count = models.IntegerField()
    repository_count = models.IntegerField()
    taken_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account_id", "day"], name="usage_account_day_once")]

    def __str__(self) -> str:
        return f"{self.account_id} on {self.day}"


class ServedBytes(models.Model):
    """Bytes that blob and manifest GETs of a repository sent on a day (UTC), to
    anonymous callers or to signed-in ones."""

    day = models.DateField()
    account_id = models.CharField(max_length=12)
    repository_id = models.BigIntegerField()
    repository = models.CharField(max_length=REPOSITORY_NAME_MAX_LENGTH)
    anonymous = models.BooleanField()
    bytes = models.BigIntegerField(default=0)
    requests = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["day", "repository_id", "anonymous"], name="usage_served_day_once")
        ]
        indexes = [models.Index(fields=["account_id", "day"], name="usage_served_account_day")]

    def __str__(self) -> str:
        who = "anonymous" if self.anonymous else "signed-in"
        return f"{self.account_id}/{self.repository} on {self.day}, {who}"


class AppliedBatch(models.Model):
    """A blobs.served batch already added to ServedBytes: its redelivery adds nothing.
    Kept a week (far longer than any event waits for its delivery), then pruned."""

    batch_id = models.UUIDField(primary_key=True)
    applied_at = models.DateTimeField()

    def __str__(self) -> str:
        return str(self.batch_id)
