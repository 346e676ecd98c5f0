"""ECR's repository creation template operations: CreateRepositoryCreationTemplate,
DescribeRepositoryCreationTemplates, UpdateRepositoryCreationTemplate and
DeleteRepositoryCreationTemplate (as the management API's
apps/api/repositories/templates.py). The policy texts are validated by
apps.repositories.creation_templates, whoever calls it."""

from __future__ import annotations

from apps.repositories import creation_templates, selectors
from apps.repositories.creation_templates import (
    CreationTemplateExists,
    CreationTemplateInvalid,
    CreationTemplateNotFound,
)
from apps.repositories.models import TEMPLATE_PREFIX_MAX_LENGTH, RepositoryCreationTemplate

from .. import protocol
from ..errors import InvalidParameter
from ..operations import Call, domain_errors, operation
from . import shapes

domain_errors(
    {
        CreationTemplateExists: "TemplateAlreadyExistsException",
        CreationTemplateNotFound: "TemplateNotFoundException",
        CreationTemplateInvalid: "InvalidParameterException",
    }
)

# DescribeRepositoryCreationTemplates without maxResults: ECR's default page.
DEFAULT_PAGE = 100
_FIELDS = {
    "description": "description",
    "imageTagMutability": "image_tag_mutability",
    "repositoryPolicy": "repository_policy",
    "lifecyclePolicy": "lifecycle_policy",
    "appliedFor": "applied_for",
    "encryptionConfiguration": "encryption_configuration",
}


def _changes(params: dict) -> dict:
    """The service's keyword arguments for the members the request gave."""
    if "customRoleArn" in params:
        raise InvalidParameter(
            "customRoleArn cannot be used: Berth creates repositories from a template itself, with no IAM role "
            "(its KMS keys need no role: S3's are used with Berth's credentials, the filesystem's are Berth's key ring)"
        )
    changes = {name: params[member] for member, name in _FIELDS.items() if member in params}
    if "imageTagMutabilityExclusionFilters" in params:
        changes["image_tag_mutability_exclusion_filters"] = shapes.exclusion_filter_values(
            params["imageTagMutabilityExclusionFilters"]
        )
    if "resourceTags" in params:
        tags = params["resourceTags"]
        if len({tag["Key"] for tag in tags}) != len(tags):
            raise InvalidParameter("resourceTags names a key more than once")
        changes["resource_tags"] = shapes.tag_mapping(tags)
    return changes


def _template(template: RepositoryCreationTemplate) -> dict:
    """ECR's RepositoryCreationTemplate (empty policies and description left out)."""
    return {
        "prefix": template.prefix,
        "description": template.description or None,
        "encryptionConfiguration": creation_templates.template_encryption(template),
        "resourceTags": shapes.tag_list(template.resource_tags),
        "imageTagMutability": template.image_tag_mutability,
        "imageTagMutabilityExclusionFilters": shapes.exclusion_filters(template.image_tag_mutability_exclusion_filters),
        "repositoryPolicy": template.repository_policy or None,
        "lifecyclePolicy": template.lifecycle_policy or None,
        "appliedFor": list(template.applied_for),
        "createdAt": template.created_at,
        "updatedAt": template.updated_at,
    }


def _answer(call: Call, template: RepositoryCreationTemplate) -> dict:
    return {"registryId": call.registry_id, "repositoryCreationTemplate": _template(template)}


@operation(protocol.ECR, "CreateRepositoryCreationTemplate")
def create_repository_creation_template(call: Call) -> dict:
    params = call.params
    changes = _changes(params)
    call.authorize("ecr:CreateRepositoryCreationTemplate", prefix=params["prefix"][:TEMPLATE_PREFIX_MAX_LENGTH])
    template = creation_templates.create_repository_creation_template(
        account=call.account, prefix=params["prefix"], actor=call.actor, context=call.context, **changes
    )
    return _answer(call, template)


@operation(protocol.ECR, "DescribeRepositoryCreationTemplates")
def describe_repository_creation_templates(call: Call) -> dict:
    params = call.params
    call.authorize("ecr:DescribeRepositoryCreationTemplates")
    limit = params.get("maxResults", DEFAULT_PAGE)
    found = selectors.creation_templates(
        call.account, prefixes=params.get("prefixes"), after=params.get("nextToken", ""), limit=limit + 1
    )
    page = found[:limit]
    return {
        "registryId": call.registry_id,
        "repositoryCreationTemplates": [_template(template) for template in page],
        "nextToken": page[-1].prefix if len(found) > limit else None,
    }


def _existing(call: Call, prefix: str) -> RepositoryCreationTemplate:
    template = selectors.creation_template(call.registry_id, prefix)
    if template is None:
        raise CreationTemplateNotFound(call.registry_id, prefix)
    return template


@operation(protocol.ECR, "UpdateRepositoryCreationTemplate")
def update_repository_creation_template(call: Call) -> dict:
    params = call.params
    changes = _changes(params)
    call.authorize("ecr:UpdateRepositoryCreationTemplate", prefix=params["prefix"][:TEMPLATE_PREFIX_MAX_LENGTH])
    template = creation_templates.update_repository_creation_template(
        template=_existing(call, params["prefix"]), actor=call.actor, context=call.context, **changes
    )
    return _answer(call, template)


@operation(protocol.ECR, "DeleteRepositoryCreationTemplate")
def delete_repository_creation_template(call: Call) -> dict:
    prefix = call.params["prefix"]
    call.authorize("ecr:DeleteRepositoryCreationTemplate", prefix=prefix[:TEMPLATE_PREFIX_MAX_LENGTH])
    template = creation_templates.delete_repository_creation_template(
        account=call.account, prefix=prefix, actor=call.actor, context=call.context
    )
    return _answer(call, template)
