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


def preview_page(
    preview: LifecyclePreview,
    *,
    limit: int,
    start: int = 0,
    image_ids: list[dict] | None = None,
    tagged: bool | None = None,
) -> tuple[list[dict], int | None]:
    """GetLifecyclePolicyPreview: ``limit`` of the preview's results from ``start``
    (a previous page's offset), and where the next page starts (None: the last).
    ``image_ids``: only the results one of these ECR image ids names (a digest,
    a tag, or both); ``tagged``: only tagged (True) or untagged (False) images."""
    results = preview.results
    if image_ids:
        results = [result for result in results if any(_names(image_id, result) for image_id in image_ids)]
    if tagged is not None:
        results = [result for result in results if bool(result["imageTags"]) == tagged]
    end = start + limit
    return results[start:end], end if end < len(results) else None


def _names(image_id: dict, result: dict) -> bool:
    digest, tag = image_id.get("imageDigest"), image_id.get("imageTag")
    if digest is None and tag is None:
        return False
    return (digest is None or digest == result["imageDigest"]) and (tag is None or tag in result["imageTags"])


def content_of(repository: Repository) -> Content:
    manifests = Manifest.objects.filter(repository=repository).values_list(
        "digest", "created_at", "last_pulled_at", "subject_digest"
    )
    tags = Tag.objects.filter(repository=repository).values_list("manifest__digest", "name")
    edges = ManifestChild.objects.filter(parent__repository=repository).values_list("parent__digest", "child__digest")
    return build_content(manifests.iterator(chunk_size=5000), tags.iterator(chunk_size=5000), edges)


def repositories_with_policies() -> list[int]:
    return list(LifecyclePolicy.objects.order_by("repository_id").values_list("repository_id", flat=True))
