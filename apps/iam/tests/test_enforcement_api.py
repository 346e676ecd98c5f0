"""Management API calls decided by IAM policies: each endpoint refuses an IAM user
without its action (403 access_denied) and serves one with it; account membership
still decides what is found."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from apps.accounts import services as account_services
from apps.audit.events import Actor
from apps.audit.models import Event
from apps.conftest import basic_auth
from apps.iam import selectors, services
from apps.repositories import services as repository_services

from .test_enforcement import OCI, allow, document, iam_user

pytestmark = pytest.mark.django_db

REPOS = "/api/v1/repositories"


@pytest.fixture
def estate(tenant, registry_client):
    """tenant's private `app` (tags v1, gone), public `site`, and `old` to delete."""
    root = registry_client(tenant)
    root.push_image(f"{tenant.id}/app", "v1")
    root.push_image(f"{tenant.id}/app", "gone", seed=b"gone")
    response = root.request(
        "GET", f"/v2/{tenant.id}/app/manifests/v1", scope=f"repository:{tenant.id}/app:pull", headers=OCI
    )
    repository_services.create_repository(
        actor=Actor.system("test"), account=tenant.account, name="site", visibility="public"
    )
    repository_services.create_repository(actor=Actor.system("test"), account=tenant.account, name="old")
    return {"manifest": response.content.decode()}


def api_client_of(user) -> APIClient:
    new_key = account_services.create_access_key(actor=Actor.system("test"), user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=basic_auth(new_key.access_key.access_key_id, new_key.secret))
    return client


