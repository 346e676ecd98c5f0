"""Lifecycle policies in the management API: Amazon ECR's PutLifecyclePolicy,
GetLifecyclePolicy, DeleteLifecyclePolicy, StartLifecyclePolicyPreview and
GetLifecyclePolicyPreview, over the signed-in user's account."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response

from apps.api.serializers import error_responses
from apps.api.views import AccountScopedView
from apps.lifecycle import selectors, services
from apps.lifecycle.exceptions import LifecyclePolicyInvalid, LifecyclePolicyNotFound, LifecyclePreviewNotFound

from .serializers import (
    LifecyclePolicyPreviewSerializer,
    LifecyclePolicySerializer,
    PreviewQuerySerializer,
    PutLifecyclePolicySerializer,
    StartPreviewResponseSerializer,
    StartPreviewSerializer,
)

LIFECYCLE_TAG = "lifecycle policies"
NAME = OpenApiParameter(
    "name", str, OpenApiParameter.PATH, description="the repository name, `/` included (`team/app`)"
)


def _policy_body(repository, stored) -> dict:
    return {
        "registryId": repository.account_id,
        "repositoryName": repository.name,
        "lifecyclePolicyText": stored.text,
        "lastEvaluatedAt": stored.last_evaluated_at,
    }


class LifecyclePolicyDetail(AccountScopedView):
    domain_error_fields = {LifecyclePolicyInvalid: "lifecyclePolicyText"}

    @extend_schema(
        operation_id="getLifecyclePolicy",
        summary="Get a repository's lifecycle policy",
        description="Amazon ECR's GetLifecyclePolicy: the text exactly as it was put, and when a run last "
        "evaluated it (`lastEvaluatedAt`, null before the first daily run). 404 `lifecycle_policy_not_found` "
        "when the repository has none.",
        parameters=[NAME],
        responses={200: LifecyclePolicySerializer, **error_responses(401, 403, 404)},
        tags=[LIFECYCLE_TAG],
    )
    def get(self, request, name: str):
        repository = self.repository_named(name, action="ecr:GetLifecyclePolicy")
        self.authorize("ecr:GetLifecyclePolicy", repository=repository)
        stored = selectors.policy_of(repository)
        if stored is None:
            raise LifecyclePolicyNotFound(repository.name)
        return Response(LifecyclePolicySerializer(_policy_body(repository, stored)).data)

    @extend_schema(
        operation_id="putLifecyclePolicy",
        summary="Set a repository's lifecycle policy",
        description="Amazon ECR's PutLifecyclePolicy: replaces the policy. The text is ECR's lifecycle policy "
        "JSON (rules with `rulePriority`, a `selection` of `tagStatus` tagged/untagged/any, `tagPrefixList` or "
        "`tagPatternList`, `countType` imageCountMoreThan/sinceImagePushed/sinceImagePulled, `countUnit` days, "
        "`countNumber`, and the action `expire`; Berth adds the action `keep`, see docs/lifecycle.md), "
        "validated as ECR validates it: 400 `invalid_parameter` with ECR's message. Images expire at the next "
        "daily run.",
        parameters=[NAME],
        request=PutLifecyclePolicySerializer,
        responses={200: LifecyclePolicySerializer, **error_responses(400, 401, 403, 404)},
        tags=[LIFECYCLE_TAG],
    )
    def put(self, request, name: str):
        repository = self.repository_named(name, action="ecr:PutLifecyclePolicy")
        given = PutLifecyclePolicySerializer(data=request.data)
        given.is_valid(raise_exception=True)
        self.authorize("ecr:PutLifecyclePolicy", repository=repository)
        stored = services.put_lifecycle_policy(
            repository=repository,
            text=given.validated_data["lifecyclePolicyText"],
            actor=self.actor,
            context=self.context,
        )
        return Response(LifecyclePolicySerializer(_policy_body(repository, stored)).data)

    @extend_schema(
        operation_id="deleteLifecyclePolicy",
        summary="Delete a repository's lifecycle policy",
        description="Amazon ECR's DeleteLifecyclePolicy: answers with the policy it deleted; 404 "
        "`lifecycle_policy_not_found` when there was none.",
        parameters=[NAME],
        responses={200: LifecyclePolicySerializer, **error_responses(401, 403, 404)},
        tags=[LIFECYCLE_TAG],
    )
    def delete(self, request, name: str):
        repository = self.repository_named(name, action="ecr:DeleteLifecyclePolicy")
        self.authorize("ecr:DeleteLifecyclePolicy", repository=repository)
        stored = services.delete_lifecycle_policy(repository=repository, actor=self.actor, context=self.context)
        return Response(LifecyclePolicySerializer(_policy_body(repository, stored)).data)


class LifecyclePolicyPreview(AccountScopedView):
    domain_error_fields = {LifecyclePolicyInvalid: "lifecyclePolicyText"}

    @extend_schema(
        operation_id="startLifecyclePolicyPreview",
        summary="Preview what a lifecycle policy would expire",
        description="Amazon ECR's StartLifecyclePolicyPreview: evaluates `lifecyclePolicyText` (or, when it is "
        "left out, the repository's policy) against the repository as it is now, exactly as the daily run "
        "would, without deleting anything. Berth evaluates at once: the answer's `status` is already "
        "COMPLETE; read the results with GET. 404 `lifecycle_policy_not_found` when no text is given and the "
        "repository has no policy.",
        parameters=[NAME],
        request=StartPreviewSerializer,
        responses={200: StartPreviewResponseSerializer, **error_responses(400, 401, 403, 404)},
        tags=[LIFECYCLE_TAG],
    )
    def post(self, request, name: str):
        repository = self.repository_named(name, action="ecr:StartLifecyclePolicyPreview")
        given = StartPreviewSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        self.authorize("ecr:StartLifecyclePolicyPreview", repository=repository)
        preview = services.start_lifecycle_policy_preview(
            repository=repository,
            text=given.validated_data.get("lifecyclePolicyText"),
            actor=self.actor,
            context=self.context,
        )
        body = {
            "registryId": repository.account_id,
            "repositoryName": repository.name,
            "lifecyclePolicyText": preview.text,
            "status": preview.status,
        }
        return Response(StartPreviewResponseSerializer(body).data)

    @extend_schema(
        operation_id="getLifecyclePolicyPreview",
        summary="Read the latest lifecycle policy preview",
        description="Amazon ECR's GetLifecyclePolicyPreview: the images the previewed policy would expire, "
        "oldest first, each with the rule that would expire it (`appliedRulePriority`), its tags and push time, "
        "and Berth's `lastPulledAt` and `alsoExpires` (the referrers and platform manifests that would go with "
        "it); `summary.expiringImageTotalCount` counts them all. A page at a time (`maxResults`, `nextToken`). "
        "404 `lifecycle_policy_preview_not_found` before the first preview.",
        parameters=[NAME, PreviewQuerySerializer],
        responses={200: LifecyclePolicyPreviewSerializer, **error_responses(400, 401, 403, 404)},
        tags=[LIFECYCLE_TAG],
    )
    def get(self, request, name: str):
        repository = self.repository_named(name, action="ecr:GetLifecyclePolicyPreview")
        query = PreviewQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        self.authorize("ecr:GetLifecyclePolicyPreview", repository=repository)
        preview = selectors.preview_of(repository)
        if preview is None:
            raise LifecyclePreviewNotFound(repository.name)
        page, end = selectors.preview_page(
            preview, start=int(query.validated_data.get("nextToken", 0)), limit=query.validated_data["maxResults"]
        )
        body = {
            "registryId": repository.account_id,
            "repositoryName": repository.name,
            "lifecyclePolicyText": preview.text,
            "status": preview.status,
            "previewResults": page,
            "summary": {"expiringImageTotalCount": len(preview.results)},
            "nextToken": None if end is None else str(end),
        }
        return Response(LifecyclePolicyPreviewSerializer(body).data)
