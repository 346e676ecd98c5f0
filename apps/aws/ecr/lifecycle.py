"""ECR's lifecycle policy operations: GetLifecyclePolicy, PutLifecyclePolicy,
DeleteLifecyclePolicy, StartLifecyclePolicyPreview and GetLifecyclePolicyPreview
(as the management API's apps/api/lifecycle/views.py).

Berth evaluates a preview at once (apps.lifecycle.services): StartLifecyclePolicyPreview
answers COMPLETE, and GetLifecyclePolicyPreview reads the stored results."""

from __future__ import annotations

from datetime import datetime

from apps.lifecycle import selectors, services
from apps.lifecycle.exceptions import LifecyclePolicyInvalid, LifecyclePolicyNotFound, LifecyclePreviewNotFound

from .. import protocol
from ..errors import InvalidParameter
from ..operations import Call, domain_errors, operation

domain_errors(
    {
        LifecyclePolicyNotFound: "LifecyclePolicyNotFoundException",
        LifecyclePreviewNotFound: "LifecyclePolicyPreviewNotFoundException",
        LifecyclePolicyInvalid: "InvalidParameterException",
    }
)

# GetLifecyclePolicyPreview without maxResults: ECR's default page (and its largest).
DEFAULT_PAGE = 100
_TAG_STATUS = {"TAGGED": True, "UNTAGGED": False, "ANY": None}


def _policy(repository, stored, *, evaluated: bool = True) -> dict:
    answer = {
        "registryId": repository.account_id,
        "repositoryName": repository.name,
        "lifecyclePolicyText": stored.text,
    }
    if evaluated:
        answer["lastEvaluatedAt"] = stored.last_evaluated_at
    return answer


@operation(protocol.ECR, "GetLifecyclePolicy")
def get_lifecycle_policy(call: Call) -> dict:
    repository = call.repository(call.params["repositoryName"], action="ecr:GetLifecyclePolicy")
    call.authorize("ecr:GetLifecyclePolicy", repository=repository)
    stored = selectors.policy_of(repository)
    if stored is None:
        raise LifecyclePolicyNotFound(repository.name)
    return _policy(repository, stored)


@operation(protocol.ECR, "PutLifecyclePolicy")
def put_lifecycle_policy(call: Call) -> dict:
    repository = call.repository(call.params["repositoryName"], action="ecr:PutLifecyclePolicy")
    call.authorize("ecr:PutLifecyclePolicy", repository=repository)
    stored = services.put_lifecycle_policy(
        repository=repository, text=call.params["lifecyclePolicyText"], actor=call.actor, context=call.context
    )
    return _policy(repository, stored, evaluated=False)


@operation(protocol.ECR, "DeleteLifecyclePolicy")
def delete_lifecycle_policy(call: Call) -> dict:
    repository = call.repository(call.params["repositoryName"], action="ecr:DeleteLifecyclePolicy")
    call.authorize("ecr:DeleteLifecyclePolicy", repository=repository)
    stored = services.delete_lifecycle_policy(repository=repository, actor=call.actor, context=call.context)
    return _policy(repository, stored)


@operation(protocol.ECR, "StartLifecyclePolicyPreview")
def start_lifecycle_policy_preview(call: Call) -> dict:
    repository = call.repository(call.params["repositoryName"], action="ecr:StartLifecyclePolicyPreview")
    call.authorize("ecr:StartLifecyclePolicyPreview", repository=repository)
    preview = services.start_lifecycle_policy_preview(
        repository=repository,
        text=call.params.get("lifecyclePolicyText"),
        actor=call.actor,
        context=call.context,
    )
    return {
        "registryId": repository.account_id,
        "repositoryName": repository.name,
        "lifecyclePolicyText": preview.text,
        "status": preview.status,
    }


def offset(token: str | None, operation: str) -> int:
    """Where the page a ``nextToken`` of ``operation`` names starts (the listings
    whose tokens are offsets: the preview's results, the cache rules)."""
    if token is None:
        return 0
    if not token.isdigit() or len(token) > 9:
        raise InvalidParameter(f"nextToken is not one {operation} gave")
    return int(token)


def _preview_result(result: dict) -> dict:
    """A stored result as ECR's LifecyclePolicyPreviewResult (Berth's lastPulledAt
    and alsoExpires are the management API's only)."""
    return {
        "imageTags": result["imageTags"],
        "imageDigest": result["imageDigest"],
        "imagePushedAt": datetime.fromisoformat(result["imagePushedAt"]) if result["imagePushedAt"] else None,
        "action": result["action"],
        "appliedRulePriority": result["appliedRulePriority"],
    }


@operation(protocol.ECR, "GetLifecyclePolicyPreview")
def get_lifecycle_policy_preview(call: Call) -> dict:
    params = call.params
    image_ids = params.get("imageIds")
    if image_ids and ("nextToken" in params or "maxResults" in params):
        raise InvalidParameter("nextToken and maxResults cannot be given with imageIds")
    repository = call.repository(params["repositoryName"], action="ecr:GetLifecyclePolicyPreview")
    call.authorize("ecr:GetLifecyclePolicyPreview", repository=repository)
    preview = selectors.preview_of(repository)
    if preview is None:
        raise LifecyclePreviewNotFound(repository.name)
    page, end = selectors.preview_page(
        preview,
        start=offset(params.get("nextToken"), "GetLifecyclePolicyPreview"),
        limit=len(preview.results) if image_ids else params.get("maxResults", DEFAULT_PAGE),
        image_ids=image_ids,
        tagged=_TAG_STATUS[params.get("filter", {}).get("tagStatus", "ANY")],
    )
    return {
        "registryId": repository.account_id,
        "repositoryName": repository.name,
        "lifecyclePolicyText": preview.text,
        "status": preview.status,
        "previewResults": [_preview_result(result) for result in page],
        "summary": {"expiringImageTotalCount": len(preview.results)},
        "nextToken": None if end is None else str(end),
    }
