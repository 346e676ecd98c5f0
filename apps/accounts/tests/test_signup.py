"""Sign-up, sign-in and out, and password reset through the website."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail

from apps.accounts.models import Account, Alias

pytestmark = pytest.mark.django_db

STRONG = "quiet-harbour-lantern-42"


def sign_up(client, email="ada@example.com", password=STRONG, again=None):
    return client.post("/accounts/signup", {"email": email, "password1": password, "password2": again or password})


def test_sign_up_creates_an_account_with_a_default_alias_signs_in_and_mails_a_verification_link(client):
    response = sign_up(client, email="Ada@Example.com")
    # The console's getting started page, with the welcome and what was mailed.
    assert response.status_code == 302 and response["Location"] == "/console"
    user = get_user_model().objects.get(email="ada@example.com")
    assert user.username == "ada@example.com"
    account = Account.objects.get(memberships__user=user)
    assert re.fullmatch(r"[1-9][0-9]{11}", account.id)
    assert account.email_verified_at is None
    alias = Alias.objects.get(account=account)
    assert alias.is_default and alias.is_primary and re.fullmatch(r"[a-z][a-z0-9]{7}", alias.name)
    [message] = mail.outbox
    assert message.to == ["ada@example.com"] and account.id in message.subject
    assert re.search(r"http://testserver/accounts/verify-email/bev\.\S+", message.body)

    page = client.get("/accounts/settings")
    assert page.status_code == 200
    body = page.content.decode()
    assert account.id in body and alias.name in body
    assert f"Welcome to Berth. Your account {account.id} is ready. We mailed a link to ada@example.com" in body
    assert 'id="verify-email"' in body and "Send the link again" in body


def test_a_weak_password_is_refused_with_the_validators_message(client):
    response = sign_up(client, password="12345678")
    assert response.status_code == 400
    body = response.content.decode()
    assert "This password is too common." in body
    assert "This password is entirely numeric." in body
    assert not get_user_model().objects.exists()


def test_a_password_like_the_email_and_mismatched_passwords_are_refused(client):
    similar = sign_up(client, email="lanternkeeper@example.com", password="lanternkeeper")
    assert "too similar to the" in similar.content.decode()
    response = sign_up(client, password=STRONG, again=STRONG + "x")
    assert response.status_code == 400 and "the two passwords differ" in response.content.decode()
    assert not Account.objects.exists()


def test_an_email_signs_up_once_whatever_its_case(client):
    assert sign_up(client).status_code == 302
    client.post("/accounts/logout")
    response = sign_up(client, email="ADA@example.com")
    assert response.status_code == 400
    assert "already exists" in response.content.decode()
    assert Account.objects.count() == 1


def test_sign_in_and_out(client):
    sign_up(client)
    client.post("/accounts/logout")
    assert client.get("/accounts/settings")["Location"].startswith("/accounts/login?next=/accounts/settings")

    wrong = client.post("/accounts/login", {"username": "ada@example.com", "password": "not-it"})
    assert wrong.status_code == 200 and "correct" in wrong.content.decode()

    right = client.post("/accounts/login", {"username": "ada@example.com", "password": STRONG})
    assert right.status_code == 302 and right["Location"] == "/console"
    assert client.get("/accounts/settings").status_code == 200

    out = client.post("/accounts/logout")
    assert out.status_code == 302 and out["Location"] == "/"
    assert client.get("/accounts/settings").status_code == 302


def test_password_reset_mails_a_link_that_sets_a_new_password(client):
    sign_up(client)
    client.post("/accounts/logout")
    mail.outbox.clear()  # the sign-up's verification link

    response = client.post("/accounts/password-reset", {"email": "ada@example.com"})
    assert response.status_code == 302 and response["Location"] == "/accounts/password-reset/sent"
    [message] = mail.outbox
    assert message.to == ["ada@example.com"] and "Reset your Berth password" in message.subject
    link = re.search(r"http://testserver(/accounts/password-reset/\S+)", message.body).group(1)

    form_page = client.get(link, follow=True)
    assert form_page.status_code == 200 and "Choose a new password" in form_page.content.decode()
    set_password_url = form_page.redirect_chain[-1][0]
    new_password = "another-quiet-harbour-7"
    done = client.post(set_password_url, {"new_password1": new_password, "new_password2": new_password})
    assert done.status_code == 302 and done["Location"] == "/accounts/password-reset/done"
    assert client.login(username="ada@example.com", password=new_password)


def test_password_reset_for_an_unknown_email_sends_nothing_and_says_the_same(client):
    response = client.post("/accounts/password-reset", {"email": "nobody@example.com"})
    assert response.status_code == 302 and response["Location"] == "/accounts/password-reset/sent"
    assert mail.outbox == []