LIFECYCLE = json.dumps(
    {
        "rules": [
            {
                "rulePriority": 1,
                "selection": {"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 1},
                "action": {"type": "expire"},
            }
        ]
    }
)

# (action, method, path, body, status when allowed)
ENDPOINTS = [
    ("ecr:CreateRepository", "post", REPOS, {"name": "fresh"}, 201),
    ("ecr:DescribeRepositories", "get", f"{REPOS}/app", None, 200),
    ("ecr:PutImageTagMutability", "patch", f"{REPOS}/app", {"imageTagMutability": "IMMUTABLE"}, 200),
    ("ecr:PutImageTagMutability", "put", f"{REPOS}/app/-/image-tag-mutability", {"imageTagMutability": "MUTABLE"}, 200),
    ("ecr:TagResource", "patch", f"{REPOS}/app", {"tags": [{"key": "team", "value": "web"}]}, 200),
    ("ecr:SetRepositoryPolicy", "patch", f"{REPOS}/app", {"visibility": "public"}, 200),
    ("ecr:DeleteRepository", "delete", f"{REPOS}/old", None, 204),
    ("ecr-public:GetRepositoryCatalogData", "get", f"{REPOS}/site/-/catalog-data", None, 200),
    ("ecr-public:PutRepositoryCatalogData", "put", f"{REPOS}/site/-/catalog-data", {"description": "A site"}, 200),
    ("ecr-public:GetRepositoryCatalogData", "get", f"{REPOS}/site/-/catalog-data/logo", None, 404),
    ("ecr:ListImages", "get", f"{REPOS}/app/-/images", None, 200),
    ("ecr:PutImage", "post", f"{REPOS}/app/-/images", "manifest", 201),
    ("ecr:DescribeImages", "get", f"{REPOS}/app/-/images/describe", None, 200),
    ("ecr:DescribeImages", "post", f"{REPOS}/app/-/images/describe", {}, 200),
    ("ecr:BatchGetImage", "post", f"{REPOS}/app/-/images/batch-get", {"imageIds": [{"imageTag": "v1"}]}, 200),
    ("ecr:BatchDeleteImage", "post", f"{REPOS}/app/-/images/batch-delete", {"imageIds": [{"imageTag": "gone"}]}, 200),
    ("ecr:GetAuthorizationToken", "post", "/api/v1/authorization-token", None, 200),
    ("ecr-public:DescribeRegistries", "get", "/api/v1/registries", None, 200),
    ("ecr-public:GetRegistryCatalogData", "get", "/api/v1/registry/catalog-data", None, 200),
    ("ecr-public:PutRegistryCatalogData", "put", "/api/v1/registry/catalog-data", {"displayName": "Alice"}, 200),
    ("ecr:StartImageScan", "post", f"{REPOS}/app/-/images/scan", {"imageId": {"imageTag": "v1"}}, 200),
    ("ecr:DescribeImageScanFindings", "get", f"{REPOS}/app/-/images/scan-findings?imageTag=v1", None, 404),
    ("ecr:DescribeImageScanFindings", "get", f"{REPOS}/app/-/images/sbom?imageTag=v1", None, 404),
    ("ecr:GetRegistryScanningConfiguration", "get", "/api/v1/registry/scanning-configuration", None, 200),
    (
        "ecr:PutRegistryScanningConfiguration",
        "put",
        "/api/v1/registry/scanning-configuration",
        {"scanType": "BASIC", "rules": []},
        200,
    ),
    ("ecr:DescribeRepositories", "get", "/api/v1/usage", None, 200),
    ("ecr:PutLifecyclePolicy", "put", f"{REPOS}/app/-/lifecycle-policy", {"lifecyclePolicyText": LIFECYCLE}, 200),
    ("ecr:GetLifecyclePolicy", "get", f"{REPOS}/app/-/lifecycle-policy", None, 404),
    ("ecr:DeleteLifecyclePolicy", "delete", f"{REPOS}/app/-/lifecycle-policy", None, 404),
    (
        "ecr:StartLifecyclePolicyPreview",
        "post",
        f"{REPOS}/app/-/lifecycle-policy/preview",
        {"lifecyclePolicyText": LIFECYCLE},
        200,
    ),
    ("ecr:GetLifecyclePolicyPreview", "get", f"{REPOS}/app/-/lifecycle-policy/preview", None, 404),
    ("iam:ListAccessKeys", "get", "/api/v1/access-keys", None, 200),
    ("iam:CreateAccessKey", "post", "/api/v1/access-keys", None, 201),
]


def call(client: APIClient, method: str, path: str, body, estate: dict):
    if body == "manifest":
        body = {"imageManifest": estate["manifest"], "imageTag": "copy"}
    return getattr(client, method)(path, body, format="json") if body is not None else getattr(client, method)(path)


@pytest.mark.parametrize(
    ("action", "method", "path", "body", "allowed_status"),
    ENDPOINTS,
    ids=[f"{method}-{path.split('/api/v1/')[1]}-{action}" for action, method, path, *_ in ENDPOINTS],
)
def test_each_endpoint_refuses_without_its_action_and_serves_with_it(
    tenant, estate, settings, action, method, path, body, allowed_status
):
    settings.BERTH_AUDIT_SYNCHRONOUS = True
    without = iam_user(
        tenant,
        "without",
        document(
            allow("ecr:DescribeRepositories") if action != "ecr:DescribeRepositories" else allow("ecr:ListImages")
        ),
    )
    response = call(api_client_of(without), method, path, body, estate)
    assert response.status_code == 403, response.content
    assert response.json()["code"] == "access_denied"
    assert action in response.json()["detail"]
    refused = Event.objects.get(actor_username=without.membership.user_name)
    assert (refused.event_name, refused.error_code) == (action.partition(":")[2], "AccessDenied")

    with_action = iam_user(tenant, "with", document(allow(action)))
    response = call(api_client_of(with_action), method, path, body, estate)
    assert response.status_code == allowed_status, response.content


def test_the_root_user_needs_no_policy(tenant, estate, api_client):
    root = api_client(tenant)
    assert root.delete(f"{REPOS}/old").status_code == 204
    assert (
        root.post(f"{REPOS}/app/-/images/batch-delete", {"imageIds": [{"imageTag": "gone"}]}, format="json").status_code
        == 200
    )


def test_describe_repositories_lists_only_what_the_user_may_describe(tenant, estate):
    arn = f"arn:aws:ecr:*:{tenant.id}:repository/app"
    client = api_client_of(iam_user(tenant, "limited", document(allow("ecr:DescribeRepositories", resource=arn))))
    assert [r["name"] for r in client.get(REPOS).json()["repositories"]] == ["app"]
    nobody = api_client_of(iam_user(tenant, "nobody"))
    assert nobody.get(REPOS).json()["repositories"] == []


def test_a_listing_reads_the_repository_policies_in_one_query(tenant, estate):
    client = api_client_of(iam_user(tenant, "reader", "BerthRegistryReadOnly"))
    for name in ("one", "two", "three"):
        repository_services.create_repository(actor=Actor.system("test"), account=tenant.account, name=name)
    with CaptureQueriesContext(connection) as queries:
        listed = client.get(REPOS).json()["repositories"]
    assert len(listed) == 6
    assert len([q for q in queries.captured_queries if "iam_repositorypolicy" in q["sql"]]) == 1
    assert len([q for q in queries.captured_queries if "accounts_account" in q["sql"]]) <= 2


def test_another_accounts_repository_is_not_found_even_with_every_right(tenant, other_tenant, estate):
    outsider = api_client_of(iam_user(other_tenant, "admin", "BerthRegistryFullAccess"))
    response = outsider.get(f"{REPOS}/app")
    assert (response.status_code, response.json()["code"]) == (404, "not_found")


def test_a_repository_policy_grants_management_reads_to_a_user(tenant, estate):
    user = iam_user(tenant, "guest")
    client = api_client_of(user)
    assert client.get(f"{REPOS}/app/-/images").status_code == 403
    repository = tenant.account.repositories.get(name="app")
    services.set_repository_policy(
        actor=Actor.system("test"),
        repository=repository,
        document=document(
            {
                "Effect": "Allow",
                "Principal": {"AWS": selectors.user_arn(tenant.account, user.membership.user_name)},
                "Action": "ecr:ListImages",
            }
        ),
    )
    assert client.get(f"{REPOS}/app/-/images").status_code == 200


def test_an_explicit_deny_refuses_full_access(tenant, estate):
    client = api_client_of(
        iam_user(
            tenant,
            "careful",
            "BerthRegistryFullAccess",
            document({"Effect": "Deny", "Action": "ecr:DeleteRepository", "Resource": "*"}),
        )
    )
    response = client.delete(f"{REPOS}/old")
    assert response.status_code == 403 and "ecr:DeleteRepository" in response.json()["detail"]
    assert client.get(f"{REPOS}/old").status_code == 200


def test_access_keys_of_a_user_outside_every_account_are_its_own_business(db):
    operator = get_user_model().objects.create_user(username="operator", password="x")
    client = api_client_of(operator)
    assert client.get("/api/v1/access-keys").status_code == 200
    assert client.post("/api/v1/access-keys").status_code == 201


def test_a_role_session_acts_with_its_roles_policies(tenant, estate):
    role = services.create_role(
        actor=Actor.system("test"),
        account=tenant.account,
        name="reader",
        trust_policy=document({"Effect": "Allow", "Principal": {"AWS": tenant.id}, "Action": "sts:AssumeRole"}),
    )
    services.attach_policy(
        actor=Actor.system("test"),
        account=tenant.account,
        managed_policy=selectors.policy_named(tenant.account, "BerthRegistryReadOnly"),
        role=role,
    )
    root = selectors.caller_for_user(get_user_model().objects.get(username=tenant.username))
    assumed = services.assume_role(caller=root, role_arn=role.arn, session_name="audit", source_ip="127.0.0.1")
    client = APIClient()
    client.credentials(
        HTTP_AUTHORIZATION=basic_auth(assumed.session.access_key_id, assumed.secret_access_key),
        HTTP_X_BERTH_SECURITY_TOKEN=assumed.session_token,
    )
    assert client.get(f"{REPOS}/app/-/images").status_code == 200
    response = client.delete(f"{REPOS}/old")
    assert response.status_code == 403
    assert "assumed-role/reader/audit" in response.json()["detail"]
    assert client.get("/api/v1/access-keys").status_code == 403


def test_a_suspended_accounts_root_is_refused(tenant, estate):
    """Its credentials stop at sign-in; a browser session already open stops here."""
    from django.utils import timezone

    client = APIClient()
    client.force_authenticate(get_user_model().objects.get(username=tenant.username))
    assert client.get(f"{REPOS}/app").status_code == 200
    type(tenant.account).objects.filter(pk=tenant.id).update(suspended_at=timezone.now(), suspension_reason="abuse")
    response = client.get(f"{REPOS}/app")
    assert response.status_code == 403 and "suspended" in response.json()["detail"]
    assert json.loads(response.content)["code"] == "access_denied"


def test_usage_needs_describe_repositories_on_every_repository_of_the_account(tenant, estate):
    """The account's usage sizes all its repositories: DescribeRepositories on one of them is not enough."""
    one = f"arn:aws:ecr:*:{tenant.id}:repository/app"
    every = f"arn:aws:ecr:*:{tenant.id}:repository/*"
    limited = api_client_of(iam_user(tenant, "limited", document(allow("ecr:DescribeRepositories", resource=one))))
    assert limited.get("/api/v1/usage").status_code == 403
    allowed = api_client_of(iam_user(tenant, "all", document(allow("ecr:DescribeRepositories", resource=every))))
    assert allowed.get("/api/v1/usage").status_code == 200
