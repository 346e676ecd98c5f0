"""The publisher's pull counts in the management API."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from ..models import PullCount


def test_pull_counts_per_tag_and_day_for_the_owner(tenant, other_tenant, api_client, publish):
    repository = publish(tenant.account, "team/app")
    today = timezone.now().date()
    PullCount.objects.create(repository=repository, tag="latest", day=today - timedelta(days=2), count=3)
    PullCount.objects.create(repository=repository, tag="latest", day=today, count=4)
    PullCount.objects.create(repository=repository, tag="", day=today, count=1)
    PullCount.objects.create(repository=repository, tag="v1", day=today - timedelta(days=20), count=9)

    owner = api_client(tenant)
    response = owner.get("/api/v1/repositories/team/app/-/pull-counts?days=7")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["repositoryName"] == "team/app"
    assert body["since"] == (today - timedelta(days=6)).isoformat()
    assert body["total"] == 8
    assert body["tags"] == [
        {"imageTag": "", "total": 1, "days": [{"day": today.isoformat(), "count": 1}]},
        {
            "imageTag": "latest",
            "total": 7,
            "days": [
                {"day": (today - timedelta(days=2)).isoformat(), "count": 3},
                {"day": today.isoformat(), "count": 4},
            ],
        },
    ]
    assert owner.get("/api/v1/repositories/team/app/-/pull-counts").json()["total"] == 17

    assert api_client(other_tenant).get("/api/v1/repositories/team/app/-/pull-counts").status_code == 404
    assert api_client().get("/api/v1/repositories/team/app/-/pull-counts").status_code == 401


def test_pull_counts_refuse_a_bad_number_of_days(tenant, api_client, publish):
    publish(tenant.account, "app")
    owner = api_client(tenant)
    for days in ("0", "367", "many"):
        response = owner.get(f"/api/v1/repositories/app/-/pull-counts?days={days}")
        assert response.status_code == 400, days
        assert response.json()["code"] == "invalid"
