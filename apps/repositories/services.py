"""Every write to repositories and their settings."""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from django.db import IntegrityError, transaction

from apps.accounts.models import Account
from apps.audit import services as audit_services
from apps.audit.events import Actor
from apps.kernel.requests import RequestContext

from .models import (
    REPOSITORY_NAME_MAX_LENGTH,
    REPOSITORY_NAME_PATTERN,
    RESOURCE_TAG_KEY_MAX_LENGTH,
    RESOURCE_TAG_PATTERN,
    RESOURCE_TAG_VALUE_MAX_LENGTH,
    RESOURCE_TAGS_PER_REPOSITORY,
    Repository,
    RepositoryTag,
    TagMutability,
    Visibility,
)
from .mutability import validate_tag_mutability

_NAME = re.compile(REPOSITORY_NAME_PATTERN)
_RESOURCE_TAG = re.compile(RESOURCE_TAG_PATTERN)


class RepositoryNameInvalid(ValueError):
    pass


class RepositoryExists(ValueError):
    pass


class RepositoryNotEmpty(ValueError):
    pass


class ResourceTagsInvalid(ValueError):
    def __init__(self, message: str, *, code: str = "invalid") -> None:
        super().__init__(message)
        self.code = code


def validate_repository_name(name: str) -> None:
    if not name or len(name) > REPOSITORY_NAME_MAX_LENGTH or not _NAME.fullmatch(name):
        raise RepositoryNameInvalid(
            f"invalid repository name {name[:300]!r}: use lowercase letters, digits and separators "
            f"(., _, __, -), path components joined by '/', at most {REPOSITORY_NAME_MAX_LENGTH} characters"
        )


def validate_resource_tags(tags: Mapping[str, str]) -> None:
    if len(tags) > RESOURCE_TAGS_PER_REPOSITORY:
        raise ResourceTagsInvalid(
            f"a repository has at most {RESOURCE_TAGS_PER_REPOSITORY} tags", code="max_length"
        )
    for key, value in tags.items():
        if not key or len(key) > RESOURCE_TAG_KEY_MAX_LENGTH or not _RESOURCE_TAG.fullmatch(key):
            raise ResourceTagsInvalid(
                f"invalid tag key {key[:200]!r}: 1 to {RESOURCE_TAG_KEY_MAX_LENGTH} letters, digits, spaces "
                "and _ . : / = + - @"
            )
        if len(value) > RESOURCE_TAG_VALUE_MAX_LENGTH or not _RESOURCE_TAG.fullmatch(value):
            raise ResourceTagsInvalid(
                f"invalid value of tag {key!r}: at most {RESOURCE_TAG_VALUE_MAX_LENGTH} letters, digits, spaces "
                "and _ . : / = + - @"
            )


def _replace_resource_tags(repository: Repository, tags: Mapping[str, str]) -> None:
    RepositoryTag.objects.filter(repository=repository).delete()
    RepositoryTag.objects.bulk_create(
        [RepositoryTag(repository=repository, key=key, value=value) for key, value in tags.items()]
    )


def create_repository(
    *,
    account: Account,
    name: str,
    visibility: str = Visibility.PRIVATE,
    image_tag_mutability: str = TagMutability.MUTABLE,
    image_tag_mutability_exclusion_filters: Sequence[str] = (),
    scan_on_push: bool = False,
    resource_tags: Mapping[str, str] | None = None,
) -> Repository:
    validate_repository_name(name)
    if visibility not in Visibility.values:
        raise ValueError(f"visibility must be one of {', '.join(Visibility.values)}")
    filters = validate_tag_mutability(image_tag_mutability, image_tag_mutability_exclusion_filters)
    validate_resource_tags(resource_tags or {})
    try:
        with transaction.atomic():
            repository = Repository.objects.create(
                account=account,
                name=name,
                visibility=visibility,
                image_tag_mutability=image_tag_mutability,
                image_tag_mutability_exclusion_filters=filters,
                scan_on_push=scan_on_push,
            )
            _replace_resource_tags(repository, resource_tags or {})
            return repository
    except IntegrityError as exc:
        raise RepositoryExists(f"repository {account.id}/{name} already exists") from exc


def get_or_create_on_push(*, account: Account, name: str) -> Repository:
    """The repository a member's push creates when the account allows it; safe under races."""
    validate_repository_name(name)
    repository, _ = Repository.objects.get_or_create(account=account, name=name)
    return repository


