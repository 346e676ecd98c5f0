"""Hostile input on the management API: JSON bodies nested deep enough to exhaust
Python's parser, bodies too large, NUL characters (which PostgreSQL can neither
store nor look up) in bodies, paths and query parameters, and policy documents
(JSON inside JSON) nested deep. Each is a 4xx in the API's error shape, alike on
SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest

from apps.audit.events import Actor
from apps.iam.models import ManagedPolicy, Role
from apps.repositories.models import Repository
from apps.repositories.services import create_repository

pytestmark = pytest.mark.django_db

ALLOW_PULL = {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "ecr:BatchGetImage"}
TRUST = {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}


def document(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


@pytest.fixture
def root(api_client, tenant):
    client = api_client(tenant)
    client.raise_request_exception = False  # a server error is a response to look at
    # Public: it takes catalog data.
    create_repository(actor=Actor.system("test"), account=tenant.account, name="app", visibility="public")
    response = client.post(
        "/api/v1/iam/roles", {"roleName": "Deployer", "assumeRolePolicyDocument": document(TRUST)}, format="json"
    )
    assert response.status_code == 201, response.content
    return client


# Every operation that takes a JSON body, with a body it would accept.
JSON_OPERATIONS = [
    ("post", "/api/v1/repositories", {"name": "new"}),
    ("patch", "/api/v1/repositories/app", {"scanOnPush": True}),
    ("put", "/api/v1/repositories/app/-/image-tag-mutability", {"imageTagMutability": "IMMUTABLE"}),
    ("put", "/api/v1/repositories/app/-/catalog-data", {"description": "tools"}),
    ("put", "/api/v1/repositories/app/-/policy", {"policyText": document(ALLOW_PULL)}),
    ("post", "/api/v1/repositories/app/-/images", {"imageManifest": "{}"}),
    ("post", "/api/v1/repositories/app/-/images/describe", {"imageIds": [{"imageTag": "v1"}]}),
    ("post", "/api/v1/repositories/app/-/images/batch-get", {"imageIds": [{"imageTag": "v1"}]}),
    ("post", "/api/v1/repositories/app/-/images/batch-delete", {"imageIds": [{"imageTag": "v1"}]}),
    ("post", "/api/v1/iam/users", {"userName": "bob"}),
    ("post", "/api/v1/iam/policies", {"policyName": "Pull", "policyDocument": document(ALLOW_PULL)}),
    ("post", "/api/v1/iam/roles", {"roleName": "Builder", "assumeRolePolicyDocument": document(TRUST)}),
    ("put", "/api/v1/iam/roles/Deployer/trust-policy", {"policyDocument": document(TRUST)}),
    ("post", "/api/v1/iam/simulate", {"principalArn": "arn:aws:iam::123456789012:root", "actions": ["ecr:*"]}),
    ("post", "/api/v1/sts/assume-role", {"roleArn": "arn:aws:iam::123456789012:role/X", "roleSessionName": "s"}),
    ("put", "/api/v1/registry/catalog-data", {"displayName": "Tools"}),
]


def _send(client, method: str, path: str, body: bytes):
    return getattr(client, method)(path, data=body, content_type="application/json")


def assert_error(response, status: int, code: str) -> dict:
    assert response["Content-Type"] == "application/json", response.content[:200]
    body = response.json()
    assert (response.status_code, body["code"]) == (status, code), body
    return body


@pytest.mark.parametrize("levels", [10_000, 100_000])
def test_deeply_nested_bodies_are_refused_before_parsing(root, levels):
    for body in (b"[" * levels, b'{"a":' * levels, b"[" * levels + b"]" * levels):
        for method, path, _ in JSON_OPERATIONS:
            refusal = assert_error(_send(root, method, path, body), 400, "json_too_deep")
            assert "more than 64 levels deep" in refusal["detail"], (method, path)
    assert list(Repository.objects.values_list("name", flat=True)) == ["app"]


@pytest.mark.parametrize("levels", [10_000, 100_000])
def test_deeply_nested_bodies_are_refused_before_signing_in(api_client, levels):
    anonymous = api_client()
    assert_error(_send(anonymous, "post", "/api/v1/auth/access-keys", b"[" * levels), 400, "json_too_deep")


def test_the_operations_take_their_bodies_at_a_sane_depth(root):
    for method, path, body in JSON_OPERATIONS:
        response = _send(root, method, path, json.dumps(body).encode())
        assert response.status_code < 500, (method, path, response.content)
        assert response.json().get("code") != "json_too_deep"


@pytest.mark.parametrize("levels", [10_000, 100_000])
def test_policy_documents_nested_deep_are_invalid(root, levels):
    deep = "[" * min(levels, 10_000)  # a policy holds at most 10,240 characters
    for method, path, field in (
        ("put", "/api/v1/repositories/app/-/policy", "policyText"),
        ("post", "/api/v1/iam/policies", "policyDocument"),
        ("put", "/api/v1/iam/roles/Deployer/trust-policy", "policyDocument"),
    ):
        extra = {"policyName": "Deep"} if path.endswith("policies") else {}
        response = _send(root, method, path, json.dumps({field: deep, **extra}).encode())
        assert response.status_code == 400, response.content
        assert "levels deep" in response.json()["detail"]
    assert not ManagedPolicy.objects.filter(name="Deep").exists()
    assert "[[" not in Role.objects.get(name="Deployer").trust_policy


def test_bodies_over_the_limit_are_too_large(root, settings):
    settings.BERTH_API_MAX_JSON_BYTES = 1024
    body = json.dumps({"description": "x" * 2000}).encode()
    assert_error(_send(root, "put", "/api/v1/repositories/app/-/catalog-data", body), 413, "request_too_large")
    assert _send(root, "put", "/api/v1/repositories/app/-/catalog-data", b'{"description": "x"}').status_code == 200
    # PutImage takes a manifest's worth more.
    response = _send(root, "post", "/api/v1/repositories/app/-/images", json.dumps({"imageManifest": "{}"}).encode())
    assert response.json()["code"] != "request_too_large"


def test_nul_in_json_strings_and_keys_is_invalid(root):
    for method, path, body, field in (
        (
            "post",
            "/api/v1/iam/simulate",
            {
                "principalArn": "arn:aws:iam::123456789012:root",
                "actions": ["ecr:*"],
                "context": {"aws:username": "a\u0000"},
            },
            "context.aws:username",
        ),
        (
            "post",
            "/api/v1/iam/simulate",
            {"principalArn": "arn:aws:iam::123456789012:root", "actions": ["ecr:*"], "context": {"k\u0000": "v"}},
            "context.k\ufffd",
        ),
        ("post", "/api/v1/repositories", {"name": "new", "tags": [{"key": "k", "value": "\u0000"}]}, "tags.0.value"),
        (
            "post",
            "/api/v1/repositories/app/-/images/batch-get",
            {"imageIds": [{"imageTag": "v\u0000"}]},
            "imageIds.0.imageTag",
        ),
        (
            "post",
            "/api/v1/repositories/app/-/images/batch-delete",
            {"imageIds": [{"imageDigest": "\u0000"}]},
            "imageIds.0.imageDigest",
        ),
        ("put", "/api/v1/repositories/app/-/catalog-data", {"architectures": ["x86\u0000"]}, "architectures.0"),
        ("put", "/api/v1/iam/roles/Deployer/trust-policy", {"policyDocument": "\u0000"}, "policyDocument"),
    ):
        refusal = assert_error(_send(root, method, path, json.dumps(body).encode()), 400, "invalid")
        assert refusal["errors"] == [
            {"field": field, "message": "Null characters are not allowed.", "code": "null_characters_not_allowed"}
        ], (path, refusal)
    # An escaped backslash before `u0000` is no NUL.
    response = _send(root, "put", "/api/v1/repositories/app/-/catalog-data", b'{"description": "C:\\\\u0000"}')
    assert response.status_code == 200
    assert Repository.objects.get(name="app").catalog_data.description == "C:\\u0000"


def test_nul_inside_a_policy_document_never_reaches_a_query(root, tenant):
    principal = f"arn:aws:iam::{tenant.id}:user/a\u0000b"
    policy = document({**ALLOW_PULL, "Principal": {"AWS": principal}})
    response = _send(root, "put", "/api/v1/repositories/app/-/policy", json.dumps({"policyText": policy}).encode())
    assert response.status_code == 400, response.content


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/repositories/a%00b",
        "/api/v1/repositories/app%00/-/images",
        "/api/v1/iam/users/a%00b",
        "/api/v1/iam/users/bob/policies/a%00",
        "/api/v1/iam/policies/a%00b",
        "/api/v1/iam/roles/a%00b",
        "/api/v1/iam/roles/Deployer%00/trust-policy",
        "/api/v1/access-keys/BKIA%00",
    ],
)
def test_nul_in_a_path_is_invalid(root, path):
    for method in ("get", "delete"):
        refusal = assert_error(getattr(root, method)(path), 400, "invalid")
        assert refusal["errors"][0]["field"] == "path"


@pytest.mark.parametrize(
    "query, field",
    [
        ("/api/v1/audit/events?eventName=a%00", "eventName"),
        ("/api/v1/repositories?name_prefix=%00", "name_prefix"),
        ("/api/v1/repositories/app/-/images?tagStatus=TAGGED%00", "tagStatus"),
        ("/api/v1/repositories/app/-/pull-counts?days=1%00", "days"),
        ("/api/v1/audit/image-pulls?x%00=1", "x\ufffd"),
    ],
)
def test_nul_in_a_query_parameter_is_invalid(root, query, field):
    refusal = assert_error(root.get(query), 400, "invalid")
    assert refusal["errors"][0] == {
        "field": field,
        "message": "Null characters are not allowed.",
        "code": "null_characters_not_allowed",
    }
