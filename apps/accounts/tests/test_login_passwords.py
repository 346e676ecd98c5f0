"""Login passwords (GetAuthorizationToken): the signed format, the check against the
user's row, and the endpoint that mints them; Bearer on the management API."""

from __future__ import annotations

import base64
import json
import re
import time
from datetime import datetime

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.utils.crypto import get_random_string
from rest_framework.test import APIClient

from apps.accounts import login_passwords, selectors, services, signed_tokens
from apps.accounts.authentication import LoginPasswordRefused, check_login_password
from apps.accounts.login_passwords import ExpiredLoginPassword, InvalidLoginPassword
from apps.accounts.throttle import Throttled
from apps.audit.events import Actor
from apps.conftest import basic_auth
from apps.repositories.services import create_repository

NOW = 1_750_000_000  # the frozen clock of the format tests
TWELVE_HOURS = 12 * 3600


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def payload_of(password: str) -> dict:
    payload = password.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


# -- the format (no database) -------------------------------------------------------------


def test_a_login_password_names_its_user_and_lasts_twelve_hours():
    issued = login_passwords.issue(user_id=42, password_hash="pbkdf2_sha256$1$salt$hash", now=NOW)
    assert (issued.issued_at, issued.expires_at) == (NOW, NOW + TWELVE_HOURS)
    # token68 (RFC 7235): fits a Basic password and a Bearer header as it is.
    assert re.fullmatch(r"blp1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}", issued.password)
    assert len(issued.password) < 200
    claims = login_passwords.verify(issued.password, now=NOW)
    assert (claims.user_id, claims.issued_at, claims.expires_at) == ("42", NOW, NOW + TWELVE_HOURS)
    assert claims.matches_credentials("pbkdf2_sha256$1$salt$hash")
    assert not claims.matches_credentials("pbkdf2_sha256$1$salt$other")
    # The payload does not carry the password hash itself.
    assert "hash" not in json.dumps(payload_of(issued.password))


def test_it_expires_on_the_dot():
    issued = login_passwords.issue(user_id=1, password_hash="h", now=NOW)
    assert login_passwords.verify(issued.password, now=NOW + TWELVE_HOURS - 1).user_id == "1"
    for later in (NOW + TWELVE_HOURS, NOW + 10 * TWELVE_HOURS):
        with pytest.raises(ExpiredLoginPassword):
            login_passwords.verify(issued.password, now=later)


def test_the_lifetime_is_a_setting(settings):
    settings.BERTH_LOGIN_PASSWORD_TTL = 60
    issued = login_passwords.issue(user_id=1, password_hash="h", now=NOW)
    assert issued.expires_at == NOW + 60
    login_passwords.verify(issued.password, now=NOW + 59)
    with pytest.raises(ExpiredLoginPassword):
        login_passwords.verify(issued.password, now=NOW + 60)


def test_the_real_clock_is_the_default():
    issued = login_passwords.issue(user_id=1, password_hash="h")
    assert abs(issued.issued_at - time.time()) < 5
    assert login_passwords.verify(issued.password).user_id == "1"
    stale = login_passwords.issue(user_id=1, password_hash="h", now=time.time() - TWELVE_HOURS - 1)
    with pytest.raises(ExpiredLoginPassword):
        login_passwords.verify(stale.password)


def _tampered(password: str) -> list[str]:
    prefix, payload, mac = password.split(".")
    claims = payload_of(password)
    longer = b64url(json.dumps({**claims, "exp": claims["exp"] + 10**6}, separators=(",", ":")).encode())
    someone_else = b64url(json.dumps({**claims, "sub": "1"}, separators=(",", ":")).encode())
    flipped_mac = mac[:-2] + ("A" if mac[-2] != "A" else "B") + mac[-1]
    return [
        f"{prefix}.{longer}.{mac}",  # a later expiry
        f"{prefix}.{someone_else}.{mac}",  # another user
        f"{prefix}.{payload}.{flipped_mac}",
        f"{prefix}.{payload}.{mac[:-4]}",
        f"{prefix}.{payload}",
        f"{prefix}.{payload}.{mac}.{mac}",
        f"blp2.{payload}.{mac}",
        f"{prefix}..{mac}",
        f"{prefix}.{payload}.",
        f"{prefix}.{payload}.{mac}" + "A" * 2000,
        f"{prefix}.{payload}.!!",
        "",
        "blp1.",
        "not a login password",
        "blp1.é.é",
    ]


def test_anything_but_the_signed_text_is_refused():
    issued = login_passwords.issue(user_id=7, password_hash="h", now=NOW)
    for forged in _tampered(issued.password):
        with pytest.raises(InvalidLoginPassword) as refused:
            login_passwords.verify(forged, now=NOW)
        assert not isinstance(refused.value, ExpiredLoginPassword), forged


