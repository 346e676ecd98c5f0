"""A registry token dies with the credential it was issued from: after a password
change, a user's deactivation, an account's suspension, an access key's
deactivation or deletion (for a token got with a login password minted with that
key) or a role session's end, its next use is a 401 with the usual challenge."""

from __future__ import annotations

import base64
import json

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from apps.accounts import services as account_services
from apps.accounts.models import AccessKey
from apps.audit.events import Actor
from apps.iam import selectors as iam_selectors
from apps.iam import services as iam_services
from apps.iam.models import RoleSession
from apps.repositories import services as repository_services
from apps.repositories.models import Visibility

pytestmark = pytest.mark.django_db


def get_token(username: str, password: str, scope: str) -> str:
    auth = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
    response = Client().get(f"/token?service=berth-registry&scope={scope}", HTTP_AUTHORIZATION=auth)
    assert response.status_code == 200, response.content
    return response.json()["token"]


def get_manifest(name: str, token: str | None):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return Client().get(
        f"/v2/{name}/manifests/latest", HTTP_ACCEPT="application/vnd.oci.image.manifest.v1+json", **headers
    )


def assert_revoked(response) -> None:
    assert response.status_code == 401, response.content
    assert response.json()["errors"][0]["code"] == "UNAUTHORIZED"
    assert "credential it was issued from" in response.json()["errors"][0]["message"]
    challenge = response["WWW-Authenticate"]
    assert challenge.startswith('Bearer realm="') and 'error="invalid_token"' in challenge


@pytest.fixture
def image(tenant, registry_client):
    name = f"{tenant.id}/app"
    registry_client(tenant).push_image(name, "latest")
    return name


def user_of(tenant):
    return get_user_model().objects.get(username=tenant.username)


@pytest.mark.parametrize("change", ["password", "deactivation", "suspension"])
def test_a_users_token_dies_with_the_users_credential(tenant, image, change):
    token = get_token(tenant.username, tenant.password, f"repository:{image}:pull")
    assert get_manifest(image, token).status_code == 200
    user = user_of(tenant)
    if change == "password":
        user.set_password("a-brand-new-passphrase")
        user.save()
    elif change == "deactivation":
        user.is_active = False
        user.save()
    else:
        account_services.suspend_account(account=tenant.account, reason="abuse", actor=Actor.staff("operator"))
    assert_revoked(get_manifest(image, token))
    # Every route that reads the token refuses it, not only the repository's.
    client = Client()
    for path in ("/v2/", "/v2/_catalog", f"/v2/{tenant.id}/missing/manifests/latest"):
        assert client.get(path, HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 401, path


def test_an_iam_users_token_dies_with_its_password(tenant, image):
    user = iam_services.create_user(
        actor=Actor.system("test"), account=tenant.account, username="reader", password="reader-passphrase"
    )
    iam_services.attach_policy(
        actor=Actor.system("test"),
        account=tenant.account,
        managed_policy=iam_selectors.policy_named(tenant.account, "BerthRegistryReadOnly"),
        user=user,
    )
    token = get_token(f"{tenant.id}/reader", "reader-passphrase", f"repository:{image}:pull")
    assert get_manifest(image, token).status_code == 200
    user.set_password("reader-new-passphrase")
    user.save()
    assert_revoked(get_manifest(image, token))
    assert (
        get_manifest(
            image, get_token(f"{tenant.id}/reader", "reader-new-passphrase", f"repository:{image}:pull")
        ).status_code
        == 200
    )


@pytest.mark.parametrize("change", ["deactivate", "delete", "password"])
def test_a_token_got_with_a_keys_login_password_dies_with_the_key(tenant, image, api_client, change):
    client = api_client(tenant)
    login_password = client.post("/api/v1/authorization-token").json()["password"]
    token = get_token("AWS", login_password, f"repository:{image}:pull")
    assert get_manifest(image, token).status_code == 200
    access_key = AccessKey.objects.get(user__username=tenant.username)
    if change == "deactivate":
        account_services.deactivate_access_key(actor=Actor.system("test"), access_key=access_key)
    elif change == "delete":
        account_services.delete_access_key(actor=Actor.system("test"), access_key=access_key)
    else:
        user = user_of(tenant)
        user.set_password("a-brand-new-passphrase")
        user.save()
    assert_revoked(get_manifest(image, token))
    # The login password itself is refused too, at the registry and at the API.
    auth = "Basic " + base64.b64encode(f"AWS:{login_password}".encode()).decode()
    refused = Client().get("/token?service=berth-registry", HTTP_AUTHORIZATION=auth)
    assert refused.status_code == 401 and "revoked" in refused.json()["errors"][0]["message"]
    bearer = Client().get("/api/v1/registries", HTTP_AUTHORIZATION=f"Bearer {login_password}")
    assert bearer.status_code == 401


def test_a_role_sessions_token_dies_with_the_session(tenant, image):
    role = iam_services.create_role(
        actor=Actor.system("test"),
        account=tenant.account,
        name="puller",
        trust_policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Principal": {"AWS": tenant.id}, "Action": "sts:AssumeRole"}],
            }
        ),
    )
    iam_services.attach_policy(
        actor=Actor.system("test"),
        account=tenant.account,
        managed_policy=iam_selectors.policy_named(tenant.account, "BerthRegistryReadOnly"),
        role=role,
    )
    root = iam_selectors.caller_for_user(user_of(tenant))
    assumed = iam_services.assume_role(caller=root, role_arn=role.arn, session_name="ci", source_ip="127.0.0.1")
    token = get_token(assumed.session.access_key_id, assumed.session_token, f"repository:{image}:pull")
    assert get_manifest(image, token).status_code == 200
    RoleSession.objects.filter(pk=assumed.session.pk).delete()
    assert_revoked(get_manifest(image, token))


def test_anonymous_tokens_are_unaffected(tenant, registry_client):
    name = f"{tenant.id}/public-app"
    repository_services.create_repository(
        actor=Actor.system("test"), account=tenant.account, name="public-app", visibility=Visibility.PUBLIC
    )
    registry_client(tenant).push_image(name, "latest")
    public_name = f"{tenant.alias}/public-app"
    response = Client().get(f"/token?service=berth-registry&scope=repository:{public_name}:pull")
    token = response.json()["token"]
    assert get_manifest(public_name, token).status_code == 200
    user = user_of(tenant)
    user.set_password("a-brand-new-passphrase")
    user.save()
    assert get_manifest(public_name, token).status_code == 200


def test_a_token_keeps_working_while_its_credential_holds(tenant, image):
    token = get_token(tenant.username, tenant.password, f"repository:{image}:pull")
    user = user_of(tenant)
    user.email = "changed@example.com"  # not a credential
    user.save()
    account_services.create_access_key(actor=Actor.system("test"), user=user)
    for _ in range(3):
        assert get_manifest(image, token).status_code == 200


def test_a_token_for_another_accounts_public_repository_dies_with_its_own_account(
    tenant, other_tenant, registry_client
):
    repository_services.create_repository(
        actor=Actor.system("test"), account=other_tenant.account, name="base", visibility=Visibility.PUBLIC
    )
    registry_client(other_tenant).push_image(f"{other_tenant.id}/base", "latest")
    public_name = f"{other_tenant.alias}/base"
    token = get_token(tenant.username, tenant.password, f"repository:{public_name}:pull")
    assert get_manifest(public_name, token).status_code == 200
    account_services.suspend_account(account=tenant.account, reason="abuse", actor=Actor.staff("operator"))
    assert_revoked(get_manifest(public_name, token))
