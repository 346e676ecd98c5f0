"""Quotas on push (docs/quotas.md): an account's stored bytes, checked before a blob
is linked to one of its repositories (an upload's completion, a mount), and the
images (manifests) of one repository, checked before a manifest new to it is stored.
The limits are apps.accounts.quotas'; the repositories quota is checked where
repositories are made (apps.repositories.quotas).

The stored-bytes figure is exact when counted (stored_bytes, an aggregate over the
blobs the account's repositories link and their manifests), but that costs time in
proportion to the account's links (bench/README.md: ~0.2 s at 100,000 blobs), too
much for every layer of every push. So a check keeps a running figure per account:
the last exact count plus the blobs it admitted since. It errs high (deletions are
not taken off), or low by no more than what pushes added without a check since the
count (manifests, a few KiB each; the registry's own small blobs, services.store_blob);
it counts exactly again before it would refuse and every RECOUNT_AFTER, so a
refusal is always the exact figure's, and a deletion's room is seen by the next
check it matters to.
A counter kept exact instead would have to be kept by every path that drops a link
(image and repository deletions, the collector, an account's deletion). Concurrent
uploads each check before any of them links: together they may overshoot the limit
by at most the uploads in flight."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.db.models import BigIntegerField, Count, F, Func, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from apps.accounts import quotas
from apps.accounts.models import Account, AccountQuota
from apps.accounts.quotas import QuotaExceeded
from apps.repositories.models import Repository

from .models import Blob, Manifest, RepositoryBlob

# How long the storage quota's running figure stands before a check counts again.
RECOUNT_AFTER = timedelta(minutes=5)


def _total(queryset, field: str) -> Coalesce:
    """SUM(field) of ``queryset`` as a scalar subquery (0 when it has no rows)."""
    return Coalesce(
        Subquery(queryset.order_by().values(total=Func(F(field), function="SUM")).values("total")[:1]),
        0,
        output_field=BigIntegerField(),
    )


def _stored(account_id: str) -> dict:
    """The stored bytes' two parts as expressions: each blob the account's repositories
    link, once, and their manifests."""
    linked = RepositoryBlob.objects.filter(repository__account_id=account_id).values("blob_id")
    return {
        "blob_bytes": _total(Blob.objects.filter(digest__in=linked), "size"),
        "manifest_bytes": _total(Manifest.objects.filter(repository__account_id=account_id), "size"),
    }


def stored_bytes(account_id: str) -> int:
    """What the storage quota counts: each blob the account's repositories link once,
    however many link it, and their manifests (usage's `referenced` figure). One query."""
    row = Account.objects.filter(pk=account_id).values(**_stored(account_id)).first()
    return row["blob_bytes"] + row["manifest_bytes"] if row else 0


def check_blob(*, repository: Repository, digest: str, size: int) -> None:
    """Raise QuotaExceeded when linking blob ``digest`` of ``size`` bytes to
    ``repository`` would take its account past its storage quota; a blob another of
    the account's repositories links already adds nothing. Without a limit, one query.

    With one, the account's running figure (AccountQuota.stored_bytes_counted) is
    read under its row's lock and the blob's size added to it: four queries however
    much the account holds. The figure is counted again exactly (stored_bytes)
    before a refusal, and when older than RECOUNT_AFTER: a refusal is always the
    exact figure's (see the module's docstring)."""
    account_id = repository.account_id
    limit = quotas.limits_of(account_id).storage_bytes
    if limit is None:
        return
    if RepositoryBlob.objects.filter(repository__account_id=account_id, blob_id=digest).exists():
        return
    now = timezone.now()
    with transaction.atomic():
        figure, _ = AccountQuota.objects.select_for_update().get_or_create(account_id=account_id)
        current, counted_at = figure.stored_bytes_counted, figure.counted_at
        if current is None or counted_at is None or counted_at < now - RECOUNT_AFTER or current + size > limit:
            current, counted_at = stored_bytes(account_id), now
        admitted = current + size <= limit
        AccountQuota.objects.filter(pk=account_id).update(
            stored_bytes_counted=current + size if admitted else current, counted_at=counted_at
        )
    if not admitted:
        raise QuotaExceeded(
            quota=quotas.STORAGE_BYTES, limit=limit, current=current, adding=size, account_id=account_id
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
    """Each quota of the account with what it uses now, in one query."""
    fullest = (
        Manifest.objects.filter(repository__account_id=account_id)
        .values("repository_id")
        .annotate(images=Count("id"))
        .order_by("-images", "repository__name")
    )
    row = (
        Account.objects.filter(pk=account_id)
        .values(
            own_storage_bytes=F("quota__storage_bytes"),
            own_repositories=F("quota__repositories"),
            own_images_per_repository=F("quota__images_per_repository"),
            repository_count=Coalesce(
                Subquery(
                    Repository.objects.filter(account_id=account_id)
                    .order_by()
                    .values(count=Func(F("id"), function="COUNT"))
                    .values("count")[:1]
                ),
                0,
            ),
            fullest_images=Coalesce(Subquery(fullest.values("images")[:1]), 0),
            fullest_name=Subquery(fullest.values("repository__name")[:1]),
            **_stored(account_id),
        )
        .first()
    )
    if row is None:
        return []
    limits = quotas.resolve(
        storage_bytes=row["own_storage_bytes"],
        repositories=row["own_repositories"],
        images_per_repository=row["own_images_per_repository"],
    )
    return [
        QuotaFigure(quotas.STORAGE_BYTES, limits.storage_bytes, row["blob_bytes"] + row["manifest_bytes"]),
        QuotaFigure(quotas.REPOSITORIES, limits.repositories, row["repository_count"]),
        QuotaFigure(
            quotas.IMAGES_PER_REPOSITORY, limits.images_per_repository, row["fullest_images"], row["fullest_name"]
        ),
    ]
