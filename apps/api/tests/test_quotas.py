"""Quotas in the management API (docs/quotas.md): a creation past the repositories
quota is refused with 409 quota_exceeded and creates nothing; /api/v1/usage lists
each quota with what it uses."""

from __future__ import annotations

import pytest

from apps.accounts import services as account_services
from apps.audit.events import Actor
from apps.audit.models import Event
from apps.repositories.models import Repository

pytestmark = pytest.mark.django_db


def test_a_repository_past_the_quota_is_refused_with_409(tenant, api_client):
    client = api_client(tenant)
    assert client.post("/api/v1/repositories", {"name": "one"}, format="json").status_code == 201
    account_services.set_account_quota(
        account=tenant.account, storage_bytes=None, repositories=1, images_per_repository=None, actor=Actor.staff("ops")
    )
    response = client.post("/api/v1/repositories", {"name": "two"}, format="json")
    assert response.status_code == 409, response.content
    body = response.json()
    assert body["code"] == "quota_exceeded"
    assert body["detail"].startswith(f"quota exceeded: repositories of account {tenant.id}: limit 1, current 1")
    assert list(Repository.objects.filter(account=tenant.account).values_list("name", flat=True)) == ["one"]
    refused = Event.objects.filter(event_name="CreateRepository").order_by("-sequence").first()
    assert refused.error_code == "quota_exceeded"

    quotas = {quota["name"]: quota for quota in client.get("/api/v1/usage", {"days": 1}).json()["quotas"]}
    assert quotas["repositories"] == {"name": "repositories", "limit": 1, "used": 1, "repository": None}
    assert quotas["storageBytes"] == {"name": "storageBytes", "limit": None, "used": 0, "repository": None}
    assert quotas["imagesPerRepository"]["limit"] is None
