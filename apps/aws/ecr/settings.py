"""ECR's operations on a repository's settings: PutImageTagMutability,
PutImageScanningConfiguration, and its resource tags (TagResource, UntagResource,
ListTagsForResource, for ECR Public's repositories too: one policy, `ecr:TagResource`,
governs a repository's tags whichever API changes them), as the management API's
repository views do them."""

from __future__ import annotations

from django.conf import settings

from apps.kernel.arn import Arn, ArnError
from apps.repositories import selectors as repository_selectors
from apps.repositories import services
from apps.repositories.models import REPOSITORY_NAME_MAX_LENGTH, Repository

from .. import protocol
from ..errors import InvalidParameter, error
from ..operations import Call, domain_errors, operation
from . import shapes

domain_errors(
    {
        services.ResourceTagsInvalid: "InvalidTagParameterException",
        services.TooManyResourceTags: "TooManyTagsException",
    }
)

WILDCARD = "WILDCARD"
_REPOSITORY_RESOURCE = "repository/"


@operation(protocol.ECR, "PutImageTagMutability")
def put_image_tag_mutability(call: Call) -> dict:
    params = call.params
    given = params.get("imageTagMutabilityExclusionFilters")
    for item in given or ():
        if item["filterType"] != WILDCARD:
            raise InvalidParameter(f"filterType {item['filterType'][:40]!r} is not supported: use {WILDCARD}")
    repository = call.repository(params["repositoryName"], action="ecr:PutImageTagMutability")
    call.authorize("ecr:PutImageTagMutability", repository=repository, imageTagMutability=params["imageTagMutability"])
    services.put_image_tag_mutability(
        repository=repository,
        image_tag_mutability=params["imageTagMutability"],
        image_tag_mutability_exclusion_filters=shapes.exclusion_filter_values(given),
        actor=call.actor,
        context=call.context,
    )
    return {
        "registryId": repository.account_id,
        "repositoryName": repository.name,
        "imageTagMutability": repository.image_tag_mutability,
        "imageTagMutabilityExclusionFilters": shapes.exclusion_filters(
            repository.image_tag_mutability_exclusion_filters
        ),
    }


@operation(protocol.ECR, "PutImageScanningConfiguration")
def put_image_scanning_configuration(call: Call) -> dict:
    params = call.params
    repository = call.repository(params["repositoryName"], action="ecr:PutImageScanningConfiguration")
    call.authorize("ecr:PutImageScanningConfiguration", repository=repository)
    services.put_image_scanning_configuration(
        repository=repository,
        scan_on_push=params["imageScanningConfiguration"].get("scanOnPush", False),
        actor=call.actor,
        context=call.context,
    )
    return {
        "registryId": repository.account_id,
        "repositoryName": repository.name,
        "imageScanningConfiguration": {"scanOnPush": repository.scan_on_push},
    }


# -- resource tags ------------------------------------------------------------------------


def _tagged_repository(call: Call, action: str) -> Repository:
    """The repository ``resourceArn`` names: InvalidParameterException for what is
    no ECR repository ARN of this deployment, RepositoryNotFoundException for a
    repository the caller's account does not have (another account's included:
    this API manages the caller's own registry)."""
    text = call.params["resourceArn"]
    region = "" if call.service == protocol.ECR_PUBLIC else settings.BERTH_REGION
    invalid = InvalidParameter(
        f"Invalid parameter at 'resourceArn' failed to satisfy constraint: 'Invalid ARN' ({text[:300]!r} is no "
        f"repository ARN: arn:aws:{call.service}:{region}:<account>:repository/<name>)"
    )
    try:
        arn = Arn.parse(text, partition=settings.BERTH_ARN_PARTITION)
    except ArnError:
        raise invalid from None
    name = arn.resource.removeprefix(_REPOSITORY_RESOURCE)
    if arn.service != call.service or arn.region != region or not arn.account or name == arn.resource or not name:
        raise invalid
    if arn.account != call.account.pk:
        call.begin_event(action, registryId=arn.account, repositoryName=name[:REPOSITORY_NAME_MAX_LENGTH])
        raise error(
            "RepositoryNotFoundException",
            f"The repository with name '{name[:REPOSITORY_NAME_MAX_LENGTH]}' does not exist in the registry with id "
            f"'{arn.account}'",
        )
    return call.repository(name, action=action)


@operation(protocol.ECR, "TagResource")
@operation(protocol.ECR_PUBLIC, "TagResource")
def tag_resource(call: Call) -> dict:
    repository = _tagged_repository(call, "ecr:TagResource")
    call.authorize("ecr:TagResource", repository=repository)
    services.tag_resource(
        repository=repository, tags=shapes.tag_mapping(call.params["tags"]), actor=call.actor, context=call.context
    )
    return {}


@operation(protocol.ECR, "UntagResource")
@operation(protocol.ECR_PUBLIC, "UntagResource")
def untag_resource(call: Call) -> dict:
    repository = _tagged_repository(call, "ecr:UntagResource")
    call.authorize("ecr:UntagResource", repository=repository)
    services.untag_resource(repository=repository, keys=call.params["tagKeys"], actor=call.actor, context=call.context)
    return {}


@operation(protocol.ECR, "ListTagsForResource")
@operation(protocol.ECR_PUBLIC, "ListTagsForResource")
def list_tags_for_resource(call: Call) -> dict:
    repository = _tagged_repository(call, "ecr:ListTagsForResource")
    call.authorize("ecr:ListTagsForResource", repository=repository)
    return {"tags": shapes.tag_list(repository_selectors.resource_tags_of(repository))}
