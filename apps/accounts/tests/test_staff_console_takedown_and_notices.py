"""The staff console's take-down and restore of a public repository, the mails its
owner gets for what staff do to the account (suspension, reinstatement, the badge),
and what an alias request's page tells staff about who asks."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core import mail

from apps.accounts import services
from apps.accounts.models import Account, ReservedName
from apps.audit.events import Actor
from apps.audit.models import Event
from apps.gallery.models import GalleryEntry
from apps.gallery.services import refresh_entry
from apps.repositories import services as repository_services
from apps.repositories.models import Repository, Visibility

from .conftest import actor_of

pytestmark = pytest.mark.django_db

REPOSITORIES = "/admin/repositories/repository/"
ACCOUNTS = "/admin/accounts/account/"
FROM_CONSOLE = {"REMOTE_ADDR": "198.51.100.4", "HTTP_USER_AGENT": "Firefox/130"}


@pytest.fixture
def owner(tenant):
    get_user_model().objects.filter(username=tenant.username).update(email="owner@example.com")
    return tenant


def public_repository(tenant, name="tools") -> Repository:
    return repository_services.create_repository(
        actor=Actor.system("test"), account=tenant.account, name=name, visibility=Visibility.PUBLIC
    )


def test_staff_take_a_public_repository_down_with_a_reason_and_restore_it(
    staff_client, owner, django_capture_on_commit_callbacks
):
    repository = public_repository(owner)
    private = repository_services.create_repository(actor=Actor.system("test"), account=owner.account, name="secret")
    selection = {"action": "take_down", "_selected_action": [repository.pk]}
    asked = staff_client.post(REPOSITORIES, selection)
    assert asked.status_code == 200 and "Take repositories down" in asked.content.decode()
    unreasoned = staff_client.post(REPOSITORIES, {**selection, "apply": "yes", "reason": ""})
    assert "This field is required." in unreasoned.content.decode()
    assert not Repository.objects.get(pk=repository.pk).is_taken_down

    with django_capture_on_commit_callbacks(execute=True):
        done = staff_client.post(
            REPOSITORIES,
            {"action": "take_down", "_selected_action": [repository.pk, private.pk], "apply": "yes",
             "reason": "ships a crypto miner"},
            follow=True, **FROM_CONSOLE,
        )  # fmt: skip
    page = done.content.decode()
    assert "1 repository taken down; the owners are told by email" in page
    assert "is private: only a public repository is taken down" in page
    repository.refresh_from_db()
    assert repository.takedown_reason == "ships a crypto miner"
    assert f"taken down {repository.taken_down_at:%Y-%m-%d}" in staff_client.get(REPOSITORIES).content.decode()
    [message] = mail.outbox
    assert message.to == ["owner@example.com"] and "ships a crypto miner" in message.body

    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(REPOSITORIES, {"action": "restore", "_selected_action": [repository.pk]}, **FROM_CONSOLE)
    assert not Repository.objects.get(pk=repository.pk).is_taken_down
    assert len(mail.outbox) == 2 and "restored" in mail.outbox[1].subject
    events = list(Event.objects.filter(actor_type="BerthStaff").order_by("sequence"))
    assert [(e.event_name, e.actor_username, e.source_ip, e.recipient_account_id) for e in events] == [
        ("TakeDownRepository", "operator", "198.51.100.4", owner.id),
        ("RestoreRepository", "operator", "198.51.100.4", owner.id),
    ]
    listed = staff_client.get(REPOSITORIES, {"taken_down_at__isempty": "0"}).context["cl"].result_list
    assert list(listed) == []


def test_suspension_reinstatement_and_the_badge_are_mailed_to_the_owner(
    staff_client, owner, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(ACCOUNTS, {"action": "verify_publisher", "_selected_action": [owner.id]})
        staff_client.post(ACCOUNTS, {"action": "verify_publisher", "_selected_action": [owner.id]})  # no change
        staff_client.post(
            ACCOUNTS, {"action": "suspend", "_selected_action": [owner.id], "apply": "yes", "reason": "phishing"}
        )
        staff_client.post(ACCOUNTS, {"action": "reinstate", "_selected_action": [owner.id]})
        staff_client.post(ACCOUNTS, {"action": "unverify_publisher", "_selected_action": [owner.id]})
    assert [message.subject for message in mail.outbox] == [
        f"Your Berth account {owner.id} is a verified publisher",
        f"Your Berth account {owner.id} is suspended",
        f"Your Berth account {owner.id} is reinstated",
        f"Your Berth account {owner.id} is no longer a verified publisher",
    ]
    assert all(message.to == ["owner@example.com"] for message in mail.outbox)
    assert "Reason: phishing" in mail.outbox[1].body
    assert "http://testserver/accounts/settings" in mail.outbox[2].body
    assert Event.objects.filter(actor_type="BerthStaff", event_name="SetPublisherVerified").count() == 3


def test_a_change_rolled_back_mails_nothing(owner, django_capture_on_commit_callbacks):
    from django.db import transaction

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        services.suspend_account(account=owner.account, reason="spam", actor=Actor.staff("operator"))
        raise RuntimeError("the request failed after the service")
    assert mail.outbox == []


def test_the_accounts_list_says_standing_in_words_and_email_with_an_icon(staff_client, owner, make_tenant):
    unverified = make_tenant("fresh")
    Account.objects.filter(pk=unverified.id).update(email_verified_at=None)
    page = staff_client.get(ACCOUNTS).content.decode()
    assert "email verified" in page and 'alt="True"' in page and 'alt="False"' in page
    assert ">active<" in page
    found = staff_client.get(ACCOUNTS, {"email_verified_at__isempty": "1"}).context["cl"].result_list
    assert [account.id for account in found] == [unverified.id]


def test_an_alias_request_shows_the_account_its_email_repositories_pulls_and_warnings(staff_client, owner, committed):
    user = get_user_model().objects.get(username=owner.username)
    for name in ("tools", "cli"):
        repository = public_repository(owner, name)
        refresh_entry(repository_id=repository.pk)
    repository_services.create_repository(actor=Actor.system("test"), account=owner.account, name="private-one")
    GalleryEntry.objects.filter(account=owner.account).update(pull_count=1500)
    alias_request = services.request_alias(
        account=owner.account, name="shipyard", requested_by=user, actor=actor_of(user)
    )
    ReservedName.objects.create(name="shipyard", reason="a marketplace seller")  # reserved after the request

    page = staff_client.get(f"/admin/accounts/aliasrequest/{alias_request.pk}/change/").content.decode()
    assert "created 0\xa0minutes ago, in good standing, not verified" in page
    assert f"email owner@example.com verified {owner.account.email_verified_at:%Y-%m-%d}" in page
    assert "3 repositories, 2 public" in page and "3,000 pulls in all" in page
    assert "reserved: &#x27;shipyard&#x27; is reserved" in page

    Account.objects.filter(pk=owner.id).update(email_verified_at=None)
    page = staff_client.get(f"/admin/accounts/aliasrequest/{alias_request.pk}/change/").content.decode()
    assert "email owner@example.com NOT verified" in page and "the account&#x27;s email is not verified" in page


def test_an_alias_request_page_asks_a_bounded_number_of_queries(
    staff_client, make_tenant, django_assert_max_num_queries
):
    tenant = make_tenant()
    user = get_user_model().objects.get(username=tenant.username)
    alias_request = services.request_alias(
        account=tenant.account, name="harbour", requested_by=user, actor=actor_of(user)
    )
    with django_assert_max_num_queries(25):
        assert staff_client.get(f"/admin/accounts/aliasrequest/{alias_request.pk}/change/").status_code == 200
