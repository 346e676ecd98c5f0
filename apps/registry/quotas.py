"""Quotas on push (docs/quotas.md): an account's stored bytes, checked before a blob
is linked to one of its repositories (an upload's completion, a mount), and the
images (manifests) of one repository, checked before a manifest new to it is stored.
The limits are apps.accounts.quotas'; the repositories quota is checked where
repositories are made (apps.repositories.quotas).

The stored-bytes figure is an aggregate, not a maintained counter: every path that
links or drops a link (pushes, mounts, deletions, the collector, a repository's
deletion) would have to keep a counter right, and the aggregate is index-backed
(the links' unique index on repository and blob, the blobs' primary key); its cost
is in bench/README.md. Its queries are a fixed number whatever the account holds.
Concurrent uploads each check before any of them links: together they may overshoot
the limit by at most the uploads in flight."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Sum

from apps.accounts import quotas
from apps.accounts.quotas import QuotaExceeded
from apps.repositories.models import Repository

from .models import Blob, Manifest, RepositoryBlob


def stored_bytes(account_id: str) -> int:
    """What the storage quota counts: each blob the account's repositories link once,
    however many link it, and their manifests (usage's `referenced` figure). Two
    aggregate queries."""
    linked = RepositoryBlob.objects.filter(repository__account_id=account_id).values("blob_id")
    blobs = Blob.objects.filter(digest__in=linked).aggregate(size=Sum("size"))["size"] or 0
    manifests = Manifest.objects.filter(repository__account_id=account_id).aggregate(size=Sum("size"))["size"] or 0
    return blobs + manifests


def check_blob(*, repository: Repository, digest: str, size: int) -> None:
    """Raise QuotaExceeded when linking blob ``digest`` of ``size`` bytes to
    ``repository`` would take its account past its storage quota. A blob another of
    the account's repositories links already adds nothing. Without a limit, one query."""
    limit = quotas.limits_of(repository.account_id).storage_bytes
    if limit is None:
        return
    if RepositoryBlob.objects.filter(repository__account_id=repository.account_id, blob_id=digest).exists():
        return
    current = stored_bytes(repository.account_id)
    if current + size > limit:
        raise QuotaExceeded(
            quota=quotas.STORAGE_BYTES, limit=limit, current=current, adding=size, account_id=repository.account_id
        )


def check_manifest(*, repository: Repository, digest: str) -> None:
    """Raise QuotaExceeded when storing manifest ``digest`` would take ``repository``
    past its account's images-per-repository quota; one it holds already adds
    nothing. Every manifest counts, as Amazon ECR lists each as an image: an index
    and each of its entries, a signature or SBOM attached to an image. In the storing
    transaction, first: with a limit, the repository's row is locked (FOR NO KEY
    UPDATE, as a repository's deletion locks it first too) until the push commits,
    so two pushes at the limit cannot both count room for themselves."""
    limit = quotas.limits_of(repository.account_id).images_per_repository
    if limit is None:
        return
    list(Repository.objects.select_for_update(no_key=True).filter(pk=repository.pk).values_list("pk", flat=True))
    manifests = Manifest.objects.filter(repository=repository)
    if manifests.filter(digest=digest).exists():
        return
    current = manifests.count()
    if current >= limit:
        raise QuotaExceeded(
            quota=quotas.IMAGES_PER_REPOSITORY,
            limit=limit,
            current=current,
            account_id=repository.account_id,
            repository=repository.name,
        )


@dataclass(frozen=True)
class QuotaFigure:
    """One quota of an account as the console, the API and `berth usage` show it:
    its limit (None: unlimited) and what is used; for images per repository, the
    fullest repository's count, and its name."""

    quota: str
    limit: int | None
    used: int
    repository: str | None = None

    @property
    def label(self) -> str:
        return quotas.LABELS[self.quota]


def figures(account_id: str) -> list[QuotaFigure]:
    """Each quota of the account with what it uses now. Five queries."""
    limits = quotas.limits_of(account_id)
    fullest = (
        Manifest.objects.filter(repository__account_id=account_id)
        .values("repository__name")
        .annotate(images=Count("id"))
        .order_by("-images", "repository__name")
        .first()
    )
    return [
        QuotaFigure(quotas.STORAGE_BYTES, limits.storage_bytes, stored_bytes(account_id)),
        QuotaFigure(quotas.REPOSITORIES, limits.repositories, Repository.objects.filter(account_id=account_id).count()),
        QuotaFigure(
            quotas.IMAGES_PER_REPOSITORY,
            limits.images_per_repository,
            fullest["images"] if fullest else 0,
            fullest["repository__name"] if fullest else None,
        ),
    ]
