"""One throttle for every place a password is checked (the website, the staff
console, `/token`, the API's key minting), per user name and client address with a
per-user ceiling and exponential back-off; sign-up per address; and sign-in by an
email whatever its case."""

from __future__ import annotations

import base64
import types

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.test import APIClient

from apps.accounts import services, throttle
from apps.accounts.authentication import check_password
from apps.audit.events import Actor

from .conftest import STAFF_PASSWORD

pytestmark = pytest.mark.django_db

EMAIL = "ada@example.com"
PASSWORD = "quiet-harbour-lantern-42"


@pytest.fixture
def ada():
    return services.sign_up(email=EMAIL, password=PASSWORD)


def web_sign_in(client, username, password, address="10.1.1.1"):
    return client.post("/accounts/login", {"username": username, "password": password}, REMOTE_ADDR=address)


def signed_in(client) -> bool:
    return client.get("/accounts/settings").status_code == 200


def token(username, password, address="10.1.1.1"):
    auth = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
    return Client().get("/token?service=berth-registry", HTTP_AUTHORIZATION=auth, REMOTE_ADDR=address)


def bootstrap(username, password, address="10.1.1.1", **headers):
    return APIClient().post(
        "/api/v1/auth/access-keys",
        {"username": username, "password": password},
        format="json",
        REMOTE_ADDR=address,
        **headers,
    )


def test_fifteen_wrong_passwords_then_the_right_one_is_refused_at_the_website(client, ada):
    for _ in range(15):
        assert web_sign_in(client, EMAIL, "not-it").status_code == 200
    refused = web_sign_in(client, EMAIL, PASSWORD)
    page = refused.content.decode()
    assert "Too many failed sign-ins; try again in" in page and "seconds" in page
    assert not signed_in(client)


def test_fifteen_wrong_passwords_then_the_right_one_is_refused_at_the_staff_console(client, staff_user):
    for _ in range(15):
        client.post("/admin/login/", {"username": "operator", "password": "not-it"}, REMOTE_ADDR="10.1.1.1")
    refused = client.post("/admin/login/", {"username": "operator", "password": STAFF_PASSWORD}, REMOTE_ADDR="10.1.1.1")
    assert refused.status_code == 200 and "Too many failed sign-ins; try again in" in refused.content.decode()
    assert client.get("/admin/").status_code == 302  # still asked to sign in


def test_a_lock_from_one_address_leaves_other_addresses_until_the_per_user_ceiling(client, ada, settings):
    settings.BERTH_LOGIN_FAILURES_ALLOWED = 3
    settings.BERTH_LOGIN_FAILURES_ALLOWED_PER_USER = 7
    for _ in range(3):
        web_sign_in(client, EMAIL, "not-it", address="192.0.2.1")
    assert "Too many failed" in web_sign_in(client, EMAIL, PASSWORD, address="192.0.2.1").content.decode()
    # The user, elsewhere, is not locked out by the stranger.
    assert web_sign_in(client, EMAIL, PASSWORD, address="198.51.100.7").status_code == 302
    client.post("/accounts/logout")
    # Past the per-user ceiling (7 failures, from any addresses), nobody signs in as ada.
    for address in ("192.0.2.2", "192.0.2.2", "192.0.2.3", "192.0.2.3"):
        web_sign_in(client, EMAIL, "not-it", address=address)
    assert "Too many failed" in web_sign_in(client, EMAIL, PASSWORD, address="198.51.100.7").content.decode()
    assert not signed_in(client)
    assert token(EMAIL, PASSWORD, address="198.51.100.8").status_code == 429


def test_each_failure_past_the_allowance_doubles_the_lock_up_to_its_cap(ada, settings, monkeypatch):
    settings.BERTH_LOGIN_FAILURES_ALLOWED = 2
    settings.BERTH_LOGIN_LOCKOUT_SECONDS = 10
    settings.BERTH_LOGIN_LOCKOUT_MAX_SECONDS = 50
    clock = types.SimpleNamespace(now=1_000_000.0)
    monkeypatch.setattr(throttle, "time", types.SimpleNamespace(time=lambda: clock.now))

    def retry_after() -> int:
        with pytest.raises(throttle.Throttled) as refused:
            check_password(EMAIL, PASSWORD, client_ip="10.1.1.1")
        return refused.value.retry_after

    for _ in range(2):
        assert check_password(EMAIL, "not-it", client_ip="10.1.1.1") is None
    waits = [retry_after()]
    for _ in range(3):
        clock.now += waits[-1]  # the lock has ended: one more guess, and it fails
        assert check_password(EMAIL, "not-it", client_ip="10.1.1.1") is None
        waits.append(retry_after())
    assert waits == [10, 20, 40, 50]
    # The lock ends; the right password signs in, and this address's count starts again.
    clock.now += 50
    assert check_password(EMAIL, PASSWORD, client_ip="10.1.1.1") is not None
    assert check_password(EMAIL, "not-it", client_ip="10.1.1.1") is None
    assert check_password(EMAIL, PASSWORD, client_ip="10.1.1.1") is not None