def test_a_signed_but_malformed_payload_is_refused():
    """Only a key shared with something else could sign one; it still must not crash."""
    for claims in (
        [1, 2],
        {"sub": 1, "crd": "x", "iat": 1, "exp": 2**40},
        {"sub": "1", "crd": "x", "iat": 1},
        {"sub": "1", "crd": "x", "iat": 1, "exp": "never"},
        "text",
    ):
        forged = signed_tokens.sign(claims, prefix=login_passwords.PREFIX, salt=login_passwords._MAC_SALT)
        with pytest.raises(InvalidLoginPassword):
            login_passwords.verify(forged, now=NOW)


def test_another_key_does_not_verify_but_a_rotated_one_still_does(settings):
    issued = login_passwords.issue(user_id=1, password_hash="h", now=NOW)
    old_key = settings.SECRET_KEY
    settings.SECRET_KEY = "a-new-secret-key-" + "x" * 40
    with pytest.raises(InvalidLoginPassword):
        login_passwords.verify(issued.password, now=NOW)
    settings.SECRET_KEY_FALLBACKS = [old_key]
    claims = login_passwords.verify(issued.password, now=NOW)
    assert claims.matches_credentials("h")


# -- the check against the user's row -------------------------------------------------------


@pytest.fixture
def user(tenant):
    return get_user_model().objects.get(username=tenant.username)


@pytest.mark.django_db
def test_a_login_password_signs_its_user_in_with_one_read_and_no_write(user, django_assert_num_queries):
    password = services.create_login_password(user=user).password
    account_id = user.membership.account_id
    with django_assert_num_queries(1):
        signed_in = check_login_password(password, client_ip="10.0.0.1")
        assert signed_in == user
        assert signed_in.membership.account_id == account_id


@pytest.mark.django_db
def test_a_password_change_revokes_it(user):
    password = services.create_login_password(user=user).password
    user.set_password("a-brand-new-passphrase")
    user.save()
    with pytest.raises(LoginPasswordRefused, match="revoked"):
        check_login_password(password, client_ip="10.0.0.1")
    fresh = services.create_login_password(user=user).password
    assert check_login_password(fresh, client_ip="10.0.0.1") == user


@pytest.mark.django_db
def test_deactivating_or_deleting_the_user_revokes_it(user):
    password = services.create_login_password(user=user).password
    user.is_active = False
    user.save()
    with pytest.raises(LoginPasswordRefused, match="revoked"):
        check_login_password(password, client_ip="10.0.0.1")
    user.delete()
    with pytest.raises(LoginPasswordRefused, match="revoked"):
        check_login_password(password, client_ip="10.0.0.1")


@pytest.mark.django_db
def test_an_expired_one_says_so(user):
    expired = login_passwords.issue(user_id=user.pk, password_hash=user.password, now=time.time() - TWELVE_HOURS)
    with pytest.raises(LoginPasswordRefused, match="expired"):
        check_login_password(expired.password, client_ip="10.0.0.1")


@pytest.mark.django_db
def test_forgeries_are_throttled_per_address_but_stale_and_valid_ones_are_not(user, settings):
    settings.BERTH_LOGIN_FAILURES_ALLOWED = 2
    valid = services.create_login_password(user=user).password
    expired = login_passwords.issue(user_id=user.pk, password_hash=user.password, now=time.time() - TWELVE_HOURS)
    forged = valid[:-3] + ("AAA" if not valid.endswith("AAA") else "BBB")
    # A kubelet retrying with an expired secret is not guessing: it never gets throttled.
    for _ in range(5):
        with pytest.raises(LoginPasswordRefused, match="expired"):
            check_login_password(expired.password, client_ip="10.0.0.1")
    for _ in range(2):
        with pytest.raises(LoginPasswordRefused, match="not a valid"):
            check_login_password(forged, client_ip="10.0.0.1")
    with pytest.raises(Throttled):
        check_login_password(forged, client_ip="10.0.0.1")
    with pytest.raises(LoginPasswordRefused):
        check_login_password(forged, client_ip="10.0.0.2")
    # A signature cannot be guessed, so a genuine one is never refused for others' forgeries.
    assert check_login_password(valid, client_ip="10.0.0.1") == user


# -- GetAuthorizationToken -----------------------------------------------------------------


def signed_with_key(user) -> APIClient:
    new_key = services.create_access_key(actor=Actor.system("test"), user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=basic_auth(new_key.access_key.access_key_id, new_key.secret))
    return client


