"""The publisher's view of pull counts in the management API: a repository's pulls
per day and tag, which the gallery itself shows only as a total."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from apps.api.repositories.views import NAME, REPOSITORIES_TAG, _RepositoryView
from apps.api.serializers import error_responses
from apps.gallery import selectors

from .serializers import PullCountsQuerySerializer, PullCountsSerializer


class RepositoryPullCounts(_RepositoryView):
    @extend_schema(
        operation_id="getRepositoryPullCounts",
        summary="Get a repository's pulls per day and tag",
        description="Not one of Amazon ECR's operations (ECR Public's gallery shows a total only): "
        "pulls of a public repository's images (anonymous and signed), counted per UTC day and "
        'per tag asked for ("" for pulls by digest), for the last `days` days. Counts arrive in batches, '
        "a few seconds after the pulls. A private repository's pulls are not counted.",
        parameters=[NAME, PullCountsQuerySerializer],
        responses={200: PullCountsSerializer, **error_responses(400, 401, 403, 404)},
        tags=[REPOSITORIES_TAG],
    )
    def get(self, request, name: str):
        query = PullCountsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        repository = self.repository_named(name, action="ecr:DescribeImages")
        self.authorize("ecr:DescribeImages", repository=repository)
        since = timezone.now().date() - timedelta(days=query.validated_data["days"] - 1)
        series = selectors.pull_series(repository, since=since)
        tags = [
            {
                "imageTag": tag,
                "total": sum(count for _, count in days),
                "days": [{"day": day, "count": count} for day, count in days],
            }
            for tag, days in series.items()
        ]
        body = {
            "repositoryName": repository.name,
            "since": since,
            "total": sum(tag["total"] for tag in tags),
            "tags": tags,
        }
        return Response(PullCountsSerializer(body).data)
