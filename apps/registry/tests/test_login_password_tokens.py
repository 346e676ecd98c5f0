"""The token service takes a login password (GetAuthorizationToken) with the user
name `berth`, or `AWS` as Amazon ECR's does, and signs its user in."""

from __future__ import annotations

import base64
import time

import jwt
import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from apps.accounts import login_passwords, services
from apps.conftest import RegistryClient, basic_auth

pytestmark = pytest.mark.django_db

TWELVE_HOURS = 12 * 3600


def user_of(tenant):
    return get_user_model().objects.get(username=tenant.username)


def login_password(tenant) -> str:
    return services.create_login_password(user=user_of(tenant)).password


def get_token(username: str, password: str, scope: str = "", **headers):
    query = f"service=berth-registry&scope={scope}" if scope else "service=berth-registry"
    return Client(**headers).get(f"/token?{query}", HTTP_AUTHORIZATION=basic_auth(username, password))


def error(response) -> tuple[str, str]:
    (only,) = response.json()["errors"]
    return only["code"], only["message"]


@pytest.mark.parametrize("username", ["berth", "AWS", "aws"])
def test_berth_or_aws_with_a_login_password_signs_its_user_in(tenant, username):
    scope = f"repository:{tenant.id}/app:pull,push"
    response = get_token(username, login_password(tenant), scope)
    assert response.status_code == 200, response.content
    claims = jwt.decode(response.json()["token"], options={"verify_signature": False})
    assert claims["sub"] == tenant.username
    assert claims["berth:account"] == tenant.id
    assert claims["access"] == [{"type": "repository", "name": f"{tenant.id}/app", "actions": ["pull", "push"]}]


def test_the_oauth2_password_grant_takes_one_too(tenant):
    response = Client().post(
        "/token",
        {
            "grant_type": "password",
            "service": "berth-registry",
            "username": "AWS",
            "password": login_password(tenant),
            "scope": f"repository:{tenant.id}/app:pull",
        },
    )
    assert response.status_code == 200, response.content
    assert jwt.decode(response.json()["access_token"], options={"verify_signature": False})["sub"] == tenant.username


def test_a_push_and_pull_with_a_login_password(tenant):
    client = RegistryClient(("berth", login_password(tenant)))
    name = f"{tenant.id}/via-login-password"
    digest, _ = client.push_image(name, "v1")
    pulled = client.request(
        "GET",
        f"/v2/{name}/manifests/v1",
        scope=f"repository:{name}:pull",
        headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
    )
    assert pulled.status_code == 200
    assert pulled["Docker-Content-Digest"] == digest


def test_it_grants_nothing_in_another_account(tenant, other_tenant):
    response = get_token("berth", login_password(other_tenant), f"repository:{tenant.id}/app:pull,push")
    assert response.status_code == 200
    claims = jwt.decode(response.json()["token"], options={"verify_signature": False})
    assert claims["sub"] == other_tenant.username
    assert claims["access"][0]["actions"] == []


def test_an_expired_one_is_refused(tenant):
    user = user_of(tenant)
    expired = login_passwords.issue(user_id=user.pk, password_hash=user.password, now=time.time() - TWELVE_HOURS)
    response = get_token("berth", expired.password)
    assert response.status_code == 401
    code, message = error(response)
    assert code == "UNAUTHORIZED" and "expired" in message
    assert response["WWW-Authenticate"] == 'Basic realm="berth"'


def test_a_password_change_or_deactivation_revokes_it(tenant):
    password = login_password(tenant)
    user = user_of(tenant)
    user.set_password("a-brand-new-passphrase")
    user.save()
    response = get_token("berth", password)
    assert response.status_code == 401 and "revoked" in error(response)[1]

    password = login_password(tenant)
    user.is_active = False
    user.save()
    response = get_token("AWS", password)
    assert response.status_code == 401 and "revoked" in error(response)[1]


def test_it_goes_only_with_berth_or_aws(tenant):
    """With the user's own name the password is checked as their own password: wrong."""
    response = get_token(tenant.username, login_password(tenant))
    assert response.status_code == 401
    assert error(response) == ("UNAUTHORIZED", "incorrect username or password")


def test_a_user_named_berth_still_signs_in_with_their_own_password(tenant):
    services.create_account(name="berth's", username="berth", password="berths-own-passphrase")
    response = get_token("berth", "berths-own-passphrase")
    assert response.status_code == 200, response.content
    assert jwt.decode(response.json()["token"], options={"verify_signature": False})["sub"] == "berth"
    # ... and anyone's login password still goes with that name.
    response = get_token("berth", login_password(tenant))
    assert jwt.decode(response.json()["token"], options={"verify_signature": False})["sub"] == tenant.username


def test_forgeries_are_throttled_but_a_genuine_one_still_passes(tenant, settings):
    settings.BERTH_LOGIN_FAILURES_ALLOWED = 2
    genuine = login_password(tenant)
    prefix, payload, mac = genuine.split(".")
    forged = f"{prefix}.{payload}.{'A' * len(mac)}"
    for _ in range(2):
        response = get_token("berth", forged)
        assert response.status_code == 401 and error(response) == ("UNAUTHORIZED", "not a valid login password")
    throttled = get_token("AWS", forged)
    assert throttled.status_code == 429
    assert error(throttled)[0] == "TOOMANYREQUESTS"
    assert int(throttled["Retry-After"]) > 0
    assert get_token("berth", forged, REMOTE_ADDR="10.9.9.9").status_code == 401
    assert get_token("berth", genuine).status_code == 200


def test_plain_password_failures_for_berth_are_still_throttled(settings):
    """Without the login password shape, `berth` is just a user name (here: nobody's)."""
    settings.BERTH_LOGIN_FAILURES_ALLOWED = 2
    for _ in range(2):
        assert get_token("berth", "hunter2").status_code == 401
    assert get_token("berth", "hunter2").status_code == 429


def test_an_authorization_token_from_the_api_is_a_docker_config_auth(tenant, api_client):
    """What GetAuthorizationToken returns is the `auth` a Docker config.json holds."""
    body = api_client(tenant).post("/api/v1/authorization-token").json()
    username, _, password = base64.b64decode(body["authorizationToken"]).decode().partition(":")
    assert get_token(username, password).status_code == 200