def test_the_token_service_the_api_and_the_website_count_together(client, ada, settings):
    settings.BERTH_LOGIN_FAILURES_ALLOWED = 6
    for _ in range(2):
        assert web_sign_in(client, EMAIL, "not-it").status_code == 200
        assert token(EMAIL, "not-it").status_code == 401
        assert bootstrap(EMAIL, "not-it").status_code == 403
    locked = token(EMAIL, PASSWORD)
    assert locked.status_code == 429 and locked.json()["errors"][0]["code"] == "TOOMANYREQUESTS"
    assert int(locked["Retry-After"]) > 0
    refused = bootstrap(EMAIL, PASSWORD)
    assert refused.status_code == 429 and refused.json()["code"] == "throttled" and int(refused["Retry-After"]) > 0
    assert "Too many failed" in web_sign_in(client, EMAIL, PASSWORD).content.decode()


def test_the_user_name_is_counted_whatever_its_case(client, ada, settings):
    settings.BERTH_LOGIN_FAILURES_ALLOWED = 2
    web_sign_in(client, "ADA@example.com", "not-it")
    assert token("Ada@Example.com", "not-it").status_code == 401
    assert token(EMAIL, PASSWORD).status_code == 429


def test_the_api_counts_per_client_address_behind_a_trusted_proxy(ada, settings):
    settings.BERTH_LOGIN_FAILURES_ALLOWED = 2
    settings.BERTH_TRUSTED_PROXIES = "10.0.0.0/8"
    for _ in range(2):
        assert bootstrap(EMAIL, "not-it", address="10.0.0.5", HTTP_X_FORWARDED_FOR="203.0.113.9").status_code == 403
    assert bootstrap(EMAIL, PASSWORD, address="10.0.0.5", HTTP_X_FORWARDED_FOR="203.0.113.9").status_code == 429
    # Another client behind the same load balancer is not locked out.
    assert bootstrap(EMAIL, PASSWORD, address="10.0.0.5", HTTP_X_FORWARDED_FOR="198.51.100.4").status_code == 201


def test_an_access_keys_secret_is_counted_per_client_address_behind_a_trusted_proxy(ada, settings):
    settings.BERTH_LOGIN_FAILURES_ALLOWED = 2
    settings.BERTH_TRUSTED_PROXIES = "10.0.0.0/8"
    user = get_user_model().objects.get(email=EMAIL)
    key = services.create_access_key(actor=Actor.system("test"), user=user)

    def list_repositories(secret: str, client: str):
        auth = base64.b64encode(f"{key.access_key.access_key_id}:{secret}".encode()).decode()
        return APIClient().get(
            "/api/v1/repositories",
            HTTP_AUTHORIZATION=f"Basic {auth}",
            REMOTE_ADDR="10.0.0.5",
            HTTP_X_FORWARDED_FOR=client,
        )

    for _ in range(2):
        assert list_repositories("not-it", "203.0.113.9").status_code == 401
    assert list_repositories(key.secret, "203.0.113.9").status_code == 429
    assert list_repositories(key.secret, "198.51.100.4").status_code == 200


def test_sign_up_is_throttled_per_address(client, settings):
    settings.BERTH_SIGNUPS_ALLOWED_PER_ADDRESS = 2

    def sign_up(email, address):
        return client.post(
            "/accounts/signup", {"email": email, "password1": PASSWORD, "password2": PASSWORD}, REMOTE_ADDR=address
        )

    assert sign_up("one@example.com", "192.0.2.1").status_code == 302
    client.post("/accounts/logout")
    assert sign_up("one@example.com", "192.0.2.1").status_code == 400  # taken: an attempt all the same
    refused = sign_up("two@example.com", "192.0.2.1")
    assert refused.status_code == 429
    assert "Too many sign-ups from your address; try again in" in refused.content.decode()
    assert not get_user_model().objects.filter(username="two@example.com").exists()
    assert sign_up("two@example.com", "192.0.2.2").status_code == 302


# -- the email's case ------------------------------------------------------------------


def test_an_email_signs_in_whatever_its_case_everywhere(client, ada):
    assert web_sign_in(client, "Ada@example.com", PASSWORD).status_code == 302
    assert signed_in(client)
    assert token("ADA@EXAMPLE.COM", PASSWORD).status_code == 200
    assert bootstrap("Ada@Example.com", PASSWORD).status_code == 201
    assert get_user_model().objects.get(username=EMAIL).access_keys.count() == 1


def test_users_that_differ_only_in_case_are_never_confused(client):
    services.create_account(name="upper", username="Bob", password="bob-upper-passphrase")
    services.create_account(name="lower", username="bob", password="bob-lower-passphrase")
    assert check_password("Bob", "bob-upper-passphrase", client_ip="10.1.1.1").username == "Bob"
    assert check_password("bob", "bob-lower-passphrase", client_ip="10.1.1.1").username == "bob"
    # Each password signs in only its own user, and a third spelling signs in neither.
    assert check_password("bob", "bob-upper-passphrase", client_ip="10.1.1.2") is None
    assert check_password("BOB", "bob-upper-passphrase", client_ip="10.1.1.3") is None
    assert check_password("BOB", "bob-lower-passphrase", client_ip="10.1.1.4") is None
    assert web_sign_in(client, "BOB", "bob-lower-passphrase", address="10.1.1.5").status_code == 200
    assert not signed_in(client)
