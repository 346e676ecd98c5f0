"""Replication in the management API: Amazon ECR's DescribeRegistry,
PutReplicationConfiguration and DescribeImageReplicationStatus, and Berth's own
RetryImageReplication and replication back-fills (StartReplicationBackfill,
DescribeReplicationBackfillResults, ListReplicationBackfills,
StopReplicationBackfill), over the signed-in user's account."""

from __future__ import annotations

import uuid

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions
from rest_framework.response import Response

from apps.api.registry.images import requested_image
from apps.api.registry.serializers import image_id
from apps.api.serializers import error_responses
from apps.api.views import AccountScopedView
from apps.replication import selectors, services
from apps.replication.config import ReplicationConfigurationInvalid

from .serializers import (
    BackfillListSerializer,
    BackfillResultsSerializer,
    BackfillSerializer,
    DescribeImageReplicationStatusSerializer,
    DescribeRegistrySerializer,
    ImageQuerySerializer,
    PutReplicationConfigurationDocumentation,
    PutReplicationConfigurationResponseSerializer,
    PutReplicationConfigurationSerializer,
    RetryRequestSerializer,
    StartBackfillSerializer,
)

REPLICATION_TAG = "replication"
NAME = OpenApiParameter(
    "name", str, OpenApiParameter.PATH, description="the repository name, `/` included (`team/app`)"
)
BACKFILL_ID = OpenApiParameter("backfill_id", str, OpenApiParameter.PATH, description="the back-fill's id")


class Registry(AccountScopedView):
    @extend_schema(
        operation_id="describeRegistry",
        summary="Describe the registry and its replication",
        description="Amazon ECR's DescribeRegistry: the registry id and its replication configuration. A "
        "destination's credentials are never returned: `credentialsConfigured` and the `username` say there are "
        "some.",
        responses={200: DescribeRegistrySerializer, **error_responses(401, 403)},
        tags=[REPLICATION_TAG],
    )
    def get(self, request):
        self.authorize("ecr:DescribeRegistry")
        return Response(DescribeRegistrySerializer(selectors.describe_registry(self.account)).data)


class ReplicationConfiguration(AccountScopedView):
    domain_error_fields = {ReplicationConfigurationInvalid: "replicationConfiguration"}

    @extend_schema(
        operation_id="putReplicationConfiguration",
        summary="Set the registry's replication rules",
        description='Amazon ECR\'s PutReplicationConfiguration: replaces the rules (`{"rules": []}` removes '
        "them). Up to 10 rules, each with 1 to 25 destinations (`region`, `registryId`) and up to 100 "
        "`repositoryFilters` (`PREFIX_MATCH`; Berth: `*` stands for any run of characters). Berth adds a "
        "destination's `endpoint` (another deployment) and `credentials` (sealed at rest, kept when a later put "
        "leaves them out) and a rule's `replicateDeletions`. A destination that is this registry itself is "
        "refused. Only images pushed from now on replicate; StartReplicationBackfill copies the rest.",
        request=PutReplicationConfigurationDocumentation,
        responses={200: PutReplicationConfigurationResponseSerializer, **error_responses(400, 401, 403)},
        tags=[REPLICATION_TAG],
    )
    def put(self, request):
        given = PutReplicationConfigurationSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        self.authorize("ecr:PutReplicationConfiguration", registryId=self.account.pk)
        described = services.put_replication_configuration(
            account=self.account,
            document=given.validated_data["replicationConfiguration"],
            actor=self.actor,
            context=self.context,
        )
        return Response(PutReplicationConfigurationResponseSerializer({"replicationConfiguration": described}).data)


def _status_body(repository, manifest, tag: str | None, rows) -> dict:
    return {
        "registryId": repository.account_id,
        "repositoryName": repository.name,
        "imageId": image_id(manifest.digest, tag),
        "replicationStatuses": rows,
    }


class ImageReplicationStatus(AccountScopedView):
    @extend_schema(
        operation_id="describeImageReplicationStatus",
        summary="Where an image has replicated to",
        description="Amazon ECR's DescribeImageReplicationStatus: the image's copy at each destination, "
        "IN_PROGRESS, COMPLETE or FAILED with `failureCode` and `failureReason` (AccessDenied when the "
        "destination's registry policy refuses; a copy that failed BERTH_REPLICATION_MAX_ATTEMPTS times is FAILED "
        "with its last reason). Berth adds the destination's `endpoint`, `attempts`, `nextAttemptAt` and the "
        "`backfillId` of a back-fill's copy.",
        parameters=[NAME, ImageQuerySerializer],
        responses={200: DescribeImageReplicationStatusSerializer, **error_responses(400, 401, 403, 404)},
        tags=[REPLICATION_TAG],
    )
    def get(self, request, name: str):
        repository = self.repository_named(name, action="ecr:DescribeImageReplicationStatus")
        query = ImageQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        wanted = query.validated_data
        self.authorize("ecr:DescribeImageReplicationStatus", repository=repository)
        manifest = requested_image(repository, wanted.get("imageDigest"), wanted.get("imageTag"))
        rows = selectors.image_statuses(repository, manifest.digest)
        body = _status_body(repository, manifest, wanted.get("imageTag"), rows)
        return Response(DescribeImageReplicationStatusSerializer(body).data)


