"""Every link Berth mails is absolute and points at BERTH_PUBLIC_URL, whatever Host
header the request that caused the mail came with."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail

from apps.accounts import services
from apps.accounts.models import AliasRequest

from .conftest import actor_of

pytestmark = pytest.mark.django_db

PUBLIC = "https://registry.example.com"
CHANGELIST = "/admin/accounts/aliasrequest/"


def test_a_reset_asked_for_with_a_forged_host_mails_a_link_to_the_public_url(client, settings):
    settings.BERTH_PUBLIC_URL = PUBLIC
    # ALLOWED_HOSTS refuses such a Host by default; an operator may still allow any.
    settings.ALLOWED_HOSTS = ["*"]
    services.sign_up(email="ada@example.com", password="quiet-harbour-lantern-42")
    response = client.post("/accounts/password-reset", {"email": "ada@example.com"}, HTTP_HOST="evil.example")
    assert response.status_code == 302
    [message] = mail.outbox
    assert "evil.example" not in message.body
    link = re.search(r"(\S+/accounts/password-reset/\S+)", message.body).group(1)
    assert link.startswith(f"{PUBLIC}/accounts/password-reset/")
    # The link works (on the real site: here, the test server).
    page = client.get(link.removeprefix(PUBLIC), follow=True)
    assert "Choose a new password" in page.content.decode()


def test_without_a_public_url_the_reset_link_is_the_requests_own_site(client, settings):
    settings.BERTH_PUBLIC_URL = ""
    services.sign_up(email="ada@example.com", password="quiet-harbour-lantern-42")
    client.post("/accounts/password-reset", {"email": "ada@example.com"})
    [message] = mail.outbox
    assert re.search(r"^http://testserver/accounts/password-reset/\S+$", message.body, re.MULTILINE)


@pytest.mark.parametrize("action, reason", [("approve", ""), ("reject", "a registered trademark")])
@pytest.mark.parametrize("public_url, site", [(PUBLIC, PUBLIC), ("", "http://testserver")])
def test_alias_decision_mails_link_absolutely_to_the_site(
    staff_client, tenant, settings, django_capture_on_commit_callbacks, action, reason, public_url, site
):
    settings.BERTH_PUBLIC_URL = public_url
    user = get_user_model().objects.get(username=tenant.username)
    user.email = "owner@example.com"
    user.save()
    alias_request = services.request_alias(
        account=tenant.account, name="shipyard", requested_by=user, actor=actor_of(user)
    )
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(
            CHANGELIST,
            {"action": action, "_selected_action": [alias_request.pk], "apply": "yes", "reason": reason},
            HTTP_HOST="testserver",
        )
    assert AliasRequest.objects.get(pk=alias_request.pk).status != "PENDING"
    [message] = mail.outbox
    assert f"Your settings page: {site}/accounts/settings\n" in message.body
    if action == "approve":
        assert f"docker pull {site.split('://')[1]}/shipyard/<repository>:<tag>" in message.body
