"""ECR's repository operations: CreateRepository, DescribeRepositories, DeleteRepository."""

from __future__ import annotations

from apps.accounts.quotas import QuotaExceeded
from apps.registry import selectors as registry_selectors
from apps.registry import services as registry_services
from apps.repositories import services
from apps.repositories.models import Visibility
from apps.repositories.mutability import TagMutabilityInvalid

from .. import protocol
from ..errors import InvalidParameter
from ..operations import Call, domain_errors, operation
from . import shapes

domain_errors(
    {
        services.RepositoryExists: "RepositoryAlreadyExistsException",
        QuotaExceeded: "LimitExceededException",
        services.RepositoryNotEmpty: "RepositoryNotEmptyException",
        services.ResourceTagsInvalid: "InvalidTagParameterException",
        TagMutabilityInvalid: "InvalidParameterException",
        services.EncryptionConfigurationInvalid: "InvalidParameterException",
        registry_selectors.PageTokenInvalid: "InvalidParameterException",
    }
)

# DescribeRepositories without maxResults: ECR's default page.
DEFAULT_PAGE = 100


@operation(protocol.ECR, "CreateRepository")
def create_repository(call: Call) -> dict:
    params = call.params
    name = params["repositoryName"]
    tags = shapes.tag_mapping(params.get("tags"))
    # Without encryptionConfiguration, the registry's default (BERTH_DEFAULT_ENCRYPTION).
    encryption = params.get("encryptionConfiguration")
    call.authorize(
        "ecr:CreateRepository",
        resource_arn=call.repository_arn(name),
        also=["ecr:TagResource"] if tags else [],
        repositoryName=name,
    )
    repository = services.create_repository(
        account=call.account,
        name=name,
        visibility=Visibility.PRIVATE,
        image_tag_mutability=params.get("imageTagMutability", "MUTABLE"),
        image_tag_mutability_exclusion_filters=shapes.exclusion_filter_values(
            params.get("imageTagMutabilityExclusionFilters")
        ),
        scan_on_push=params.get("imageScanningConfiguration", {}).get("scanOnPush", False),
        resource_tags=tags,
        encryption_type=None if encryption is None else encryption.get("encryptionType", "AES256"),
        kms_key="" if encryption is None else encryption.get("kmsKey", ""),
        actor=call.actor,
        context=call.context,
    )
    return {"repository": shapes.repository(call, repository)}


@operation(protocol.ECR, "DescribeRepositories")
def describe_repositories(call: Call) -> dict:
    params = call.params
    names = params.get("repositoryNames")
    if names:
        if "nextToken" in params or "maxResults" in params:
            raise InvalidParameter("nextToken and maxResults cannot be given with repositoryNames")
        found = [call.repository(name, action="ecr:DescribeRepositories") for name in dict.fromkeys(names)]
        for repository in found:
            call.authorize("ecr:DescribeRepositories", repository=repository)
        return {"repositories": [shapes.repository(call, repository) for repository in found]}
    page, next_token = registry_selectors.describe_repositories(
        call.account, limit=params.get("maxResults", DEFAULT_PAGE), next_token=params.get("nextToken")
    )
    page = call.permitted("ecr:DescribeRepositories", page)
    return {"repositories": [shapes.repository(call, repository) for repository in page], "nextToken": next_token}


@operation(protocol.ECR, "DeleteRepository")
def delete_repository(call: Call) -> dict:
    force = call.params.get("force", False)
    repository = call.repository(call.params["repositoryName"], action="ecr:DeleteRepository")
    call.authorize("ecr:DeleteRepository", repository=repository, force=force)
    described = shapes.repository(call, repository)
    registry_services.delete_repository(repository=repository, force=force, actor=call.actor, context=call.context)
    return {"repository": described}