def put_image_tag_mutability(
    *, repository: Repository, image_tag_mutability: str, image_tag_mutability_exclusion_filters: Sequence[str] = ()
) -> Repository:
    """Amazon ECR's PutImageTagMutability: the setting replaces the previous one whole."""
    filters = validate_tag_mutability(image_tag_mutability, image_tag_mutability_exclusion_filters)
    repository.image_tag_mutability = image_tag_mutability
    repository.image_tag_mutability_exclusion_filters = filters
    repository.save(update_fields=["image_tag_mutability", "image_tag_mutability_exclusion_filters", "updated_at"])
    return repository


def update_repository(
    *,
    repository: Repository,
    visibility: str | None = None,
    image_tag_mutability: str | None = None,
    image_tag_mutability_exclusion_filters: Sequence[str] | None = None,
    scan_on_push: bool | None = None,
    resource_tags: Mapping[str, str] | None = None,
    actor: Actor,
    context: RequestContext | None = None,
) -> Repository:
    """Change the settings given (None leaves one as it is); tags, when given, replace all tags.

    Filters given alone apply to the current mutability setting; a setting given
    alone drops filters it cannot have. A change is recorded in the audit trail
    (Berth's UpdateRepository, unless the request that asked for it named it)."""
    fields = ["updated_at"]
    if visibility is not None:
        if visibility not in Visibility.values:
            raise ValueError(f"visibility must be one of {', '.join(Visibility.values)}")
        repository.visibility = visibility
        fields.append("visibility")
    if image_tag_mutability is not None or image_tag_mutability_exclusion_filters is not None:
        mutability = image_tag_mutability or repository.image_tag_mutability
        filters = image_tag_mutability_exclusion_filters
        if filters is None:
            filters = repository.image_tag_mutability_exclusion_filters if image_tag_mutability is None else []
        repository.image_tag_mutability_exclusion_filters = validate_tag_mutability(mutability, filters)
        repository.image_tag_mutability = mutability
        fields += ["image_tag_mutability", "image_tag_mutability_exclusion_filters"]
    if scan_on_push is not None:
        repository.scan_on_push = scan_on_push
        fields.append("scan_on_push")
    if resource_tags is not None:
        validate_resource_tags(resource_tags)
    with transaction.atomic():
        # One writer at a time: two tag replacements must not interleave into a mix of both.
        Repository.objects.select_for_update().filter(pk=repository.pk).first()
        repository.save(update_fields=fields)
        if resource_tags is not None:
            _replace_resource_tags(repository, resource_tags)
        if len(fields) > 1 or resource_tags is not None:
            audit_services.record_change(
                actor=actor, context=context, event_name="UpdateRepository", event_source="berth",
                recipient_account_id=repository.account_id, repository=repository.name,
                request_parameters={
                    "registryId": repository.account_id, "repositoryName": repository.name, "visibility": visibility,
                    "imageTagMutability": image_tag_mutability,
                    "imageTagMutabilityExclusionFilters": image_tag_mutability_exclusion_filters,
                    "scanOnPush": scan_on_push, "tags": dict(resource_tags) if resource_tags is not None else None,
                },
            )
    return repository


def delete_repository(*, repository: Repository, force: bool = False) -> None:
    """Amazon ECR's DeleteRepository: refuses a repository that holds images unless
    ``force``, which deletes them with it."""
    from apps.registry.models import Manifest, ManifestChild, Upload
    from apps.registry.services import upload_area

    with transaction.atomic():
        # Locked first, so a push that is storing a manifest now either lands before
        # the check sees it or waits and then fails: never a deleted repository's image.
        locked = Repository.objects.select_for_update().filter(pk=repository.pk).first()
        if locked is None:
            return
        manifest_count = Manifest.objects.filter(repository=locked).count()
        if manifest_count and not force:
            raise RepositoryNotEmpty(
                f"repository {locked.account_id}/{locked.name} is not empty ({manifest_count} manifests); "
                "delete its images first, or delete it with force"
            )
        upload_ids = [str(u) for u in Upload.objects.filter(repository=locked).values_list("id", flat=True)]
        # An index protects its entries from deletion; here both go.
        ManifestChild.objects.filter(parent__repository=locked).delete()
        Manifest.objects.filter(repository=locked).delete()
        locked.delete()

        def discard_spooled_uploads() -> None:
            area = upload_area()
            for upload_id in upload_ids:
                area.discard(upload_id)

        transaction.on_commit(discard_spooled_uploads)
