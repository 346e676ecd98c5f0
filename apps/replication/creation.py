"""The repositories replication and the pull-through cache create on their own.

``create_repository`` gives a new repository the settings of the account's
repository creation template (apps.repositories.creation_templates) whose prefix is
the longest namespace of the name (ROOT matching every name, last) and whose
appliedFor includes the purpose: its tag mutability and exclusion filters, resource
tags and repository policy here; its lifecycle policy is lifecycle's to put, on the
repository.created event that names the template (apps.lifecycle.subscribers). With
no template, a replica takes its source's tag mutability, scan-on-push and resource
tags, and a cached repository Berth's defaults. A template's encryption
configuration (AES256 only) describes the store's server-side encryption and
changes nothing per repository.

It is idempotent: a repository of that name is returned as it is, settings and all,
including one a concurrent caller created a moment before (the unique name refuses
the second insert inside a savepoint, and the winner's row is read instead)."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import transaction

from apps.accounts.models import Account
from apps.audit.events import Actor
from apps.iam import services as iam_services
from apps.kernel.requests import RequestContext
from apps.repositories import selectors as repository_selectors
from apps.repositories import services as repository_services
from apps.repositories.creation_templates import REPOSITORY_POLICY, CreationTemplateInvalid
from apps.repositories.models import AppliedFor, Repository, RepositoryCreationTemplate, RepositoryTag, TagMutability


@dataclass(frozen=True)
class _NewSettings:
    image_tag_mutability: str = TagMutability.MUTABLE
    image_tag_mutability_exclusion_filters: tuple[str, ...] = ()
    scan_on_push: bool = False
    resource_tags: dict[str, str] = field(default_factory=dict)
    repository_policy: str = ""
    creation_template: str | None = None
    # None: the registry's default (BERTH_DEFAULT_ENCRYPTION).
    encryption_type: str | None = None
    kms_key: str = ""


def _from_template(template: RepositoryCreationTemplate) -> _NewSettings:
    return _NewSettings(
        image_tag_mutability=template.image_tag_mutability,
        image_tag_mutability_exclusion_filters=tuple(template.image_tag_mutability_exclusion_filters),
        resource_tags=dict(template.resource_tags),
        repository_policy=template.repository_policy,
        creation_template=template.prefix,
        encryption_type=template.encryption_type,
        kms_key=template.kms_key,
    )


def _from_source(source: Repository) -> _NewSettings:
    return _NewSettings(
        image_tag_mutability=source.image_tag_mutability,
        image_tag_mutability_exclusion_filters=tuple(source.image_tag_mutability_exclusion_filters),
        scan_on_push=source.scan_on_push,
        resource_tags=dict(RepositoryTag.objects.filter(repository=source).values_list("key", "value")),
        # A replica is encrypted as its source is: the same key for KMS.
        encryption_type=source.encryption_type,
        kms_key=source.kms_key,
    )


def _settings_for(*, account: Account, name: str, applied_for: str, source: Repository | None = None) -> _NewSettings:
    """What ``create_repository`` gives a new repository ``name``."""
    if applied_for not in AppliedFor.values:
        raise ValueError(f"applied_for must be one of {', '.join(AppliedFor.values)}, not {applied_for!r}")
    template = repository_selectors.creation_template_for(account.pk, name, applied_for)
    if template is not None:
        return _from_template(template)
    if applied_for == AppliedFor.REPLICATION and source is not None:
        return _from_source(source)
    return _NewSettings()


def create_repository(
    *,
    account: Account,
    name: str,
    applied_for: str,
    actor: Actor,
    source: Repository | None = None,
    context: RequestContext | None = None,
) -> Repository:
    """The account's repository ``name``, created for ``applied_for`` (REPLICATION,
    PULL_THROUGH_CACHE) if it is not there. Recorded as CreateRepository (and
    SetRepositoryPolicy, for a template's policy) by ``actor``. Raises
    RepositoryNameInvalid for a name outside the grammar, CreationTemplateInvalid
    when the template's repository policy no longer holds (a principal it names is
    gone): the repository is then not created, rather than created without it."""
    repository_services.validate_repository_name(name)
    existing = Repository.objects.filter(account=account, name=name).first()
    if existing is not None:
        return existing
    chosen = _settings_for(account=account, name=name, applied_for=applied_for, source=source)
    try:
        with transaction.atomic():
            repository = repository_services.create_repository(
                account=account,
                name=name,
                image_tag_mutability=chosen.image_tag_mutability,
                image_tag_mutability_exclusion_filters=chosen.image_tag_mutability_exclusion_filters,
                scan_on_push=chosen.scan_on_push,
                resource_tags=chosen.resource_tags,
                creation_template=chosen.creation_template,
                encryption_type=chosen.encryption_type,
                kms_key=chosen.kms_key,
                actor=actor,
                context=context,
            )
            if chosen.repository_policy:
                try:
                    iam_services.set_repository_policy(
                        repository=repository, document=chosen.repository_policy, actor=actor, context=context
                    )
                except iam_services.PolicyInvalid as error:
                    raise CreationTemplateInvalid(
                        REPOSITORY_POLICY,
                        f"the repository policy of creation template {chosen.creation_template} no longer holds: "
                        f"{error}",
                    ) from None
    except repository_services.RepositoryExists:
        # Another worker created it between the read above and the insert.
        existing = Repository.objects.filter(account=account, name=name).first()
        if existing is None:
            raise
        return existing
    return repository
