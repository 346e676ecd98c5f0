"""Listings through the AWS API cost the same number of queries however many rows
they answer: nothing is looked up once per repository or image."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.audit.events import Actor
from apps.repositories import services as repository_services
from apps.repositories.models import Repository, Visibility


def _queries(client, operation: str, **params) -> int:
    with CaptureQueriesContext(connection) as captured:
        client.ok(operation, **params)
    return len(captured)


@pytest.mark.django_db
def test_listings_cost_the_same_queries_for_3_and_12_rows(tenant, aws_client, registry_client):
    private, public = aws_client(tenant), aws_client(tenant, service="ecr-public")
    pusher = registry_client(tenant)
    for client in (private, public):  # a key's first use records its last-used time, once
        client.ok("DescribeRepositories")
    images = 0
    costs = {}
    for rows in (3, 12):
        while Repository.objects.filter(account=tenant.account).count() < rows:
            n = Repository.objects.filter(account=tenant.account).count()
            repository_services.create_repository(
                account=tenant.account,
                name=f"team/r{n:02d}",
                visibility=Visibility.PUBLIC if n % 2 else Visibility.PRIVATE,
                actor=Actor.system("test"),
            )
        while images < rows:
            pusher.push_image(f"{tenant.id}/team/r00", f"v{images}", seed=str(images).encode())
            images += 1
        costs[rows] = {
            "DescribeRepositories": _queries(private, "DescribeRepositories"),
            "DescribeRepositories (ECR Public)": _queries(public, "DescribeRepositories"),
            "DescribeImages": _queries(private, "DescribeImages", repositoryName="team/r00"),
            "ListImages": _queries(private, "ListImages", repositoryName="team/r00"),
        }
    assert costs[3] == costs[12], costs
