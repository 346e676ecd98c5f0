"""What account writes tell the rest of Berth (the gallery's publisher fields among
them): account.changed, from the services and from the staff console alike, and
alias_request.decided, whose subscriber mails the requester."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from apps.accounts import registries, services
from apps.accounts.models import Account, Alias
from apps.audit.events import Actor
from apps.events.models import DomainEvent

pytestmark = pytest.mark.django_db

SITE = "https://registry.example.com"


def published() -> list[tuple[str, dict]]:
    """The events published so far (inside the test's transaction nothing is delivered), and clear them."""
    events = [(event.name, event.payload) for event in DomainEvent.objects.order_by("pk")]
    DomainEvent.objects.all().delete()
    return events


def changed(account_id: str, *what: str) -> tuple[str, dict]:
    return ("account.changed", {"accountId": account_id, "changed": list(what)})


def test_publisher_writes_publish_account_changed(tenant, staff_user):
    account = tenant.account
    services.set_publisher_verified(account=account, verified=True, actor=Actor.staff("operator"))
    registries.put_registry_catalog_data(actor=Actor.system("test"), account=account, display_name="Initech")
    services.suspend_account(account=account, reason="abuse", actor=Actor.staff("operator"))
    # already suspended: nothing changes
    services.suspend_account(account=account, reason="again", actor=Actor.staff("operator"))
    services.reinstate_account(account=account, actor=Actor.staff("operator"))
    services.reinstate_account(account=account, actor=Actor.staff("operator"))
    owner = get_user_model().objects.get(username=tenant.username)
    alias_request = services.request_alias(
        account=account, name="initech", requested_by=owner, actor=Actor.staff(owner.username)
    )
    services.approve_alias_request(
        alias_request=alias_request, decided_by=staff_user, site_url=SITE, actor=Actor.staff("operator")
    )
    registries.make_alias_primary(alias=Alias.objects.get(account=account, is_default=True))
    assert published() == [
        changed(tenant.id, "verified"),
        changed(tenant.id, "displayName"),
        changed(tenant.id, "suspended"),
        changed(tenant.id, "suspended"),
        changed(tenant.id, "aliases", "primaryAlias"),
        ("alias_request.decided", {"aliasRequestId": alias_request.pk, "accountId": tenant.id, "alias": "initech",
                                   "status": "APPROVED", "siteUrl": SITE}),
        changed(tenant.id, "primaryAlias"),
    ]  # fmt: skip


def test_staff_edits_in_the_admin_publish_account_changed(staff_client, tenant):
    form = {
        "name": tenant.account.name, "display_name": "Initech Software", "create_on_push": "on", "verified": "on",
        # the inlines' management forms: no rows changed
        **{f"{prefix}-{field}": value for prefix in ("aliases", "memberships")
           for field, value in (("TOTAL_FORMS", "0"), ("INITIAL_FORMS", "0"))},
    }  # fmt: skip
    response = staff_client.post(f"/admin/accounts/account/{tenant.id}/change/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    account = Account.objects.get(pk=tenant.id)
    assert account.verified and account.display_name == "Initech Software"
    assert published() == [changed(tenant.id, "displayName", "verified")]

    response = staff_client.post("/admin/accounts/alias/add/", {"name": "initech", "account": tenant.id})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Alias.objects.filter(account=account, name="initech", is_primary=False).exists()
    assert published() == [changed(tenant.id, "aliases")]
