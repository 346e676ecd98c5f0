"""A suspended account's credentials stop working at once, every kind of them, and
work again once it is reinstated."""

import pytest
from django.contrib.auth import get_user_model

from apps.accounts import services
from apps.accounts.authentication import LoginPasswordRefused, check_access_key, check_login_password, check_password
from apps.audit.events import Actor

from .conftest import STAFF

pytestmark = pytest.mark.django_db

IP = "192.0.2.7"


def test_suspension_stops_passwords_access_keys_and_login_passwords_at_once(tenant):
    user = get_user_model().objects.get(username=tenant.username)
    key = services.create_access_key(actor=Actor.system("test"), user=user)
    login_password = services.create_login_password(user=user).password
    # Remembered successes must not outlive the suspension either.
    assert check_password(tenant.username, tenant.password, client_ip=IP).account_id == tenant.id
    assert check_access_key(key.access_key.access_key_id, key.secret, client_ip=IP) is not None
    assert check_login_password(login_password, client_ip=IP) == user

    services.suspend_account(account=tenant.account, reason="abuse report 1234", actor=STAFF)

    assert check_password(tenant.username, tenant.password, client_ip=IP) is None
    assert check_access_key(key.access_key.access_key_id, key.secret, client_ip=IP) is None
    with pytest.raises(LoginPasswordRefused, match="suspended"):
        check_login_password(login_password, client_ip=IP)

    services.reinstate_account(account=tenant.account, actor=STAFF)

    assert check_password(tenant.username, tenant.password, client_ip=IP).account_id == tenant.id
    assert check_access_key(key.access_key.access_key_id, key.secret, client_ip=IP) is not None
    assert check_login_password(login_password, client_ip=IP) == user


def test_suspension_ends_open_sessions_and_refuses_sign_in_saying_why(client, tenant):
    client.post("/accounts/login", {"username": tenant.username, "password": tenant.password})
    assert client.get("/accounts/settings").status_code == 200

    services.suspend_account(account=tenant.account, reason="abuse report 1234", actor=STAFF)
    assert client.get("/accounts/settings").status_code == 302

    refused = client.post("/accounts/login", {"username": tenant.username, "password": tenant.password})
    assert "this account is suspended" in refused.content.decode()
    wrong = client.post("/accounts/login", {"username": tenant.username, "password": "not the password"})
    assert "suspended" not in wrong.content.decode()


def test_suspension_needs_a_reason_and_keeps_the_first_one(tenant):
    with pytest.raises(ValueError):
        services.suspend_account(account=tenant.account, reason=" ", actor=STAFF)
    services.suspend_account(account=tenant.account, reason="first", actor=STAFF)
    first_time = tenant.account.suspended_at
    services.suspend_account(account=tenant.account, reason="second", actor=STAFF)
    assert (tenant.account.suspended_at, tenant.account.suspension_reason) == (first_time, "first")


def test_staff_outside_any_account_sign_in_as_before(staff_user):
    assert check_password("operator", "staff-console-passphrase", client_ip=IP).account_id == ""
