"""Usage in the management API: the signed-in user's account's stored bytes, now
and per day, and the bytes it served per day (docs/usage.md)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from apps.api.serializers import error_responses
from apps.api.views import AccountScopedView
from apps.usage import selectors

from .serializers import UsageQuerySerializer, UsageSerializer

USAGE_TAG = "usage"


class Usage(AccountScopedView):
    @extend_schema(
        operation_id="getUsage",
        summary="Get the account's usage",
        description="Berth's own (ECR has no such operation). Stored bytes of the account and of each repository now (referenced, and exclusive: what "
        "deleting would free), the account's (or with `repository`, that repository's) stored bytes per day from "
        "the daily snapshots with today's live figure, and bytes served per day to anonymous and to signed-in "
        "callers. Needs ecr:DescribeRepositories on all of the account's repositories (`repository/*`): the "
        "figures describe every one of them.",
        parameters=[UsageQuerySerializer],
        responses={200: UsageSerializer, **error_responses(400, 401, 403, 404)},
        tags=[USAGE_TAG],
    )
    def get(self, request):
        # The usage of an account sizes each of its repositories, which is what DescribeRepositories
        # shows of one: asking it of all of them (repository/*) is the same question, account-wide.
        self.authorize("ecr:DescribeRepositories", resource_arn=self.repository_arn("*"))
        query = UsageQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        repository = query.validated_data.get("repository")
        usage = selectors.account_usage(self.account.pk, days=query.validated_data["days"], repository=repository)
        if usage is None:
            raise NotFound(f"repository {repository} does not exist in account {self.account.pk} and never did")
        return Response(UsageSerializer(usage).data)
