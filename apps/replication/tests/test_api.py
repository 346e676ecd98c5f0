"""Replication in the management API: ECR's shapes, no secret returned, IAM
enforced, status, retry and back-fills."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from apps.accounts import services as account_services
from apps.audit.events import Actor
from apps.conftest import basic_auth
from apps.iam import services as iam_services
from apps.replication import client as registry_client
from apps.repositories import services as repository_services

from .conftest import PUSHER, push_image

pytestmark = pytest.mark.django_db

CONFIG = "/api/v1/registry/replication-configuration"
BACKFILLS = "/api/v1/registry/replication-backfills"
B = "333333333333"


@pytest.fixture(autouse=True)
def _region(settings):
    settings.BERTH_REGION = "local-a"


@pytest.fixture
def api(tenant, api_client):
    return api_client(tenant)


def remote_rule(**more):
    return {
        "destinations": [
            {"region": "local-b", "registryId": B, "endpoint": "http://127.0.0.1:9",
             "credentials": {"username": "robot", "password": "hunter2"}}
        ],
        "repositoryFilters": [{"filter": "team/", "filterType": "PREFIX_MATCH"}],
        **more,
    }  # fmt: skip


def test_put_and_describe_the_configuration_without_its_secret(api, tenant):
    assert api.get("/api/v1/registry").json() == {"registryId": tenant.id, "replicationConfiguration": {"rules": []}}
    response = api.put(CONFIG, {"replicationConfiguration": {"rules": [remote_rule()]}}, format="json")
    assert response.status_code == 200, response.content
    described = api.get("/api/v1/registry").json()
    assert described["replicationConfiguration"] == response.json()["replicationConfiguration"]
    assert described["replicationConfiguration"]["rules"][0]["destinations"] == [
        {"region": "local-b", "registryId": B, "endpoint": "http://127.0.0.1:9", "credentialsConfigured": True,
         "username": "robot"}
    ]  # fmt: skip
    assert "hunter2" not in response.content.decode()


def test_an_invalid_configuration_says_where(api, tenant):
    rule = {"destinations": [{"region": "local-a", "registryId": tenant.id}]}
    response = api.put(CONFIG, {"replicationConfiguration": {"rules": [rule]}}, format="json")
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["field"] == "replicationConfiguration" and "this registry itself" in error["message"]
    assert api.put(CONFIG, {}, format="json").status_code == 400


def test_image_replication_status_and_retry(api, tenant, remote, committed):
    api.put(CONFIG, {"replicationConfiguration": {"rules": [remote_rule()]}}, format="json")
    repository = repository_services.create_repository(account=tenant.account, name="team/app", actor=PUSHER)
    remote.fail_with = registry_client.AccessDenied("denied by the destination", status=403)
    with committed():
        digest = push_image(repository, tag="v1")
    status_url = "/api/v1/repositories/team/app/-/images/replication-status"
    body = api.get(status_url, {"imageTag": "v1"}).json()
    assert body["imageId"] == {"imageDigest": digest, "imageTag": "v1"}
    [status] = body["replicationStatuses"]
    assert (status["region"], status["registryId"], status["status"], status["failureCode"]) == (
        "local-b", B, "FAILED", "AccessDenied"
    )  # fmt: skip
    assert "denied by the destination" in status["failureReason"]
    assert api.get(status_url, {"imageTag": "nope"}).status_code == 404
    remote.fail_with = None
    with committed():
        retried = api.post(f"{status_url}/retry", {"imageId": {"imageDigest": digest}}, format="json")
    assert retried.status_code == 200, retried.content
    assert api.get(status_url, {"imageDigest": digest}).json()["replicationStatuses"][0]["status"] == "COMPLETE"


def test_backfills_start_list_describe_stop(api, tenant, remote, committed):
    assert api.post(BACKFILLS, {}, format="json").status_code == 400  # no rules yet
    repository = repository_services.create_repository(account=tenant.account, name="team/app", actor=PUSHER)
    push_image(repository, tag="v1")
    api.put(CONFIG, {"replicationConfiguration": {"rules": [remote_rule()]}}, format="json")
    assert api.post(BACKFILLS, {"ruleIndex": 3}, format="json").status_code == 400
    with committed():
        started = api.post(BACKFILLS, {"ruleIndex": 0}, format="json")
    assert started.status_code == 201, started.content
    backfill_id = started.json()["backfillId"]
    assert [b["backfillId"] for b in api.get(BACKFILLS).json()["backfills"]] == [backfill_id]
    results = api.get(f"{BACKFILLS}/{backfill_id}").json()
    assert (results["status"], results["total"], results["complete"], results["failed"]) == ("COMPLETE", 1, 1, 0)
    stopped = api.post(f"{BACKFILLS}/{backfill_id}/stop")
    assert stopped.status_code == 200 and stopped.json()["status"] == "COMPLETE"  # ended already: left as it is
    assert api.get(f"{BACKFILLS}/not-a-uuid").status_code == 404
    assert api.get(f"{BACKFILLS}/00000000-0000-0000-0000-000000000000").status_code == 404


def test_iam_is_enforced(tenant, committed):
    user = iam_services.create_user(actor=Actor.system("test"), account=tenant.account, username="bare")
    django_user = getattr(user, "user", user)
    key = account_services.create_access_key(actor=Actor.system("test"), user=django_user)
    bare = APIClient()
    bare.credentials(HTTP_AUTHORIZATION=basic_auth(key.access_key.access_key_id, key.secret))
    for method, path, action in [
        ("get", "/api/v1/registry", "ecr:DescribeRegistry"),
        ("put", CONFIG, "ecr:PutReplicationConfiguration"),
        ("post", BACKFILLS, "ecr:StartReplicationBackfill"),
        ("get", BACKFILLS, "ecr:ListReplicationBackfills"),
    ]:
        response = getattr(bare, method)(path, {"replicationConfiguration": {"rules": []}} if method == "put" else {},
                                         format="json")  # fmt: skip
        assert response.status_code == 403, (path, response.content)
        assert action in response.json()["detail"]
