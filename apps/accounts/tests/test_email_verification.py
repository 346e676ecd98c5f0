"""The email of an account made by sign-up is verified by the link mailed to it;
until then the account works but asks for no alias (the settings page's form and
the service every other surface calls). Accounts operators make count as verified."""

from __future__ import annotations

import importlib
import re
import time

import pytest
from django.apps import apps as django_apps
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.exceptions import ValidationError

from apps.accounts import email_verification, services
from apps.accounts.models import Account, AliasRequest

from .conftest import actor_of
from .test_settings_authorization import iam_user
from .test_signup import STRONG, sign_up

pytestmark = pytest.mark.django_db


def link_in(message) -> str:
    return re.search(r"http://testserver(/accounts/verify-email/\S+)", message.body).group(1)


@pytest.fixture
def signed_up(client):
    """A publisher just signed up on the website (signed in), and the link mailed to it."""
    assert sign_up(client).status_code == 302
    [message] = mail.outbox
    mail.outbox.clear()
    return Account.objects.get(memberships__user__email="ada@example.com"), link_in(message)


def test_following_the_link_verifies_the_email_and_a_second_time_says_so(client, signed_up):
    account, link = signed_up
    response = client.get(link)
    assert response.status_code == 302 and response["Location"] == "/accounts/settings"
    account.refresh_from_db()
    assert account.email_verified_at is not None
    page = client.get("/accounts/settings").content.decode()
    assert "Thank you: your email is verified. You may ask for a custom alias." in page
    assert 'id="verify-email"' not in page and "Request alias" in page

    again = client.get(link)
    assert again.status_code == 302
    assert "Your email was already verified." in client.get("/accounts/settings").content.decode()


def test_the_link_works_signed_out_too(client, signed_up):
    account, link = signed_up
    client.post("/accounts/logout")
    page = client.get(link)
    assert page.status_code == 200 and "Thank you: your email is verified." in page.content.decode()
    assert Account.objects.get(pk=account.pk).email_verified_at is not None


def test_a_tampered_an_expired_and_an_old_address_link_verify_nothing(client, signed_up):
    account, link = signed_up
    token = link.rsplit("/", 1)[1]
    prefix, payload, mac = token.split(".")
    tampered = client.get(f"/accounts/verify-email/{prefix}.{payload}x.{mac}")
    assert tampered.status_code == 400
    assert "signature does not match" in tampered.content.decode()

    user = get_user_model().objects.get(email="ada@example.com")
    stale = email_verification.make_token(account, user, now=time.time() - email_verification.VERIFICATION_LINK_TTL - 5)
    expired = client.get(f"/accounts/verify-email/{stale}")
    assert expired.status_code == 400 and "expired" in expired.content.decode()

    user.email = "ada@elsewhere.example"
    user.save(update_fields=["email"])
    moved = client.get(link)
    assert moved.status_code == 400 and "no longer has" in moved.content.decode()
    assert Account.objects.get(pk=account.pk).email_verified_at is None


def test_an_alias_is_not_asked_for_before_the_email_is_verified(client, signed_up):
    account, link = signed_up
    page = client.get("/accounts/settings").content.decode()
    assert 'id="alias-request-needs-verified-email"' in page and "Request alias" not in page

    refused = client.post("/accounts/settings", {"alias": "shipyard"})
    assert refused.status_code == 400
    assert "verify your email before asking for an alias" in refused.content.decode()
    assert not AliasRequest.objects.exists()

    user = get_user_model().objects.get(email="ada@example.com")
    with pytest.raises(ValidationError) as caught:
        services.request_alias(account=account, name="shipyard", requested_by=user, actor=actor_of(user))
    assert caught.value.code == "email_unverified"

    client.get(link)
    assert client.post("/accounts/settings", {"alias": "shipyard"}).status_code == 302
    assert AliasRequest.objects.get().name == "shipyard"


def test_the_root_has_the_link_sent_again_once_a_minute(client, signed_up):
    account, first_link = signed_up
    response = client.post("/accounts/settings/verification")
    assert response.status_code == 302 and response["Location"] == "/accounts/settings"
    [message] = mail.outbox
    assert message.to == ["ada@example.com"]
    assert "We mailed you a new verification link." in client.get("/accounts/settings").content.decode()

    client.post("/accounts/settings/verification")
    assert len(mail.outbox) == 1
    assert "Too many verification mails; try again in" in client.get("/accounts/settings").content.decode()

    client.get(link_in(message))
    client.post("/accounts/settings/verification")
    assert len(mail.outbox) == 1
    assert "Your email is already verified." in client.get("/accounts/settings").content.decode()


def test_an_hour_allows_five_verification_mails(signed_up, monkeypatch):
    account, _ = signed_up
    clock = [time.time()]
    monkeypatch.setattr(time, "time", lambda: clock[0])
    for _ in range(5):
        assert email_verification.resend_link(account=account, site_url="https://registry.example.com")
        clock[0] += 61
    from apps.accounts import throttle

    with pytest.raises(throttle.Throttled):
        email_verification.resend_link(account=account, site_url="https://registry.example.com")
    assert len(mail.outbox) == 5
    assert all("https://registry.example.com/accounts/verify-email/" in m.body for m in mail.outbox)


def test_an_iam_user_cannot_have_the_root_mailed(client, tenant):
    Account.objects.filter(pk=tenant.id).update(email_verified_at=None)
    client.force_login(iam_user(tenant, "reader", "ecr-public:DescribeRegistries"))
    page = client.get("/accounts/settings").content.decode()
    assert 'id="verify-email"' in page and "Send the link again" not in page
    assert client.post("/accounts/settings/verification").status_code == 403
    assert mail.outbox == []


def test_accounts_operators_make_and_accounts_made_before_count_as_verified(tenant):
    assert tenant.account.email_verified_at is not None  # berth create_account's service
    made = services.create_account(name="made", username="made", password=STRONG, email_verified=False)
    Account.objects.filter(pk=made.pk).update(email_verified_at=None)
    migration = importlib.import_module("apps.accounts.migrations.0007_email_verification_and_publisher_profile")
    migration.existing_accounts_count_as_verified(django_apps, None)
    made.refresh_from_db()
    assert made.email_verified_at == made.created_at
