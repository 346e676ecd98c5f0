"""Lifecycle's refusals, as domain errors (the API maps them in apps/api/exceptions.py)."""

from __future__ import annotations

from apps.kernel.errors import DomainError

from .policy import LifecyclePolicyInvalid

__all__ = ["LifecyclePolicyInvalid", "LifecyclePolicyNotFound", "LifecyclePreviewNotFound"]


class LifecyclePolicyNotFound(DomainError):
    """ECR's LifecyclePolicyNotFoundException."""

    def __init__(self, repository: str) -> None:
        self.repository = repository
        super().__init__(f"repository {repository} has no lifecycle policy: put one first (PutLifecyclePolicy)")


class LifecyclePreviewNotFound(DomainError):
    """ECR's LifecyclePolicyPreviewNotFoundException."""

    def __init__(self, repository: str) -> None:
        self.repository = repository
        super().__init__(
            f"repository {repository} has no lifecycle policy preview: start one (StartLifecyclePolicyPreview)"
        )
