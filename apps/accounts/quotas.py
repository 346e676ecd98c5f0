"""Per-account quotas (docs/quotas.md), as Amazon ECR's service quotas: the stored
bytes of an account, its repositories, and the images (manifests) of each of its
repositories. Staff set them per account (AccountQuota, in the admin); an account
without its own figure has the deployment's default (settings BERTH_QUOTA_*); 0 is
unlimited.

This module says what the limits are and how a refusal reads; the floors that own
what is counted enforce them: repositories at creation (apps.repositories.services),
stored bytes and images on push (apps.registry.quotas)."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from apps.kernel.errors import DomainError
from apps.kernel.sizes import binary_size

from .models import AccountQuota

STORAGE_BYTES = "storageBytes"
REPOSITORIES = "repositories"
IMAGES_PER_REPOSITORY = "imagesPerRepository"
# How a refusal, the console and `berth usage` name each quota.
LABELS = {
    STORAGE_BYTES: "storage bytes",
    REPOSITORIES: "repositories",
    IMAGES_PER_REPOSITORY: "images per repository",
}


class QuotaExceeded(DomainError):
    """A push or a creation would take the account past one of its quotas: ``quota``
    (a key of LABELS), its ``limit`` and the ``current`` figure; ``adding`` what the
    refused request would add (a blob's size; 1 repository or image)."""

    def __init__(
        self, *, quota: str, limit: int, current: int, account_id: str, adding: int = 1, repository: str = ""
    ) -> None:
        self.quota = quota
        self.limit = limit
        self.current = current
        self.adding = adding
        self.account_id = account_id
        self.repository = repository

        def human_size(value: int) -> str:
            return binary_size(value).replace("\xa0", " ")

        if quota == STORAGE_BYTES:
            figures = (
                f"limit {limit} bytes ({human_size(limit)}), current {current} bytes ({human_size(current)}), "
                f"this blob {adding} bytes"
            )
        else:
            figures = f"limit {limit}, current {current}"
        where = f"repository {account_id}/{repository}" if repository else f"account {account_id}"
        super().__init__(
            f"quota exceeded: {LABELS[quota]} of {where}: {figures}; delete what is no longer needed "
            "or ask the registry's operator for a higher quota"
        )


@dataclass(frozen=True)
class Limits:
    """An account's limits in force; None is unlimited."""

    storage_bytes: int | None
    repositories: int | None
    images_per_repository: int | None

    def of(self, quota: str) -> int | None:
        return {
            STORAGE_BYTES: self.storage_bytes,
            REPOSITORIES: self.repositories,
            IMAGES_PER_REPOSITORY: self.images_per_repository,
        }[quota]


def _in_force(own: int | None, default: int) -> int | None:
    value = default if own is None else own
    return value or None


def resolve(*, storage_bytes: int | None, repositories: int | None, images_per_repository: int | None) -> Limits:
    """The limits in force given an account's own figures (None: not set)."""
    return Limits(
        storage_bytes=_in_force(storage_bytes, settings.BERTH_QUOTA_STORAGE_BYTES),
        repositories=_in_force(repositories, settings.BERTH_QUOTA_REPOSITORIES),
        images_per_repository=_in_force(images_per_repository, settings.BERTH_QUOTA_IMAGES_PER_REPOSITORY),
    )


def limits_of(account_id: str) -> Limits:
    """The account's limits: its own where staff set one, else the defaults. One query."""
    own = AccountQuota.objects.filter(account_id=account_id).first() or AccountQuota(account_id=account_id)
    return resolve(
        storage_bytes=own.storage_bytes,
        repositories=own.repositories,
        images_per_repository=own.images_per_repository,
    )
