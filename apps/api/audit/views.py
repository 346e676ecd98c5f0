"""The audit trail in the management API: CloudTrail's LookupEvents over the
signed-in user's account, a JSON Lines export of the same, and the questions
asked most (who pulled an image, what a principal pulled, where a tag pointed).

An account sees the events about its resources and those its own principals
caused; another account's events are never shown."""

from __future__ import annotations

import json

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions
from rest_framework.exceptions import ErrorDetail
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.response import Response

from apps.api.serializers import error_responses
from apps.api.views import AccountScopedView
from apps.audit import selectors
from apps.audit.records import to_record

from .serializers import (
    EventPageSerializer,
    ImagePullsQuerySerializer,
    ImagePullsSerializer,
    LookupEventsPageQuerySerializer,
    LookupEventsQuerySerializer,
    PrincipalPullsQuerySerializer,
    PrincipalPullsSerializer,
    TagHistoryQuerySerializer,
    TagHistorySerializer,
)

AUDIT_TAG = "audit"
NDJSON = "application/x-ndjson"
LOOKUP_ACTION = "cloudtrail:LookupEvents"


class _AuditView(AccountScopedView):
    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.authorize_lookup()

    def authorize_lookup(self) -> None:
        """Every audit read is CloudTrail's LookupEvents for IAM (and is itself recorded as one)."""
        self.authorize(LOOKUP_ACTION)

    @staticmethod
    def _query(serializer_class, request):
        query = serializer_class(data=request.query_params)
        query.is_valid(raise_exception=True)
        return query


class EventList(_AuditView):
    @extend_schema(
        operation_id="lookupEvents",
        summary="Look up events",
        description="CloudTrail's LookupEvents: the account's events (about its repositories, or caused by its "
        "principals), newest first, as CloudTrail records, a page at a time. Every filter given must match. "
        "Pass a page's `next`, with the same filters, to get the following one.",
        parameters=[LookupEventsPageQuerySerializer],
        responses={200: EventPageSerializer, **error_responses(400, 401, 403)},
        tags=[AUDIT_TAG],
    )
    def get(self, request):
        query = self._query(LookupEventsPageQuerySerializer, request)
        try:
            page, next_token = selectors.lookup_events(
                self.account.pk,
                query.filters(),
                max_results=query.validated_data["max_results"],
                next_token=query.validated_data.get("next"),
            )
        except selectors.PageTokenInvalid as exc:
            raise exceptions.ValidationError({"next": [ErrorDetail(str(exc), code="invalid")]}) from None
        return Response({"events": [to_record(event) for event in page], "next": next_token})


class _StreamAsIs(BaseContentNegotiation):
    """The export is JSON Lines whatever the client accepts; errors are JSON."""

    def select_parser(self, request, parsers):
        return parsers[0]

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class EventExport(_AuditView):
    content_negotiation_class = _StreamAsIs

    @extend_schema(
        operation_id="exportEvents",
        summary="Export events as JSON Lines",
        description="Every event LookupEvents would page through with the same filters, newest first, one "
        "CloudTrail record per line, streamed.",
        parameters=[LookupEventsQuerySerializer],
        responses={
            (200, NDJSON): OpenApiResponse(OpenApiTypes.STR, description="one JSON record per line"),
            **error_responses(400, 401, 403),
        },
        tags=[AUDIT_TAG],
    )
    def get(self, request):
        filters = self._query(LookupEventsQuerySerializer, request).filters()
        lines = (
            json.dumps(to_record(event), separators=(",", ":"), ensure_ascii=False) + "\n"
            for event in selectors.iter_events(self.account.pk, filters)
        )
        response = StreamingHttpResponse(lines, content_type=NDJSON)
        response["Content-Disposition"] = f'attachment; filename="berth-events-{self.account.pk}.jsonl"'
        return response


class ImagePulls(_AuditView):
    @extend_schema(
        operation_id="imagePulls",
        summary="Who pulled an image",
        description="A ready-made CloudTrail question: who pulled the image `digest` of the account's `repository`, and from where: one row per "
        "principal and source address, with the number of pulls and the first and last.",
        parameters=[ImagePullsQuerySerializer],
        responses={200: ImagePullsSerializer, **error_responses(400, 401, 403)},
        tags=[AUDIT_TAG],
    )
    def get(self, request):
        data = self._query(ImagePullsQuerySerializer, request).validated_data
        pulls = selectors.pulls_of_image(self.account.pk, data["repository"], data["digest"], limit=data["max_results"])
        return Response(ImagePullsSerializer({"pulls": pulls}).data)


class PrincipalPulls(_AuditView):
    @extend_schema(
        operation_id="principalPulls",
        summary="What a principal pulled",
        description="A ready-made CloudTrail question: what `principal` (an ARN, an IAM user name or an access key id) pulled, among the events the "
        "account sees: one row per image, with the number of pulls and the first and last.",
        parameters=[PrincipalPullsQuerySerializer],
        responses={200: PrincipalPullsSerializer, **error_responses(400, 401, 403)},
        tags=[AUDIT_TAG],
    )
    def get(self, request):
        data = self._query(PrincipalPullsQuerySerializer, request).validated_data
        pulls = selectors.pulls_by_principal(self.account.pk, data["principal"], limit=data["max_results"])
        return Response(PrincipalPullsSerializer({"pulls": pulls}).data)


class TagHistory(_AuditView):
    @extend_schema(
        operation_id="tagHistory",
        summary="Where a tag has pointed",
        description="A ready-made CloudTrail question: the pushes (PutImage events) that moved `tag` of the account's `repository`, newest first, "
        "each with the digest it pointed at after and before.",
        parameters=[TagHistoryQuerySerializer],
        responses={200: TagHistorySerializer, **error_responses(400, 401, 403)},
        tags=[AUDIT_TAG],
    )
    def get(self, request):
        data = self._query(TagHistoryQuerySerializer, request).validated_data
        history = selectors.tag_history(self.account.pk, data["repository"], data["tag"], limit=data["max_results"])
        return Response(TagHistorySerializer({"history": history}).data)