class ImageReplicationRetry(AccountScopedView):
    @extend_schema(
        operation_id="retryImageReplication",
        summary="Retry an image's failed copies",
        description="Berth's RetryImageReplication (IAM action `ecr:RetryImageReplication`), beside Amazon ECR's "
        "DescribeImageReplicationStatus: the image's FAILED "
        "copies start over (IN_PROGRESS, attempts from 0); the others are left as they are. Answers as "
        "DescribeImageReplicationStatus.",
        parameters=[NAME],
        request=RetryRequestSerializer,
        responses={200: DescribeImageReplicationStatusSerializer, **error_responses(400, 401, 403, 404)},
        tags=[REPLICATION_TAG],
    )
    def post(self, request, name: str):
        repository = self.repository_named(name, action="ecr:RetryImageReplication")
        given = RetryRequestSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        wanted = given.validated_data["imageId"]
        self.authorize("ecr:RetryImageReplication", repository=repository)
        manifest = requested_image(repository, wanted.get("imageDigest"), wanted.get("imageTag"))
        rows = services.retry_image_replication(
            repository=repository, digest=manifest.digest, actor=self.actor, context=self.context
        )
        body = _status_body(repository, manifest, wanted.get("imageTag"), rows)
        return Response(DescribeImageReplicationStatusSerializer(body).data)


def _results(backfill) -> dict:
    progress = selectors.progress(backfill)
    return {
        "id": backfill.id,
        "account_id": backfill.account_id,
        "rule_index": backfill.rule_index,
        "status": backfill.status,
        "total": progress.total,
        "started_at": backfill.started_at,
        "finished_at": backfill.finished_at,
        "complete": progress.complete,
        "failed": progress.failed,
        "in_progress": progress.in_progress,
        "dropped": progress.dropped,
        "rules": backfill.rules,
        "failures": progress.failures,
    }


class BackfillList(AccountScopedView):
    @extend_schema(
        operation_id="startReplicationBackfill",
        summary="Copy what existed before the rules",
        description="Berth's own StartReplicationBackfill (`ecr:StartReplicationBackfill`): every image of the "
        "repositories the rules (or rule `ruleIndex`) match is copied to their destinations, with its tags, as "
        "ordinary copies that name the back-fill. 400 when the registry has no replication rule or no such rule.",
        request=StartBackfillSerializer,
        responses={201: BackfillSerializer, **error_responses(400, 401, 403)},
        tags=[REPLICATION_TAG],
    )
    def post(self, request):
        given = StartBackfillSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        self.authorize("ecr:StartReplicationBackfill", registryId=self.account.pk)
        backfill = services.start_replication_backfill(
            account=self.account,
            rule_index=given.validated_data.get("ruleIndex"),
            actor=self.actor,
            context=self.context,
        )
        return Response(BackfillSerializer(backfill).data, status=201)

    @extend_schema(
        operation_id="listReplicationBackfills",
        summary="List replication back-fills",
        description="Berth's own ListReplicationBackfills (`ecr:ListReplicationBackfills`): the latest 100, newest first.",
        responses={200: BackfillListSerializer, **error_responses(401, 403)},
        tags=[REPLICATION_TAG],
    )
    def get(self, request):
        self.authorize("ecr:ListReplicationBackfills")
        return Response(BackfillListSerializer({"backfills": selectors.backfills(self.account)}).data)


def _backfill_of(view: AccountScopedView, backfill_id: str):
    try:
        key = uuid.UUID(backfill_id)
    except ValueError:
        raise exceptions.NotFound(f"no replication back-fill {backfill_id[:100]}", code="backfill_not_found") from None
    backfill = selectors.backfill_of(view.account, key)
    if backfill is None:
        raise exceptions.NotFound(f"no replication back-fill {backfill_id}", code="backfill_not_found")
    return backfill


class BackfillDetail(AccountScopedView):
    @extend_schema(
        operation_id="describeReplicationBackfillResults",
        summary="A replication back-fill's progress",
        description="Berth's own DescribeReplicationBackfillResults (`ecr:DescribeReplicationBackfillResults`): how "
        "many of its copies are complete, failed and in progress, how many a stop dropped, and the failed ones "
        "with their reasons. 404 `backfill_not_found`.",
        parameters=[BACKFILL_ID],
        responses={200: BackfillResultsSerializer, **error_responses(401, 403, 404)},
        tags=[REPLICATION_TAG],
    )
    def get(self, request, backfill_id: str):
        self.authorize("ecr:DescribeReplicationBackfillResults")
        return Response(BackfillResultsSerializer(_results(_backfill_of(self, backfill_id))).data)


class BackfillStop(AccountScopedView):
    @extend_schema(
        operation_id="stopReplicationBackfill",
        summary="Stop a replication back-fill",
        description="Berth's own StopReplicationBackfill (`ecr:StopReplicationBackfill`): its copies that have not "
        "started are dropped; those under way finish. A back-fill that has ended is left as it is. Answers "
        "with its results.",
        parameters=[BACKFILL_ID],
        request=None,
        responses={200: BackfillResultsSerializer, **error_responses(401, 403, 404)},
        tags=[REPLICATION_TAG],
    )
    def post(self, request, backfill_id: str):
        self.authorize("ecr:StopReplicationBackfill")
        backfill = _backfill_of(self, backfill_id)
        backfill = services.stop_replication_backfill(
            account=self.account, backfill_id=backfill.pk, actor=self.actor, context=self.context
        )
        return Response(BackfillResultsSerializer(_results(backfill)).data)