def bearer(password: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {password}")
    return client


@pytest.mark.django_db
def test_get_authorization_token_with_an_access_key(user):
    before = time.time()
    response = signed_with_key(user).post("/api/v1/authorization-token")
    assert response.status_code == 200, response.content
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert set(body) == {"authorizationToken", "username", "password", "expiresAt", "proxyEndpoint"}
    assert body["username"] == "berth"
    assert base64.b64decode(body["authorizationToken"]).decode() == f"berth:{body['password']}"
    assert body["proxyEndpoint"] == "http://testserver"
    expires_at = datetime.fromisoformat(body["expiresAt"]).timestamp()
    assert before + TWELVE_HOURS - 5 <= expires_at <= time.time() + TWELVE_HOURS
    assert check_login_password(body["password"], client_ip="10.0.0.1") == user


@pytest.mark.django_db
def test_the_proxy_endpoint_is_the_public_url(user, settings):
    settings.BERTH_PUBLIC_URL = "https://registry.example.com"
    body = signed_with_key(user).post("/api/v1/authorization-token").json()
    assert body["proxyEndpoint"] == "https://registry.example.com"


@pytest.mark.django_db
def test_a_browser_session_gets_one_with_its_csrf_token(user):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.post("/api/v1/authorization-token").status_code == 403  # no CSRF token
    token = get_random_string(32)
    client.cookies[django_settings.CSRF_COOKIE_NAME] = token
    response = client.post("/api/v1/authorization-token", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 200
    assert check_login_password(response.json()["password"], client_ip="10.0.0.1") == user


@pytest.mark.django_db
def test_get_authorization_token_needs_a_signed_in_principal(tenant):
    anonymous = APIClient().post("/api/v1/authorization-token")
    assert anonymous.status_code == 401
    assert anonymous.json()["code"] == "not_authenticated"
    with_password = APIClient()
    with_password.credentials(HTTP_AUTHORIZATION=basic_auth(tenant.username, tenant.password))
    assert with_password.post("/api/v1/authorization-token").status_code == 401
    assert APIClient().get("/api/v1/authorization-token").status_code == 401


# -- Bearer on the management API ------------------------------------------------------------


@pytest.mark.django_db
def test_bearer_signs_api_requests_as_its_user_only(tenant, other_tenant, user):
    create_repository(actor=Actor.system("test"), account=tenant.account, name="team/app")
    create_repository(actor=Actor.system("test"), account=other_tenant.account, name="theirs")
    mine = bearer(services.create_login_password(user=user).password)
    listed = mine.get("/api/v1/repositories")
    assert listed.status_code == 200, listed.content
    assert [r["name"] for r in listed.json()["repositories"]] == ["team/app"]
    created = mine.post("/api/v1/repositories", {"name": "made/with-bearer"}, format="json")
    assert created.status_code == 201, created.content  # no CSRF: a header is not sent by browsers on their own

    other_user = get_user_model().objects.get(username=other_tenant.username)
    theirs = bearer(services.create_login_password(user=other_user).password)
    assert [r["name"] for r in theirs.get("/api/v1/repositories").json()["repositories"]] == ["theirs"]
    assert theirs.get("/api/v1/repositories/team/app").status_code == 404
    assert theirs.delete("/api/v1/repositories/team/app").status_code == 404


@pytest.mark.django_db
def test_a_login_password_cannot_manage_credentials(user):
    client = bearer(services.create_login_password(user=user).password)
    key_id = services.create_access_key(actor=Actor.system("test"), user=user).access_key.access_key_id
    for response in (
        client.post("/api/v1/authorization-token"),
        client.get("/api/v1/access-keys"),
        client.post("/api/v1/access-keys"),
        client.patch(f"/api/v1/access-keys/{key_id}", {"status": "INACTIVE"}, format="json"),
        client.delete(f"/api/v1/access-keys/{key_id}"),
    ):
        assert response.status_code == 403, response.content
        assert response.json()["code"] == "login_password_not_allowed"
    assert selectors.access_key_of(user, key_id).is_active


@pytest.mark.django_db
def test_bearer_refuses_what_is_not_a_current_login_password(user):
    expired = login_passwords.issue(user_id=user.pk, password_hash=user.password, now=time.time() - TWELVE_HOURS)
    revoked = services.create_login_password(user=user).password
    user.set_password("a-brand-new-passphrase")
    user.save()
    for password, says in [
        (expired.password, "expired"),
        (revoked, "revoked"),
        (revoked[:-2] + "xx", "not a valid login password"),
        ("eyJhbGciOiJSUzI1NiJ9.e30.c2ln", "Bearer takes a login password"),  # e.g. a registry token
        ("", "Bearer takes a login password"),
    ]:
        response = bearer(password).get("/api/v1/repositories")
        assert response.status_code == 401, password
        assert response.json()["code"] == "authentication_failed"
        assert says in response.json()["detail"]
