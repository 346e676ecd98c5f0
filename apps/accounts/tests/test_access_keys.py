"""Access keys: the services, the credential check, and the /api/v1/access-keys endpoints."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import check_password as check_hashed
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.test import APIClient

from apps.accounts import services
from apps.accounts.authentication import check_access_key
from apps.accounts.models import AccessKey, AccessKeyStatus
from apps.accounts.throttle import Throttled
from apps.audit.events import Actor
from apps.conftest import basic_auth
from apps.iam import services as iam_services

pytestmark = pytest.mark.django_db


@pytest.fixture
def user(tenant):
    return get_user_model().objects.get(username=tenant.username)


def signed(new_key: services.NewAccessKey) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=basic_auth(new_key.access_key.access_key_id, new_key.secret))
    return client


# -- services -----------------------------------------------------------------------


def test_a_new_key_has_an_id_and_a_secret_kept_only_as_a_hash(user):
    new_key = services.create_access_key(actor=Actor.system("test"), user=user)
    key = AccessKey.objects.get(pk=new_key.access_key.pk)
    assert re.fullmatch(r"BKIA[A-Z0-9]{16}", key.access_key_id)
    assert len(new_key.secret) >= 40
    assert new_key.secret not in key.secret_hash
    assert check_hashed(new_key.secret, key.secret_hash)
    assert key.status == AccessKeyStatus.ACTIVE and key.last_used_at is None


def test_at_most_two_active_keys(user):
    first = services.create_access_key(actor=Actor.system("test"), user=user).access_key
    services.create_access_key(actor=Actor.system("test"), user=user)
    with pytest.raises(services.AccessKeyLimitExceeded, match="at most 2 active"):
        services.create_access_key(actor=Actor.system("test"), user=user)
    services.deactivate_access_key(actor=Actor.system("test"), access_key=first)
    third = services.create_access_key(actor=Actor.system("test"), user=user).access_key
    with pytest.raises(services.AccessKeyLimitExceeded):
        services.activate_access_key(actor=Actor.system("test"), access_key=first)
    services.delete_access_key(actor=Actor.system("test"), access_key=third)
    services.activate_access_key(actor=Actor.system("test"), access_key=first)
    assert AccessKey.objects.filter(user=user, status=AccessKeyStatus.ACTIVE).count() == 2
    assert AccessKey.objects.get(pk=first.pk).is_active


def test_the_database_refuses_a_third_active_key(user):
    services.create_access_key(actor=Actor.system("test"), user=user)
    services.create_access_key(actor=Actor.system("test"), user=user)
    for slot in (1, 2, 3, None):
        with pytest.raises(IntegrityError), transaction.atomic():
            AccessKey.objects.create(
                user=user,
                access_key_id="BKIA" + "A" * 15 + str(slot or 0),
                secret_hash="x",
                status=AccessKeyStatus.ACTIVE,
                active_slot=slot,
            )
    with pytest.raises(IntegrityError), transaction.atomic():
        AccessKey.objects.create(
            user=user, access_key_id="BKIA" + "B" * 16, secret_hash="x", status=AccessKeyStatus.INACTIVE, active_slot=1
        )


def test_keys_of_one_user_do_not_limit_another(user, other_tenant):
    other = get_user_model().objects.get(username=other_tenant.username)
    services.create_access_key(actor=Actor.system("test"), user=user)
    services.create_access_key(actor=Actor.system("test"), user=user)
    services.create_access_key(actor=Actor.system("test"), user=other)
    services.create_access_key(actor=Actor.system("test"), user=other)


# -- checking a key -----------------------------------------------------------------


def test_check_accepts_the_pair_and_refuses_anything_else(user):
    new_key = services.create_access_key(actor=Actor.system("test"), user=user)
    key_id = new_key.access_key.access_key_id
    assert check_access_key(key_id, new_key.secret, client_ip="10.0.0.1").user == user
    assert check_access_key(key_id, new_key.secret + "x", client_ip="10.0.0.1") is None
    assert check_access_key("BKIA" + "Z" * 16, new_key.secret, client_ip="10.0.0.1") is None


def test_a_remembered_check_ends_with_the_key_or_the_user(user):
    new_key = services.create_access_key(actor=Actor.system("test"), user=user)
    key_id = new_key.access_key.access_key_id
    assert check_access_key(key_id, new_key.secret, client_ip="10.0.0.1") is not None
    services.deactivate_access_key(actor=Actor.system("test"), access_key=new_key.access_key)
    assert check_access_key(key_id, new_key.secret, client_ip="10.0.0.1") is None
    services.activate_access_key(actor=Actor.system("test"), access_key=new_key.access_key)
    assert check_access_key(key_id, new_key.secret, client_ip="10.0.0.1") is not None
    user.is_active = False
    user.save()
    assert check_access_key(key_id, new_key.secret, client_ip="10.0.0.1") is None


def test_failed_checks_are_throttled_per_key_and_address(user, settings):
    settings.BERTH_LOGIN_FAILURES_ALLOWED = 2
    new_key = services.create_access_key(actor=Actor.system("test"), user=user)
    key_id = new_key.access_key.access_key_id
    for _ in range(2):
        assert check_access_key(key_id, "wrong", client_ip="10.0.0.1") is None
    with pytest.raises(Throttled):
        check_access_key(key_id, new_key.secret, client_ip="10.0.0.1")
    assert check_access_key(key_id, new_key.secret, client_ip="10.0.0.2") is not None


def test_last_use_is_recorded_at_most_once_a_minute(user):
    new_key = services.create_access_key(actor=Actor.system("test"), user=user)
    key_id = new_key.access_key.access_key_id
    check_access_key(key_id, new_key.secret, client_ip="10.0.0.1")
    first_use = AccessKey.objects.get(access_key_id=key_id).last_used_at
    assert first_use is not None
    check_access_key(key_id, new_key.secret, client_ip="10.0.0.1")
    assert AccessKey.objects.get(access_key_id=key_id).last_used_at == first_use
    a_while_ago = timezone.now() - timedelta(minutes=2)
    AccessKey.objects.filter(access_key_id=key_id).update(last_used_at=a_while_ago)
    check_access_key(key_id, new_key.secret, client_ip="10.0.0.1")
    assert AccessKey.objects.get(access_key_id=key_id).last_used_at > a_while_ago


# -- the API ------------------------------------------------------------------------


def test_create_list_deactivate_and_delete_through_the_api(user):
    client = signed(services.create_access_key(actor=Actor.system("test"), user=user))
    created = client.post("/api/v1/access-keys")
    assert created.status_code == 201, created.content
    body = created.json()
    assert set(body) == {"accessKeyId", "secretAccessKey", "status", "createdAt"}
    assert body["status"] == "ACTIVE"
    new_client = APIClient()
    new_client.credentials(HTTP_AUTHORIZATION=basic_auth(body["accessKeyId"], body["secretAccessKey"]))

    listed = new_client.get("/api/v1/access-keys")
    assert listed.status_code == 200
    keys = {k["accessKeyId"]: k for k in listed.json()["accessKeys"]}
    assert len(keys) == 2
    assert keys[body["accessKeyId"]]["lastUsedAt"] is not None  # used for this very request
    assert "secretAccessKey" not in keys[body["accessKeyId"]]

    third = client.post("/api/v1/access-keys")
    assert third.status_code == 409
    assert third.json()["code"] == "access_key_limit_exceeded"

    deactivated = client.patch(f"/api/v1/access-keys/{body['accessKeyId']}", {"status": "INACTIVE"}, format="json")
    assert deactivated.status_code == 200 and deactivated.json()["status"] == "INACTIVE"
    refused = new_client.get("/api/v1/access-keys")
    assert refused.status_code == 401
    assert refused.json()["code"] == "authentication_failed"

    reactivated = client.patch(f"/api/v1/access-keys/{body['accessKeyId']}", {"status": "ACTIVE"}, format="json")
    assert reactivated.status_code == 200 and reactivated.json()["status"] == "ACTIVE"
    assert new_client.get("/api/v1/access-keys").status_code == 200

    assert client.delete(f"/api/v1/access-keys/{body['accessKeyId']}").status_code == 204
    assert new_client.get("/api/v1/access-keys").status_code == 401
    assert [k["accessKeyId"] for k in client.get("/api/v1/access-keys").json()["accessKeys"]] != [body["accessKeyId"]]


def test_a_bad_status_is_a_validation_error(user):
    client = signed(services.create_access_key(actor=Actor.system("test"), user=user))
    key_id = AccessKey.objects.get(user=user).access_key_id
    response = client.patch(f"/api/v1/access-keys/{key_id}", {"status": "PAUSED"}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert response.json()["errors"] == [
        {"field": "status", "code": "invalid_choice", "message": '"PAUSED" is not a valid choice.'}
    ]


def test_another_users_keys_are_not_found(user, other_tenant):
    client = signed(services.create_access_key(actor=Actor.system("test"), user=user))
    other = get_user_model().objects.get(username=other_tenant.username)
    foreign = services.create_access_key(actor=Actor.system("test"), user=other).access_key.access_key_id
    # Even a user of the same account sees only their own keys.
    teammate = iam_services.create_user(
        actor=Actor.system("test"), account=user.membership.account, username="teammate"
    )
    teammate_key = services.create_access_key(actor=Actor.system("test"), user=teammate).access_key.access_key_id
    for key_id in (foreign, teammate_key, "BKIA" + "Q" * 16):
        assert client.patch(f"/api/v1/access-keys/{key_id}", {"status": "INACTIVE"}, format="json").status_code == 404
        response = client.delete(f"/api/v1/access-keys/{key_id}")
        assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert [k["accessKeyId"] for k in client.get("/api/v1/access-keys").json()["accessKeys"]] == [
        AccessKey.objects.get(user=user).access_key_id
    ]
    assert AccessKey.objects.get(access_key_id=foreign).is_active


def test_anonymous_and_password_basic_are_refused():
    anonymous = APIClient().get("/api/v1/access-keys")
    assert anonymous.status_code == 401
    assert anonymous.json()["code"] == "not_authenticated"
    assert anonymous["WWW-Authenticate"] == 'Basic realm="berth-api"'


def test_basic_with_a_username_and_password_is_refused(tenant):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=basic_auth(tenant.username, tenant.password))
    response = client.get("/api/v1/access-keys")
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"
    assert "access key" in response.json()["detail"]


# -- bootstrap: username and password for a key ----------------------------------------


def test_bootstrap_mints_a_key_that_works(tenant):
    response = APIClient().post(
        "/api/v1/auth/access-keys", {"username": tenant.username, "password": tenant.password}, format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=basic_auth(body["accessKeyId"], body["secretAccessKey"]))
    assert client.get("/api/v1/access-keys").json()["accessKeys"][0]["accessKeyId"] == body["accessKeyId"]


def test_bootstrap_refuses_wrong_passwords_then_throttles(tenant, settings):
    settings.BERTH_LOGIN_FAILURES_ALLOWED = 2
    client = APIClient()
    for _ in range(2):
        response = client.post(
            "/api/v1/auth/access-keys", {"username": tenant.username, "password": "wrong"}, format="json"
        )
        assert response.status_code == 403
        assert response.json() == {"code": "authentication_failed", "detail": "incorrect username or password"}
    throttled = client.post(
        "/api/v1/auth/access-keys", {"username": tenant.username, "password": tenant.password}, format="json"
    )
    assert throttled.status_code == 429
    assert throttled.json()["code"] == "throttled"
    assert int(throttled["Retry-After"]) > 0
    assert not AccessKey.objects.exists()


def test_bootstrap_validates_its_input_and_the_key_limit(tenant, user):
    client = APIClient()
    response = client.post("/api/v1/auth/access-keys", {"username": tenant.username}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"field": "password", "code": "required", "message": "This field is required."}
    ]
    services.create_access_key(actor=Actor.system("test"), user=user)
    services.create_access_key(actor=Actor.system("test"), user=user)
    response = client.post(
        "/api/v1/auth/access-keys", {"username": tenant.username, "password": tenant.password}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["code"] == "access_key_limit_exceeded"


def test_bootstrap_is_the_only_endpoint_that_takes_a_password(tenant):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=basic_auth(tenant.username, tenant.password))
    assert client.post("/api/v1/access-keys").status_code == 401
