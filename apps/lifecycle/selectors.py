"""Lifecycle's reads: a repository's policy, its latest preview, and the snapshot of
its content that evaluation works on (three queries, whatever the number of images)."""

from __future__ import annotations

from apps.registry.models import Manifest, ManifestChild, Tag
from apps.repositories.models import Repository

from .evaluation import Content, build_content
from .models import LifecyclePolicy, LifecyclePreview


def policy_of(repository: Repository) -> LifecyclePolicy | None:
    return LifecyclePolicy.objects.filter(repository=repository).first()


def preview_of(repository: Repository) -> LifecyclePreview | None:
    return LifecyclePreview.objects.filter(repository=repository).first()


def content_of(repository: Repository) -> Content:
    manifests = Manifest.objects.filter(repository=repository).values_list(
        "digest", "created_at", "last_pulled_at", "subject_digest"
    )
    tags = Tag.objects.filter(repository=repository).values_list("manifest__digest", "name")
    edges = ManifestChild.objects.filter(parent__repository=repository).values_list("parent__digest", "child__digest")
    return build_content(manifests.iterator(chunk_size=5000), tags.iterator(chunk_size=5000), edges)


def repositories_with_policies() -> list[int]:
    return list(LifecyclePolicy.objects.order_by("repository_id").values_list("repository_id", flat=True))
