"""aws:SecureTransport is true for a request that came over TLS, here through a
trusted TLS proxy: a policy that denies everything over plain HTTP lets the same
caller in only that way, on the registry and on the management API."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from apps.accounts import services as account_services
from apps.audit.events import Actor
from apps.conftest import PASSWORD, RegistryClient, basic_auth
from apps.iam import services
from apps.repositories import services as repository_services

from .test_enforcement import allow, can_pull, document, iam_user, pushed_manifest

pytestmark = pytest.mark.django_db

PROXY = "10.0.0.5"
HOST = "registry.example.com"
INSECURE = {"Bool": {"aws:SecureTransport": "false"}}
DENY_PLAIN_HTTP = {"Effect": "Deny", "Action": "*", "Resource": "*", "Condition": INSECURE}


@pytest.fixture
def behind_proxy(settings):
    settings.BERTH_TRUSTED_PROXIES = "10.0.0.0/8"
    settings.ALLOWED_HOSTS = [HOST]


def over(transport: str, *, remote_addr: str = PROXY) -> dict:
    return {"HTTP_HOST": HOST, "REMOTE_ADDR": remote_addr, "HTTP_X_FORWARDED_PROTO": transport}


def test_the_registry_denies_plain_http_and_allows_tls_through_the_proxy(tenant, registry_client, behind_proxy):
    name = f"{tenant.id}/app"
    root = registry_client(tenant)
    root.client = Client(**over("https"))
    pushed_manifest(root, name, "v1")
    user = iam_user(tenant, "tls-only", document(allow("ecr:*"), DENY_PLAIN_HTTP))

    def puller(**headers) -> RegistryClient:
        client = RegistryClient((user.get_username(), PASSWORD))
        client.client = Client(**headers)
        return client

    assert can_pull(puller(**over("https")), name)
    assert not can_pull(puller(**over("http")), name)
    # a client that is no trusted proxy cannot claim TLS it does not have
    assert not can_pull(puller(**over("https", remote_addr="203.0.113.9")), name)


def test_the_api_denies_plain_http_and_allows_tls_through_the_proxy(tenant, behind_proxy):
    user = iam_user(tenant, "api-tls-only", document(allow("ecr:*"), DENY_PLAIN_HTTP))
    new_key = account_services.create_access_key(actor=Actor.system("test"), user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=basic_auth(new_key.access_key.access_key_id, new_key.secret))

    repository_services.create_repository(actor=Actor.system("test"), account=tenant.account, name="app")

    assert client.get("/api/v1/repositories/app", **over("https")).status_code == 200
    refused = client.get("/api/v1/repositories/app", **over("http"))
    assert refused.status_code == 403 and refused.json()["code"] == "access_denied"


def test_assume_role_sees_the_transport(tenant, api_client, behind_proxy):
    services.create_role(
        actor=Actor.system("test"),
        account=tenant.account,
        name="tls-role",
        trust_policy=document(
            {"Effect": "Allow", "Principal": {"AWS": tenant.id}, "Action": "sts:AssumeRole"},
            {**DENY_PLAIN_HTTP, "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"},
        ),
    )
    client = api_client(tenant)
    body = {"roleArn": f"arn:berth:iam::{tenant.id}:role/tls-role", "roleSessionName": "ci"}

    assert client.post("/api/v1/sts/assume-role", body, format="json", **over("https")).status_code == 200
    assert client.post("/api/v1/sts/assume-role", body, format="json", **over("http")).status_code == 403
