"""Pull-through cache rules through the management API: ECR's shapes, sealed
credentials that never come back, prefixes that may not overlap, IAM, the trail."""

from __future__ import annotations

import socket

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from apps.accounts import services as account_services
from apps.audit.events import Actor
from apps.audit.models import Event
from apps.conftest import basic_auth
from apps.iam import services as iam_services
from apps.kernel.sealing import unseal
from apps.replication.cache import SOURCE, upstream_repository
from apps.replication.models import PullThroughCacheRule
from apps.repositories.creation_templates import create_repository_creation_template
from apps.repositories.models import Repository

pytestmark = pytest.mark.django_db

RULES = "/api/v1/pull-through-cache-rules"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def api(tenant, api_client):
    return api_client(tenant)


def create(api, **body):
    return api.post(
        RULES, {"ecrRepositoryPrefix": "hub", "upstreamRegistryUrl": "registry.example", **body}, format="json"
    )


def test_a_rule_keeps_its_password_sealed_and_never_shows_it(api, tenant):
    response = create(
        api, credentials={"username": "robot", "password": "s3cret-pw"}, upstreamRepositoryPrefix="library"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["ecrRepositoryPrefix"] == "hub"
    assert body["upstreamRegistryUrl"] == "https://registry.example"
    assert body["upstreamRepositoryPrefix"] == "library"
    assert body["credentials"] == {"username": "robot"}
    assert body["credentialsConfigured"] is True
    assert body["tagRecheckSeconds"] == 300
    assert b"s3cret-pw" not in response.content
    rule = PullThroughCacheRule.objects.get(account=tenant.account)
    assert "s3cret-pw" not in rule.sealed_password and unseal(rule.sealed_password) == "s3cret-pw"
    listed = api.get(RULES).json()
    assert [r["ecrRepositoryPrefix"] for r in listed["pullThroughCacheRules"]] == ["hub"]
    assert b"s3cret-pw" not in api.get(f"{RULES}/hub").content
    event = Event.objects.filter(event_name="CreatePullThroughCacheRule").latest("id")
    assert "s3cret-pw" not in str(event.request_parameters) + str(event.response_elements)
    assert upstream_repository(rule, "hub/nginx") == "library/nginx"


@pytest.mark.parametrize(
    "body, field",
    [
        ({"ecrRepositoryPrefix": "a"}, "ecrRepositoryPrefix"),
        ({"ecrRepositoryPrefix": "Hub"}, "ecrRepositoryPrefix"),
        ({"ecrRepositoryPrefix": "hub/"}, "ecrRepositoryPrefix"),
        ({"upstreamRegistryUrl": "ftp://x"}, "upstreamRegistryUrl"),
        ({"upstreamRegistryUrl": "https://user:pw@x"}, "upstreamRegistryUrl"),
        ({"upstreamRegistryUrl": "https://x/some/path"}, "upstreamRegistryUrl"),
        ({"upstreamRepositoryPrefix": "Bad Prefix"}, "upstreamRepositoryPrefix"),
        ({"credentials": {"username": "u", "password": ""}}, "credentials"),
    ],
)
def test_malformed_rules_are_refused_with_the_field(api, body, field):
    response = create(api, **body)
    assert response.status_code == 400, response.content
    assert field in response.content.decode()
    assert not PullThroughCacheRule.objects.exists()


def test_prefixes_may_not_overlap_nor_repeat(api):
    assert create(api, ecrRepositoryPrefix="team/hub").status_code == 201
    assert create(api, ecrRepositoryPrefix="team/hub").status_code == 409
    for overlapping in ("team", "team/hub/x"):
        response = create(api, ecrRepositoryPrefix=overlapping)
        assert response.status_code == 400 and "overlaps" in response.content.decode(), response.content
    assert create(api, ecrRepositoryPrefix="team/hubs").status_code == 201


def test_update_replaces_what_is_given_and_delete_answers_the_rule(api, tenant):
    create(api, credentials={"username": "robot", "password": "pw"})
    response = api.patch(f"{RULES}/hub", {"tagRecheckSeconds": 5, "credentials": None}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["tagRecheckSeconds"] == 5
    assert response.json()["credentialsConfigured"] is False
    assert response.json()["upstreamRegistryUrl"] == "https://registry.example"
    deleted = api.delete(f"{RULES}/hub")
    assert deleted.status_code == 200 and deleted.json()["ecrRepositoryPrefix"] == "hub"
    assert api.get(f"{RULES}/hub").status_code == 404
    assert api.patch(f"{RULES}/hub", {"tagRecheckSeconds": 5}, format="json").status_code == 404
    names = set(Event.objects.values_list("event_name", flat=True))
    assert {"UpdatePullThroughCacheRule", "DeletePullThroughCacheRule"} <= names


def test_describe_by_prefix_names_a_missing_one(api):
    create(api)
    assert api.get(RULES, {"ecrRepositoryPrefixes": ["hub"]}).status_code == 200
    missing = api.get(RULES, {"ecrRepositoryPrefixes": ["hub", "nope"]})
    assert missing.status_code == 404 and "nope" in missing.content.decode()


def test_validate_says_why_an_upstream_is_not_valid(api):
    create(api, upstreamRegistryUrl=f"http://127.0.0.1:{_closed_port()}")
    response = api.post(f"{RULES}/hub/-/validate")
    assert response.status_code == 200, response.content
    assert response.json()["isValid"] is False
    assert "refused" in response.json()["failure"]
    event = Event.objects.filter(event_name="ValidatePullThroughCacheRule").latest("id")
    assert event.response_elements["isValid"] is False


def test_a_user_without_a_policy_is_denied(tenant):
    user = iam_services.create_user(account=tenant.account, username="nobody", actor=Actor.system("test"))
    key = account_services.create_access_key(actor=Actor.system("test"), user=get_user_model().objects.get(pk=user.pk))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=basic_auth(key.access_key.access_key_id, key.secret))
    assert create(client).status_code == 403
    assert client.get(RULES).status_code == 403
    assert not PullThroughCacheRule.objects.exists()


def test_rules_cover_the_repositories_under_their_prefix(api, tenant):
    create(api, ecrRepositoryPrefix="team/hub")
    SOURCE.forget_rules()
    account = tenant.account.pk
    assert SOURCE.covers(account, "team/hub/library/nginx")
    assert not SOURCE.covers(account, "team/hub")
    assert not SOURCE.covers(account, "team/hubs/nginx")
    assert not SOURCE.covers("000000000000", "team/hub/library/nginx")


def test_a_first_pull_creates_the_repository_from_the_pull_through_cache_template(api, tenant, registry_client):
    create_repository_creation_template(
        account=tenant.account,
        prefix="hub",
        applied_for=["PULL_THROUGH_CACHE"],
        image_tag_mutability="IMMUTABLE",
        actor=Actor.system("test"),
    )
    create(api, upstreamRegistryUrl=f"http://127.0.0.1:{_closed_port()}")
    name = f"{tenant.account.pk}/hub/library/nginx"
    client = registry_client(tenant)
    response = client.request("GET", f"/v2/{name}/manifests/1.27", scope=f"repository:{name}:pull")
    assert response.status_code == 503, response.content  # the upstream is down: nothing to serve yet
    assert response.json()["errors"][0]["code"] == "UNAVAILABLE"
    repository = Repository.objects.get(account=tenant.account, name="hub/library/nginx")
    assert repository.image_tag_mutability == "IMMUTABLE"
