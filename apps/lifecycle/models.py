"""Lifecycle's tables: a repository's policy (the text as given, byte for byte, as
GetLifecyclePolicy returns it) and the latest preview of each repository."""

from __future__ import annotations

from django.db import models

from apps.repositories.models import Repository


class LifecyclePolicy(models.Model):
    repository = models.OneToOneField(
        Repository, primary_key=True, on_delete=models.CASCADE, related_name="lifecycle_policy"
    )
    text = models.TextField()
    updated_at = models.DateTimeField(auto_now=True)
    # When a run last evaluated it (ECR's lastEvaluatedAt); null until the first run.
    last_evaluated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "lifecycle policies"

    def __str__(self) -> str:
        return str(self.repository)


class PreviewStatus(models.TextChoices):
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETE = "COMPLETE"
    EXPIRED = "EXPIRED"
    FAILED = "FAILED"


class LifecyclePreview(models.Model):
    """The latest StartLifecyclePolicyPreview of a repository. ``results``: ECR's
    previewResults (each with Berth's lastPulledAt and the manifests that go with
    the image), in expiry order."""

    repository = models.OneToOneField(
        Repository, primary_key=True, on_delete=models.CASCADE, related_name="lifecycle_preview"
    )
    text = models.TextField()
    status = models.CharField(max_length=16, choices=PreviewStatus.choices, default=PreviewStatus.IN_PROGRESS)
    results = models.JSONField(default=list, blank=True)
    started_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.repository} ({self.status})"
