"""Replication's tables: each account's replication configuration, the status of
each image at each destination (which is also the queue of copies to make), and
back-fill runs."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone

from apps.accounts.models import Account
from apps.kernel.names import DIGEST_MAX_LENGTH, TAG_MAX_LENGTH
from apps.repositories.models import Repository

REGION_MAX_LENGTH = 25
ENDPOINT_MAX_LENGTH = 512


class ReplicationConfiguration(models.Model):
    """An account's PutReplicationConfiguration, validated (apps.replication.config).

    ``rules`` is ECR's list of rules as given, except that each destination's
    credentials are kept as ``username`` and ``sealedPassword`` (apps.kernel.sealing):
    the password is never read back by anyone but the copy."""

    account = models.OneToOneField(
        Account, on_delete=models.CASCADE, primary_key=True, related_name="replication_configuration"
    )
    rules = models.JSONField(default=list)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"replication of {self.account_id} ({len(self.rules)} rules)"


class ReplicationStatus(models.TextChoices):
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETE = "COMPLETE"
    FAILED = "FAILED"


class ReplicationAction(models.TextChoices):
    REPLICATE = "REPLICATE"
    # A rule with replicateDeletions: the image (or, with ``tag``, the tag) goes at the destination too.
    DELETE = "DELETE"


class BackfillStatus(models.TextChoices):
    RUNNING = "RUNNING"
    COMPLETE = "COMPLETE"
    STOPPED = "STOPPED"
    FAILED = "FAILED"


class ReplicationBackfill(models.Model):
    """A StartReplicationBackfill: copies of what existed before a rule, scheduled as
    ImageReplication rows naming it; its progress is counted from them."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="replication_backfills")
    # None: every rule of the configuration; else the index of the one rule.
    rule_index = models.PositiveSmallIntegerField(null=True, blank=True)
    # The rules as they were when it started (without credentials), for the record.
    rules = models.JSONField(default=list)
    status = models.CharField(max_length=12, choices=BackfillStatus.choices, default=BackfillStatus.RUNNING)
    total = models.PositiveIntegerField(default=0)
    # Copies a stop dropped before they started.
    dropped = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=BackfillStatus.values), name="replication_backfill_status_known"
            ),
            models.CheckConstraint(
                condition=models.Q(status=BackfillStatus.RUNNING) | models.Q(finished_at__isnull=False),
                name="replication_backfill_finished_when_not_running",
            ),
        ]
        indexes = [models.Index(fields=["account", "-started_at"], name="replication_backfill_recent")]

    def __str__(self) -> str:
        return f"back-fill {self.id} of {self.account_id}"


class ImageReplication(models.Model):
    """One image of a source repository at one destination: its status, and the
    copy (or deletion) still to make while IN_PROGRESS.

    A destination is (region, registry id, endpoint): the endpoint is empty for a
    destination in this deployment. ``generation`` counts the events that asked for
    the copy: a copy that started before the last one (a tag pushed meanwhile) runs
    again. ``leased_until`` marks a copy a worker runs now; ``enqueued_at`` when a
    task was last queued for it (the sweeper queues again what a lost task left)."""

    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="replications")
    image_digest = models.CharField(max_length=DIGEST_MAX_LENGTH)
    destination_region = models.CharField(max_length=REGION_MAX_LENGTH)
    destination_registry_id = models.CharField(max_length=12)
    destination_endpoint = models.CharField(max_length=ENDPOINT_MAX_LENGTH, blank=True, default="")
    action = models.CharField(max_length=10, choices=ReplicationAction.choices, default=ReplicationAction.REPLICATE)
    # For a DELETE of one tag only; empty otherwise.
    tag = models.CharField(max_length=TAG_MAX_LENGTH, blank=True, default="")
    # The rule (its index) that asked for it first; its filters matched the repository.
    rule_index = models.PositiveSmallIntegerField(default=0)
    status = models.CharField(max_length=12, choices=ReplicationStatus.choices, default=ReplicationStatus.IN_PROGRESS)
    failure_code = models.CharField(max_length=64, blank=True, default="")
    failure_reason = models.TextField(blank=True, default="")
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    leased_until = models.DateTimeField(null=True, blank=True)
    generation = models.PositiveIntegerField(default=1)
    backfill = models.ForeignKey(
        ReplicationBackfill, null=True, blank=True, on_delete=models.SET_NULL, related_name="copies"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "repository",
                    "image_digest",
                    "destination_region",
                    "destination_registry_id",
                    "destination_endpoint",
                    "action",
                    "tag",
                ],
                name="image_replication_once_per_destination",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=ReplicationStatus.values), name="image_replication_status_known"
            ),
            models.CheckConstraint(
                condition=models.Q(action__in=ReplicationAction.values), name="image_replication_action_known"
            ),
            models.CheckConstraint(
                condition=models.Q(action=ReplicationAction.DELETE) | models.Q(tag=""),
                name="image_replication_tag_only_for_deletions",
            ),
            models.CheckConstraint(
                condition=~models.Q(status=ReplicationStatus.FAILED) | ~models.Q(failure_code=""),
                name="image_replication_failure_has_code",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="image_replication_due"),
            models.Index(fields=["backfill", "status"], name="image_replication_backfill"),
        ]

    def __str__(self) -> str:
        return f"{self.repository_id}@{self.image_digest} -> {self.destination_label}"

    @property
    def destination_label(self) -> str:
        where = self.destination_endpoint or "this deployment"
        return f"{self.destination_registry_id} in {self.destination_region} ({where})"
