"""Every write to repositories and their settings."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.accounts import notices
from apps.accounts.models import Account
from apps.audit import services as audit_services
from apps.audit.events import Actor
from apps.events import outbox
from apps.events.names import REPOSITORY_CHANGED, REPOSITORY_CREATED
from apps.kernel.errors import DomainError
from apps.kernel.keyring import get_key_ring
from apps.kernel.requests import RequestContext

from .models import (
    KMS_KEY_MAX_LENGTH,
    REPOSITORY_NAME_MAX_LENGTH,
    REPOSITORY_NAME_PATTERN,
    RESOURCE_TAG_KEY_MAX_LENGTH,
    RESOURCE_TAG_PATTERN,
    RESOURCE_TAG_VALUE_MAX_LENGTH,
    RESOURCE_TAGS_PER_REPOSITORY,
    Repository,
    RepositoryEncryption,
    RepositoryTag,
    TagMutability,
    Visibility,
)
from .mutability import validate_tag_mutability
from .quotas import check_repository_quota

_NAME = re.compile(REPOSITORY_NAME_PATTERN)
_RESOURCE_TAG = re.compile(RESOURCE_TAG_PATTERN)


class RepositoryNameInvalid(DomainError, ValueError):
    pass


class RepositoryExists(ValueError):
    pass


class RepositoryNotEmpty(ValueError):
    pass


class EncryptionConfigurationInvalid(DomainError, ValueError):
    """An encryption setting Berth cannot give a repository (ECR's
    InvalidParameterException / KmsException)."""


_KMS_KEY = re.compile(r"^[A-Za-z0-9:/_.+=,@-]+$")


def validate_encryption(encryption_type: str | None, kms_key: str | None = "") -> tuple[str, str]:
    """The (type, key) a new repository gets: ``encryption_type`` None takes
    BERTH_DEFAULT_ENCRYPTION. KMS needs a key (on the filesystem store, one of
    Berth's key ring), the others take none."""
    kms_key = (kms_key or "").strip()
    if encryption_type is None:
        encryption_type = settings.BERTH_DEFAULT_ENCRYPTION
    if encryption_type == "KMS_DSSE":
        raise EncryptionConfigurationInvalid(
            "encryption type KMS_DSSE (dual-layer) is not supported by Berth: use AES256 or KMS"
        )
    if encryption_type not in RepositoryEncryption.values:
        raise EncryptionConfigurationInvalid(
            f"unknown encryption type {str(encryption_type)[:50]!r}: use AES256 or KMS (or none)"
        )
    if encryption_type != RepositoryEncryption.KMS:
        if kms_key:
            raise EncryptionConfigurationInvalid("a KMS key is only given with encryption type KMS")
        return encryption_type, ""
    if not kms_key:
        raise EncryptionConfigurationInvalid("encryption type KMS needs a KMS key")
    if len(kms_key) > KMS_KEY_MAX_LENGTH or not _KMS_KEY.fullmatch(kms_key):
        raise EncryptionConfigurationInvalid(f"invalid KMS key {kms_key[:100]!r}")
    if settings.BLOB_STORAGE == "filesystem" and not get_key_ring().has(kms_key):
        raise EncryptionConfigurationInvalid(
            f"Berth's key ring holds no key named {kms_key[:100]!r}: an operator creates it with "
            f"`berth keys create {kms_key[:100]}`"
        )
    return encryption_type, kms_key


def encryption_configuration(repository: Repository) -> dict | None:
    """ECR's encryptionConfiguration of a repository; None when it is not encrypted."""
    if not repository.encryption_type:
        return None
    configuration = {"encryptionType": repository.encryption_type}
    if repository.kms_key:
        configuration["kmsKey"] = repository.kms_key
    return configuration


class ResourceTagsInvalid(ValueError):
    def __init__(self, message: str, *, code: str = "invalid") -> None:
        super().__init__(message)
        self.code = code


class TooManyResourceTags(ResourceTagsInvalid):
    """More tags than a repository may have (ECR's TooManyTagsException)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="max_length")


def validate_repository_name(name: str) -> None:
    if not name or len(name) > REPOSITORY_NAME_MAX_LENGTH or not _NAME.fullmatch(name):
        raise RepositoryNameInvalid(
            f"invalid repository name {name[:300]!r}: use lowercase letters, digits and separators "
            f"(., _, __, -), path components joined by '/', at most {REPOSITORY_NAME_MAX_LENGTH} characters"
        )


def validate_resource_tags(tags: Mapping[str, str]) -> None:
    if len(tags) > RESOURCE_TAGS_PER_REPOSITORY:
        raise TooManyResourceTags(f"a repository has at most {RESOURCE_TAGS_PER_REPOSITORY} tags")
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


def event_fields(repository: Repository) -> dict:
    """What every domain event of a repository, or of its content, says of the repository."""
    return {"repositoryId": repository.pk, "accountId": repository.account_id, "repository": repository.name}


def _publish_created(repository: Repository, *, creation_template: str | None = None) -> None:
    """repository.created; ``creationTemplate`` (the prefix) when a repository creation
    template gave its settings, so that the apps owning the rest of them (the
    lifecycle policy) apply theirs."""
    payload = {**event_fields(repository), "visibility": repository.visibility}
    if creation_template is not None:
        payload["creationTemplate"] = creation_template
    outbox.publish(REPOSITORY_CREATED, payload)


def publish_changed(repository: Repository, changed: Sequence[str]) -> None:
    """repository.changed, ``changed`` naming what did as the management API does."""
    outbox.publish(REPOSITORY_CHANGED, {**event_fields(repository), "changed": list(changed)})


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
    creation_template: str | None = None,
    encryption_type: str | None = None,
    kms_key: str = "",
    actor: Actor,
    context: RequestContext | None = None,
) -> Repository:
    """Amazon ECR's CreateRepository, recorded in the audit trail. ``creation_template``:
    the prefix of the repository creation template whose settings these are
    (apps.replication.creation), told to repository.created's subscribers.
    ``encryption_type`` ("", "AES256", "KMS" with ``kms_key``; None: the default)
    is the repository's for good."""
    validate_repository_name(name)
    encryption_type, kms_key = validate_encryption(encryption_type, kms_key)
    if visibility not in Visibility.values:
        raise ValueError(f"visibility must be one of {', '.join(Visibility.values)}")
    filters = validate_tag_mutability(image_tag_mutability, image_tag_mutability_exclusion_filters)
    validate_resource_tags(resource_tags or {})
    try:
        with transaction.atomic():
            check_repository_quota(account.pk, name=name)
            repository = Repository.objects.create(
                account=account,
                name=name,
                visibility=visibility,
                image_tag_mutability=image_tag_mutability,
                image_tag_mutability_exclusion_filters=filters,
                scan_on_push=scan_on_push,
                encryption_type=encryption_type,
                kms_key=kms_key,
            )
            _replace_resource_tags(repository, resource_tags or {})
            _publish_created(repository, creation_template=creation_template)
            audit_services.record_change(
                actor=actor,
                context=context,
                event_name="CreateRepository",
                recipient_account_id=account.pk,
                repository=name,
                request_parameters={
                    "registryId": account.pk,
                    "repositoryName": name,
                    "visibility": visibility,
                    "imageTagMutability": image_tag_mutability,
                    "imageTagMutabilityExclusionFilters": list(filters) or None,
                    "imageScanningConfiguration": {"scanOnPush": scan_on_push},
                    "tags": dict(resource_tags) if resource_tags else None,
                    "encryptionConfiguration": encryption_configuration(repository),
                },
            )
            return repository
    except IntegrityError as exc:
        raise RepositoryExists(f"repository {account.id}/{name} already exists") from exc


def get_or_create_on_push(*, account: Account, name: str) -> Repository:
    """The repository a member's push creates when the account allows it; safe under races."""
    validate_repository_name(name)
    with transaction.atomic():
        check_repository_quota(account.pk, name=name)
        repository, created = Repository.objects.get_or_create(
            account=account, name=name, defaults={"encryption_type": settings.BERTH_DEFAULT_ENCRYPTION}
        )
        if created:
            _publish_created(repository)
    return repository


def put_image_tag_mutability(
    *,
    repository: Repository,
    image_tag_mutability: str,
    image_tag_mutability_exclusion_filters: Sequence[str] = (),
    actor: Actor,
    context: RequestContext | None = None,
) -> Repository:
    """Amazon ECR's PutImageTagMutability: the setting replaces the previous one whole
    (the same setting again is recorded too: the request succeeded)."""
    filters = validate_tag_mutability(image_tag_mutability, image_tag_mutability_exclusion_filters)
    repository.image_tag_mutability = image_tag_mutability
    repository.image_tag_mutability_exclusion_filters = filters
    with transaction.atomic():
        repository.save(update_fields=["image_tag_mutability", "image_tag_mutability_exclusion_filters", "updated_at"])
        publish_changed(repository, ["imageTagMutability"])
        audit_services.record_change(
            actor=actor,
            context=context,
            event_name="PutImageTagMutability",
            recipient_account_id=repository.account_id,
            repository=repository.name,
            request_parameters={
                "registryId": repository.account_id,
                "repositoryName": repository.name,
                "imageTagMutability": image_tag_mutability,
                "imageTagMutabilityExclusionFilters": list(filters) or None,
            },
        )
    return repository


def put_image_scanning_configuration(
    *, repository: Repository, scan_on_push: bool, actor: Actor, context: RequestContext | None = None
) -> Repository:
    """Amazon ECR's PutImageScanningConfiguration: the repository's scan-on-push setting."""
    repository.scan_on_push = scan_on_push
    with transaction.atomic():
        repository.save(update_fields=["scan_on_push", "updated_at"])
        publish_changed(repository, ["scanOnPush"])
        audit_services.record_change(
            actor=actor,
            context=context,
            event_name="PutImageScanningConfiguration",
            recipient_account_id=repository.account_id,
            repository=repository.name,
            request_parameters={
                "registryId": repository.account_id,
                "repositoryName": repository.name,
                "imageScanningConfiguration": {"scanOnPush": scan_on_push},
            },
        )
    return repository


def _change_resource_tags(
    event_name: str,
    repository: Repository,
    *,
    set_tags: Mapping[str, str],
    remove_keys: Sequence[str],
    actor: Actor,
    context: RequestContext | None,
    parameters: dict,
) -> dict[str, str]:
    with transaction.atomic():
        # One writer at a time: two changes must not interleave into more tags than allowed.
        Repository.objects.select_for_update().filter(pk=repository.pk).first()
        current = dict(RepositoryTag.objects.filter(repository=repository).values_list("key", "value"))
        merged = {key: value for key, value in current.items() if key not in remove_keys} | dict(set_tags)
        validate_resource_tags(merged)
        _replace_resource_tags(repository, merged)
        repository.save(update_fields=["updated_at"])
        publish_changed(repository, ["resourceTags"])
        audit_services.record_change(
            actor=actor,
            context=context,
            event_name=event_name,
            recipient_account_id=repository.account_id,
            repository=repository.name,
            request_parameters={"registryId": repository.account_id, "repositoryName": repository.name, **parameters},
        )
    return merged


def tag_resource(
    *, repository: Repository, tags: Mapping[str, str], actor: Actor, context: RequestContext | None = None
) -> dict[str, str]:
    """Amazon ECR's TagResource: adds ``tags`` (a key given again takes the new value);
    the others stay. Returns the repository's tags."""
    return _change_resource_tags(
        "TagResource",
        repository,
        set_tags=tags,
        remove_keys=(),
        actor=actor,
        context=context,
        parameters={"tags": dict(tags)},
    )


def untag_resource(
    *, repository: Repository, keys: Sequence[str], actor: Actor, context: RequestContext | None = None
) -> dict[str, str]:
    """Amazon ECR's UntagResource: removes the tags ``keys`` name (a key the
    repository lacks is no error). Returns the repository's tags."""
    return _change_resource_tags(
        "UntagResource",
        repository,
        set_tags={},
        remove_keys=list(keys),
        actor=actor,
        context=context,
        parameters={"tagKeys": list(keys)},
    )


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
    changed = []
    if visibility is not None:
        if visibility not in Visibility.values:
            raise ValueError(f"visibility must be one of {', '.join(Visibility.values)}")
        repository.visibility = visibility
        fields.append("visibility")
        changed.append("visibility")
    if image_tag_mutability is not None or image_tag_mutability_exclusion_filters is not None:
        mutability = image_tag_mutability or repository.image_tag_mutability
        filters = image_tag_mutability_exclusion_filters
        if filters is None:
            filters = repository.image_tag_mutability_exclusion_filters if image_tag_mutability is None else []
        repository.image_tag_mutability_exclusion_filters = validate_tag_mutability(mutability, filters)
        repository.image_tag_mutability = mutability
        fields += ["image_tag_mutability", "image_tag_mutability_exclusion_filters"]
        changed.append("imageTagMutability")
    if scan_on_push is not None:
        repository.scan_on_push = scan_on_push
        fields.append("scan_on_push")
        changed.append("scanOnPush")
    if resource_tags is not None:
        validate_resource_tags(resource_tags)
        changed.append("resourceTags")
    with transaction.atomic():
        # One writer at a time: two tag replacements must not interleave into a mix of both.
        Repository.objects.select_for_update().filter(pk=repository.pk).first()
        repository.save(update_fields=fields)
        if resource_tags is not None:
            _replace_resource_tags(repository, resource_tags)
        publish_changed(repository, changed)
        if changed:  # an update that names no setting is a read (the API authorizes it as one)
            audit_services.record_change(
                actor=actor,
                context=context,
                event_name="UpdateRepository",
                event_source="berth",
                recipient_account_id=repository.account_id,
                repository=repository.name,
                request_parameters={
                    "registryId": repository.account_id,
                    "repositoryName": repository.name,
                    "visibility": visibility,
                    "imageTagMutability": image_tag_mutability,
                    "imageTagMutabilityExclusionFilters": image_tag_mutability_exclusion_filters,
                    "scanOnPush": scan_on_push,
                    "tags": dict(resource_tags) if resource_tags is not None else None,
                },
            )
    return repository


# -- staff: taking a public repository down ---------------------------------------------


class RepositoryNotPublic(ValueError):
    pass


def _record_takedown_step(
    event_name: str, repository: Repository, *, actor: Actor, context: RequestContext | None, **parameters
) -> None:
    audit_services.record_change(
        actor=actor,
        context=context,
        event_name=event_name,
        event_source="berth",
        recipient_account_id=repository.account_id,
        repository=repository.name,
        request_parameters={"registryId": repository.account_id, "repositoryName": repository.name, **parameters},
        response_elements={"takenDownAt": repository.taken_down_at.isoformat() if repository.taken_down_at else None},
    )


def take_down_repository(
    *,
    repository: Repository,
    reason: str,
    actor: Actor,
    context: RequestContext | None = None,
    site_url: str | None = None,
) -> Repository:
    """Staff take a public repository down (malware, a trademark, a court order): it
    leaves the gallery, the public catalog and anonymous pulls, and nobody outside
    its account may pull it (apps.iam.enforcement's public rule, the selectors that
    list public repositories). Its account keeps every right on it and nothing is
    deleted; restore_repository undoes it. The owner is mailed the reason (links to
    ``site_url``). Taking down a repository that is down keeps its first time and
    reason. Raises ValueError without a reason, RepositoryNotPublic for a private one."""
    reason = reason.strip()
    if not reason:
        raise ValueError("say why the repository is taken down: its owner is told")
    with transaction.atomic():
        locked = Repository.objects.select_for_update().get(pk=repository.pk)
        if not locked.is_public and not locked.is_taken_down:
            raise RepositoryNotPublic(f"{locked} is private: only a public repository is taken down")
        if not locked.is_taken_down:
            locked.taken_down_at, locked.takedown_reason = timezone.now(), reason
            locked.save(update_fields=["taken_down_at", "takedown_reason", "updated_at"])
            publish_changed(locked, ["takenDown"])
            notices.mail_owner(
                account_id=locked.account_id, notice="repository_taken_down", site_url=site_url,
                repository_name=locked.name, reason=reason,
            )  # fmt: skip
        repository.taken_down_at, repository.takedown_reason = locked.taken_down_at, locked.takedown_reason
        _record_takedown_step("TakeDownRepository", locked, actor=actor, context=context, reason=reason)
    return repository


def restore_repository(
    *, repository: Repository, actor: Actor, context: RequestContext | None = None, site_url: str | None = None
) -> Repository:
    """Staff undo a take-down: the repository is public again as it was (gallery,
    pulls). The owner is mailed."""
    with transaction.atomic():
        locked = Repository.objects.select_for_update().get(pk=repository.pk)
        if locked.is_taken_down:
            locked.taken_down_at, locked.takedown_reason = None, ""
            locked.save(update_fields=["taken_down_at", "takedown_reason", "updated_at"])
            publish_changed(locked, ["takenDown"])
            notices.mail_owner(
                account_id=locked.account_id, notice="repository_restored", site_url=site_url,
                repository_name=locked.name, public=locked.is_public,
            )  # fmt: skip
        repository.taken_down_at, repository.takedown_reason = None, ""
        _record_takedown_step("RestoreRepository", locked, actor=actor, context=context)
    return repository
