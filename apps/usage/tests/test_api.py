"""/api/v1/usage and the two sizes DescribeRepositories shows."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.audit.events import Actor
from apps.registry import selectors as registry_selectors
from apps.repositories.models import Repository
from apps.usage import services
from apps.usage.models import AccountSnapshot

pytestmark = pytest.mark.django_db

USAGE = "/api/v1/usage"


def _serve(tenant, repository_id: int, name: str, *, anonymous: bool, size: int, day=None) -> None:
    day = day or timezone.now().date()
    served = [
        {
            "day": day.isoformat(),
            "repositoryId": repository_id,
            "accountId": tenant.id,
            "repository": name,
            "anonymous": anonymous,
            "bytes": size,
            "requests": 1,
        }
    ]
    services.add_served_bytes(batch_id=str(uuid.uuid4()), served=served)


def test_describe_repositories_shows_referenced_and_exclusive_bytes(tenant, shared_estate, api_client):
    client = api_client(tenant)
    listed = {r["name"]: r for r in client.get("/api/v1/repositories").json()["repositories"]}
    ids = dict(Repository.objects.filter(account_id=tenant.id).values_list("name", "pk"))
    live = registry_selectors.stored_bytes(ids.values())
    for name in ("a", "b"):
        assert listed[name]["referencedBytes"] == live[ids[name]].referenced
        assert listed[name]["exclusiveBytes"] == live[ids[name]].exclusive
    assert listed["a"]["exclusiveBytes"] < listed["a"]["referencedBytes"]
    one = client.get("/api/v1/repositories/b").json()
    assert (one["referencedBytes"], one["exclusiveBytes"]) == (live[ids["b"]].referenced, live[ids["b"]].exclusive)


def test_the_usage_of_the_account_now_per_day_and_served(tenant, other_tenant, shared_estate, api_client):
    today = timezone.now().date()
    services.take_snapshot(actor=Actor.system("usage"), day=today - timedelta(days=2))
    a = Repository.objects.get(account_id=tenant.id, name="a")
    _serve(tenant, a.pk, "a", anonymous=True, size=100)
    _serve(tenant, a.pk, "a", anonymous=False, size=40)
    _serve(tenant, a.pk, "a", anonymous=False, size=7, day=today - timedelta(days=1))
    _serve(tenant, a.pk, "a", anonymous=False, size=5, day=today - timedelta(days=9))  # outside 7 days

    body = api_client(tenant).get(USAGE, {"days": 7}).json()
    totals = registry_selectors.account_stored_bytes(tenant.id)
    assert body["accountId"] == tenant.id and body["repository"] is None
    assert (body["fromDay"], body["toDay"]) == ((today - timedelta(days=6)).isoformat(), today.isoformat())
    assert body["now"] == {
        "referencedBytes": totals.referenced,
        "exclusiveBytes": totals.exclusive,
        "imageCount": 2,
    }
    assert [r["name"] for r in body["repositories"]] == ["a", "b"]
    assert (body["repositories"][0]["servedBytes"], body["repositories"][0]["servedRequests"]) == (147, 3)
    assert [(d["day"], d["live"]) for d in body["stored"]] == [
        ((today - timedelta(days=2)).isoformat(), False),
        (today.isoformat(), True),
    ]
    assert len(body["served"]) == 7
    assert body["served"][-1] == {
        "day": today.isoformat(),
        "anonymousBytes": 100,
        "anonymousRequests": 1,
        "signedInBytes": 40,
        "signedInRequests": 1,
    }
    assert body["served"][-2]["signedInBytes"] == 7
    assert sum(d["signedInBytes"] + d["anonymousBytes"] for d in body["served"]) == 147
    # Another account's usage is never in it.
    assert "c" not in [r["name"] for r in body["repositories"]]
    assert api_client(other_tenant).get(USAGE).json()["repositories"][0]["name"] == "c"


def test_one_repositorys_usage_and_a_deleted_ones_history(tenant, shared_estate, api_client):
    today = timezone.now().date()
    services.take_snapshot(actor=Actor.system("usage"), day=today - timedelta(days=1))
    client = api_client(tenant)
    body = client.get(USAGE, {"repository": "a"}).json()
    assert body["repository"] == "a" and [r["name"] for r in body["repositories"]] == ["a"]
    assert [d["live"] for d in body["stored"]] == [False, True]
    assert body["now"]["referencedBytes"] == body["repositories"][0]["referencedBytes"]

    Repository.objects.filter(account_id=tenant.id, name="a").delete()
    body = client.get(USAGE, {"repository": "a"}).json()
    assert body["repositories"] == [] and [d["live"] for d in body["stored"]] == [False]
    missing = client.get(USAGE, {"repository": "never"})
    assert missing.status_code == 404 and "never" in missing.json()["detail"]


@pytest.mark.parametrize("days", ["0", "366", "x"])
def test_days_out_of_range_is_a_clear_400(tenant, api_client, days):
    response = api_client(tenant).get(USAGE, {"days": days})
    assert response.status_code == 400
    assert [error["field"] for error in response.json()["errors"]] == ["days"]


def test_an_account_without_repositories_has_zero_usage(tenant, api_client):
    body = api_client(tenant).get(USAGE).json()
    assert body["now"] == {"referencedBytes": 0, "exclusiveBytes": 0, "imageCount": 0}
    assert body["repositories"] == [] and len(body["served"]) == 30
    assert [d["live"] for d in body["stored"]] == [True]
    assert not AccountSnapshot.objects.exists()


def test_anonymous_callers_are_refused(db, api_client):
    assert api_client().get(USAGE).status_code == 401
