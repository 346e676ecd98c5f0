"""Every write to repository creation templates (Amazon ECR's
CreateRepositoryCreationTemplate, UpdateRepositoryCreationTemplate,
DeleteRepositoryCreationTemplate): the settings replication and the pull-through
cache give the repositories they create (apps.replication.creation applies them).

Where the policy texts are validated, and why here. A template's repository policy
is an IAM policy (apps.iam, floor 5) and its lifecycle policy ECR's lifecycle
language (apps.lifecycle, floor 7); templates belong to repositories (floor 4),
which may import neither, and no app below the surfaces may import both (iam and
lifecycle sit on different floors, replication beside lifecycle). Rather than
trust every caller (the API, the staff console, a test) to validate first, the
apps that own the languages register their validators here from their
``AppConfig.ready()`` (apps.iam.apps, apps.lifecycle.apps), as subscribers
register for events: the hook points down, the floors stay as they are, and a
template's policy is validated on every write whoever calls. A policy text for
which no validator is registered is refused, never stored unchecked."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence

from django.db import IntegrityError, transaction

from apps.accounts.models import Account
from apps.audit import services as audit_services
from apps.audit.events import Actor
from apps.kernel.errors import DomainError
from apps.kernel.requests import RequestContext

from .models import (
    TEMPLATE_DESCRIPTION_MAX_LENGTH,
    TEMPLATE_PREFIX_MAX_LENGTH,
    TEMPLATE_PREFIX_PATTERN,
    AppliedFor,
    EncryptionType,
    RepositoryCreationTemplate,
    TagMutability,
)
from .mutability import TagMutabilityInvalid, validate_tag_mutability
from .services import EncryptionConfigurationInvalid, ResourceTagsInvalid, validate_encryption, validate_resource_tags

REPOSITORY_POLICY = "repositoryPolicy"
LIFECYCLE_POLICY = "lifecyclePolicy"
KMS_REFUSAL = "encryptionType KMS_DSSE (dual-layer) is not supported by Berth: use AES256 or KMS with a kmsKey"

_PREFIX = re.compile(TEMPLATE_PREFIX_PATTERN)


class CreationTemplateInvalid(DomainError):
    """A template refused on save; ``field`` is the request field at fault (ECR's name)."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


class CreationTemplateExists(DomainError):
    """ECR's TemplateAlreadyExistsException."""

    def __init__(self, account_id: str, prefix: str) -> None:
        self.account_id = account_id
        self.prefix = prefix
        super().__init__(f"registry {account_id} already has a repository creation template for prefix {prefix}")


class CreationTemplateNotFound(DomainError):
    """ECR's TemplateNotFoundException."""

    def __init__(self, account_id: str, prefix: str) -> None:
        self.account_id = account_id
        self.prefix = prefix
        super().__init__(f"registry {account_id} has no repository creation template for prefix {prefix[:300]}")


# -- the validators of the policy languages -----------------------------------------

# A validator takes the policy text and the account the template belongs to, and
# raises (a DomainError or a ValueError) with a message naming what is wrong.
PolicyValidator = Callable[[str, str], object]
_validators: dict[str, PolicyValidator] = {}


def register_policy_validator(field: str, validator: PolicyValidator) -> None:
    """Called from the ``ready()`` of the app that owns the language of ``field``."""
    if field not in (REPOSITORY_POLICY, LIFECYCLE_POLICY):
        raise ValueError(f"templates hold no policy named {field!r}")
    _validators[field] = validator


def _validate_policy(field: str, text: str, account_id: str) -> str:
    if not text:
        return ""
    validator = _validators.get(field)
    if validator is None:
        raise CreationTemplateInvalid(field, f"{field} cannot be validated here: its app registered no validator")
    try:
        validator(text, account_id)
    except (DomainError, ValueError) as error:
        raise CreationTemplateInvalid(field, f"invalid {field}: {error}") from None
    return text


# -- the other settings -------------------------------------------------------------


def normalize_prefix(prefix: str) -> str:
    """ECR assumes a `/` at the end of a prefix; it is not stored (`prod/` is `prod`)."""
    return prefix.removesuffix("/") if prefix != "/" else prefix


def validate_prefix(prefix: str) -> str:
    normalized = normalize_prefix(prefix) if isinstance(prefix, str) else ""
    if len(normalized) > TEMPLATE_PREFIX_MAX_LENGTH or not _PREFIX.fullmatch(normalized):
        raise CreationTemplateInvalid(
            "prefix",
            f"invalid prefix {str(prefix)[:300]!r}: ROOT (every repository) or a repository namespace such as "
            f"prod or prod/team (lowercase letters, digits, separators . _ __ -, at most "
            f"{TEMPLATE_PREFIX_MAX_LENGTH} characters)",
        )
    return normalized


def _applied_for(values: Iterable[str]) -> list[str]:
    values = list(values)
    unknown = sorted({str(value) for value in values} - set(AppliedFor.values))
    if unknown or not values:
        raise CreationTemplateInvalid(
            "appliedFor",
            f"appliedFor lists one or both of {', '.join(AppliedFor.values)}"
            + (f", not {', '.join(unknown)}" if unknown else ""),
        )
    return [value for value in AppliedFor.values if value in values]


def _encryption(encryption: Mapping | None) -> tuple[str, str]:
    """(type, KMS key) of a template's encryptionConfiguration: AES256 when left out."""
    if not encryption:
        return EncryptionType.AES256, ""
    encryption_type = encryption.get("encryptionType")
    if encryption_type == "KMS_DSSE":
        raise CreationTemplateInvalid("encryptionConfiguration", KMS_REFUSAL)
    if encryption_type not in EncryptionType.values:
        raise CreationTemplateInvalid(
            "encryptionConfiguration", f"encryptionType must be AES256 or KMS, not {str(encryption_type)[:50]!r}"
        )
    try:
        return validate_encryption(encryption_type, encryption.get("kmsKey") or "")
    except EncryptionConfigurationInvalid as exc:
        raise CreationTemplateInvalid("encryptionConfiguration", exc.message) from None


def template_encryption(template: RepositoryCreationTemplate) -> dict:
    configuration = {"encryptionType": template.encryption_type}
    if template.kms_key:
        configuration["kmsKey"] = template.kms_key
    return configuration


def _description(description: str) -> str:
    if len(description) > TEMPLATE_DESCRIPTION_MAX_LENGTH:
        raise CreationTemplateInvalid(
            "description", f"a description holds at most {TEMPLATE_DESCRIPTION_MAX_LENGTH} characters"
        )
    return description


def _mutability(mutability: str, exclusion_filters: Sequence[str]) -> list[str]:
    try:
        return validate_tag_mutability(mutability, list(exclusion_filters))
    except TagMutabilityInvalid as error:
        raise CreationTemplateInvalid("imageTagMutability", str(error)) from None


def _resource_tags(tags: Mapping[str, str]) -> dict[str, str]:
    try:
        validate_resource_tags(tags)
    except ResourceTagsInvalid as error:
        raise CreationTemplateInvalid("resourceTags", str(error)) from None
    return dict(tags)


def template_parameters(template: RepositoryCreationTemplate) -> dict:
    """The template in ECR's words (the request parameters its audit events record)."""
    return {
        "prefix": template.prefix,
        "description": template.description,
        "imageTagMutability": template.image_tag_mutability,
        "imageTagMutabilityExclusionFilters": list(template.image_tag_mutability_exclusion_filters) or None,
        "resourceTags": [{"key": key, "value": value} for key, value in template.resource_tags.items()],
        "repositoryPolicy": template.repository_policy,
        "lifecyclePolicy": template.lifecycle_policy,
        "appliedFor": list(template.applied_for),
        "encryptionConfiguration": template_encryption(template),
    }


def _record(event_name: str, template: RepositoryCreationTemplate, *, actor: Actor, context, parameters: dict) -> None:
    audit_services.record_change(
        actor=actor,
        context=context,
        event_name=event_name,
        recipient_account_id=template.account_id,
        request_parameters={"registryId": template.account_id, **parameters},
    )


# -- the operations ------------------------------------------------------------------


def create_repository_creation_template(
    *,
    account: Account,
    prefix: str,
    applied_for: Sequence[str],
    description: str = "",
    image_tag_mutability: str = TagMutability.MUTABLE,
    image_tag_mutability_exclusion_filters: Sequence[str] = (),
    resource_tags: Mapping[str, str] | None = None,
    repository_policy: str = "",
    lifecycle_policy: str = "",
    encryption_configuration: Mapping | None = None,
    actor: Actor,
    context: RequestContext | None = None,
) -> RepositoryCreationTemplate:
    """CreateRepositoryCreationTemplate; CreationTemplateExists for a prefix the
    account has a template for, CreationTemplateInvalid naming the field at fault."""
    template = RepositoryCreationTemplate(
        account=account,
        prefix=validate_prefix(prefix),
        description=_description(description),
        image_tag_mutability=image_tag_mutability,
        image_tag_mutability_exclusion_filters=_mutability(
            image_tag_mutability, image_tag_mutability_exclusion_filters
        ),
        resource_tags=_resource_tags(resource_tags or {}),
        repository_policy=_validate_policy(REPOSITORY_POLICY, repository_policy, account.pk),
        lifecycle_policy=_validate_policy(LIFECYCLE_POLICY, lifecycle_policy, account.pk),
        applied_for=_applied_for(applied_for),
    )
    template.encryption_type, template.kms_key = _encryption(encryption_configuration)
    try:
        with transaction.atomic():
            template.save()
            _record(
                "CreateRepositoryCreationTemplate",
                template,
                actor=actor,
                context=context,
                parameters=template_parameters(template),
            )
    except IntegrityError:
        raise CreationTemplateExists(account.pk, template.prefix) from None
    return template


class _Unchanged:
    def __repr__(self) -> str:
        return "UNCHANGED"


UNCHANGED = _Unchanged()


def update_repository_creation_template(
    *,
    template: RepositoryCreationTemplate,
    description: str | _Unchanged = UNCHANGED,
    image_tag_mutability: str | _Unchanged = UNCHANGED,
    image_tag_mutability_exclusion_filters: Sequence[str] | _Unchanged = UNCHANGED,
    resource_tags: Mapping[str, str] | _Unchanged = UNCHANGED,
    repository_policy: str | _Unchanged = UNCHANGED,
    lifecycle_policy: str | _Unchanged = UNCHANGED,
    applied_for: Sequence[str] | _Unchanged = UNCHANGED,
    encryption_configuration: Mapping | None | _Unchanged = UNCHANGED,
    actor: Actor,
    context: RequestContext | None = None,
) -> RepositoryCreationTemplate:
    """UpdateRepositoryCreationTemplate: what is given replaces what the template
    had (an empty policy text removes the policy); the rest stays. Changing the tag
    mutability without filters drops the filters it had."""
    given: dict[str, object] = {}
    if description is not UNCHANGED:
        given["description"] = template.description = _description(description)
    if image_tag_mutability is not UNCHANGED or image_tag_mutability_exclusion_filters is not UNCHANGED:
        mutability = template.image_tag_mutability if image_tag_mutability is UNCHANGED else image_tag_mutability
        filters = () if image_tag_mutability_exclusion_filters is UNCHANGED else image_tag_mutability_exclusion_filters
        template.image_tag_mutability_exclusion_filters = _mutability(mutability, filters)
        template.image_tag_mutability = mutability
        given["imageTagMutability"] = mutability
        given["imageTagMutabilityExclusionFilters"] = list(template.image_tag_mutability_exclusion_filters) or None
    if resource_tags is not UNCHANGED:
        template.resource_tags = _resource_tags(resource_tags)
        given["resourceTags"] = [{"key": key, "value": value} for key, value in template.resource_tags.items()]
    if repository_policy is not UNCHANGED:
        given["repositoryPolicy"] = template.repository_policy = _validate_policy(
            REPOSITORY_POLICY, repository_policy, template.account_id
        )
    if lifecycle_policy is not UNCHANGED:
        given["lifecyclePolicy"] = template.lifecycle_policy = _validate_policy(
            LIFECYCLE_POLICY, lifecycle_policy, template.account_id
        )
    if applied_for is not UNCHANGED:
        template.applied_for = _applied_for(applied_for)
        given["appliedFor"] = list(template.applied_for)
    if encryption_configuration is not UNCHANGED:
        template.encryption_type, template.kms_key = _encryption(encryption_configuration)
        given["encryptionConfiguration"] = template_encryption(template)
    # The trail keeps no empty values: a policy removed is named.
    removed = [name for name in (REPOSITORY_POLICY, LIFECYCLE_POLICY) if given.get(name) == ""]
    with transaction.atomic():
        template.save()
        _record(
            "UpdateRepositoryCreationTemplate",
            template,
            actor=actor,
            context=context,
            parameters={"prefix": template.prefix, **given, "removedPolicies": removed},
        )
    return template


def delete_repository_creation_template(
    *, account: Account, prefix: str, actor: Actor, context: RequestContext | None = None
) -> RepositoryCreationTemplate:
    """DeleteRepositoryCreationTemplate: returns the template as it was."""
    normalized = normalize_prefix(prefix)
    if not _PREFIX.fullmatch(normalized):
        raise CreationTemplateNotFound(account.pk, prefix)
    with transaction.atomic():
        template = (
            RepositoryCreationTemplate.objects.select_for_update().filter(account=account, prefix=normalized).first()
        )
        if template is None:
            raise CreationTemplateNotFound(account.pk, prefix)
        template.delete()
        _record(
            "DeleteRepositoryCreationTemplate",
            template,
            actor=actor,
            context=context,
            parameters={"prefix": normalized},
        )
    return template
