"""ECR Public's resource tags: TagResource, UntagResource, ListTagsForResource on
a public repository, named by its ECR Public ARN
(`arn:aws:ecr-public::<account>:repository/<name>`, no region). The management
API changes tags with `ecr:TagResource`; the `ecr:` actions are authorized here
too, so one policy governs a repository's tags whichever API changes them."""

from __future__ import annotations

from django.conf import settings

from apps.kernel.arn import Arn, ArnError
from apps.repositories import services
from apps.repositories.models import Repository

from .. import protocol
from ..ecr import shapes as ecr_shapes
from ..errors import InvalidParameter, error
from ..operations import Call, operation
from .repositories import public_repository


def _repository_of(call: Call, resource_arn: str, *, action: str) -> Repository:
    """The public repository an ECR Public ARN names; InvalidParameterException for
    an ARN that names none of the caller's registry."""
    try:
        arn = Arn.parse(resource_arn, partition=settings.BERTH_ARN_PARTITION)
    except ArnError as exc:
        raise InvalidParameter(f"resourceArn: {exc}") from None
    kind, _, name = arn.resource.partition("/")
    if arn.service != protocol.ECR_PUBLIC or arn.region or kind != "repository" or not name:
        raise InvalidParameter(
            f"resourceArn {resource_arn[:300]!r} is not an ECR Public repository ARN "
            "(arn:aws:ecr-public::<registry id>:repository/<name>)"
        )
    if arn.account != call.account.pk:
        raise InvalidParameter(
            f"resourceArn names the registry {arn.account}, not the caller's ({call.account.pk}); this API manages "
            "the caller's own registry"
        )
    return public_repository(call, name, action=action)


def _change_tags(call: Call, repository: Repository, *, add=None, remove=()) -> None:
    try:
        services.change_resource_tags(
            repository=repository, add=add, remove=remove, actor=call.actor, context=call.context
        )
    except services.ResourceTagsInvalid as exc:
        if exc.code == "max_length":
            raise error("TooManyTagsException", str(exc)) from None
        raise error("InvalidTagParameterException", str(exc)) from None


@operation(protocol.ECR_PUBLIC, "TagResource")
def tag_resource(call: Call) -> dict:
    repository = _repository_of(call, call.params["resourceArn"], action="ecr:TagResource")
    call.authorize("ecr:TagResource", repository=repository)
    _change_tags(call, repository, add=ecr_shapes.tag_mapping(call.params["tags"]))
    return {}


@operation(protocol.ECR_PUBLIC, "UntagResource")
def untag_resource(call: Call) -> dict:
    repository = _repository_of(call, call.params["resourceArn"], action="ecr:UntagResource")
    call.authorize("ecr:UntagResource", repository=repository)
    _change_tags(call, repository, remove=call.params["tagKeys"])
    return {}


@operation(protocol.ECR_PUBLIC, "ListTagsForResource")
def list_tags_for_resource(call: Call) -> dict:
    repository = _repository_of(call, call.params["resourceArn"], action="ecr:ListTagsForResource")
    call.authorize("ecr:ListTagsForResource", repository=repository)
    return {"tags": ecr_shapes.tag_list(repository.resource_tags.all())}
