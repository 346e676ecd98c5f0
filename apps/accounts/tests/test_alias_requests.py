"""Custom aliases: the rule every request is checked against, the request and its
review, and what an approval changes (and keeps) for pulls."""

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import DataError, IntegrityError, transaction

from apps.accounts import services
from apps.accounts.models import Alias, AliasRequest, AliasRequestStatus, ReservedName
from apps.audit.events import Actor
from apps.audit.models import Event
from apps.repositories import selectors as repository_selectors
from apps.repositories import services as repository_services
from apps.repositories.models import Visibility

from .conftest import STAFF, actor_of

pytestmark = pytest.mark.django_db

SITE = "https://registry.example.com"


def user_of(tenant):
    return get_user_model().objects.get(username=tenant.username)


def ask(tenant, name: str, user=None):
    """The tenant's owner (or ``user``, of its account) asks for the alias ``name``."""
    user = user or user_of(tenant)
    return services.request_alias(account=tenant.account, name=name, requested_by=user, actor=actor_of(user))


def approve(alias_request, staff_user):
    return services.approve_alias_request(
        alias_request=alias_request, decided_by=staff_user, actor=STAFF, site_url=SITE
    )


def reject(alias_request, staff_user, reason: str):
    return services.reject_alias_request(
        alias_request=alias_request, decided_by=staff_user, actor=STAFF, site_url=SITE, reason=reason
    )


def refusal(name, account=None) -> str:
    with pytest.raises(ValidationError) as caught:
        services.validate_custom_alias(name, account=account)
    return caught.value.code


@pytest.mark.parametrize(
    "name",
    ["ab", "a1", "acme", "acme-tools", "acme.io", "acme_labs", "a1-b2.c3_d4", "abc-1", "x" * 50, "ab" + "-c1" * 16],
)
def test_valid_aliases(name):
    services.validate_custom_alias(name)


@pytest.mark.parametrize(
    "name, message",
    [
        ("", "2 to 50 characters"),
        ("a", "2 to 50 characters"),
        ("x" * 51, "this one has 51"),
        ("acme-", "cannot end with a separator"),
        ("acme.", "cannot end with a separator"),
        ("acme--tools", "no two of"),
        ("acme._tools", "no two of"),
        ("1acme", "starts with a letter"),
        ("-acme", "starts with a letter"),
        ("Acme", "lowercase"),
        ("acme tools", "only lowercase letters, digits"),
        ("acme/tools", "only lowercase letters, digits"),
        ("a-cme", "at least one more letter or digit before its first separator"),
        ("12345", "starts with a letter"),
    ],
)
def test_invalid_aliases_say_why(name, message):
    with pytest.raises(ValidationError, match=message) as caught:
        services.validate_custom_alias(name)
    assert caught.value.code == "grammar"


@pytest.mark.parametrize(
    "name",
    [
        "berth",
        "admin",
        "api",
        "v2",
        "token",
        "console",
        "search",
        "static",
        "accounts",
        "media",
        "test",
        "public",
        "library",
        "official",
        "marketplace",
        "aws",
        "amazon",
        "ecr",
    ],
)
def test_reserved_names_are_refused_whole(name):
    assert refusal(name) == "reserved"


@pytest.mark.parametrize("name", ["berth-official", "official-berth", "aws.tools", "my_ecr", "tools-amazon-mirror"])
def test_platform_words_are_refused_as_parts(name):
    assert refusal(name) == "reserved"


@pytest.mark.parametrize(
    "name", ["contest", "awsome", "berthing", "libraryhub", "admins-club", "test-kitchen", "apiary"]
)
def test_reserved_words_inside_other_words_or_generic_parts_are_fine(name):
    services.validate_custom_alias(name)


def test_the_sites_own_paths_are_reserved_from_the_url_conf():
    assert {"admin", "api", "v2", "token", "accounts"} <= services.site_path_names()


def test_a_staff_reserved_name_only_its_grantee_may_ask_for(make_tenant):
    seller, stranger = make_tenant("seller"), make_tenant("stranger")
    ReservedName.objects.create(name="acme-corp", reason="marketplace seller")
    assert refusal("acme-corp", seller.account) == "reserved"
    ReservedName.objects.filter(name="acme-corp").update(granted_to_account=seller.account)
    assert refusal("acme-corp", stranger.account) == "reserved"
    ask(seller, "acme-corp")


def test_taken_yours_and_pending_elsewhere(make_tenant):
    first, second = make_tenant("first"), make_tenant("second")
    assert refusal(first.alias, second.account) == "taken"
    assert refusal(first.alias, first.account) == "yours"
    ask(first, "shipyard")
    assert refusal("shipyard", second.account) == "pending"


def test_one_pending_request_per_account_in_the_service_and_the_database(tenant):
    user = user_of(tenant)
    ask(tenant, "shipyard", user)
    with pytest.raises(ValidationError, match="awaits review") as caught:
        ask(tenant, "dockyard", user)
    assert caught.value.code == "pending_request"
    with pytest.raises(IntegrityError), transaction.atomic():
        AliasRequest.objects.create(account=tenant.account, name="dockyard")


def test_the_database_refuses_a_request_outside_the_grammar(tenant):
    for name in ("Bad", "1abc", "abc-", "a" * 51):
        # PostgreSQL's varchar(50) refuses the long one first (DataError); SQLite's check constraint does.
        with pytest.raises((IntegrityError, DataError)), transaction.atomic():
            AliasRequest.objects.create(account=tenant.account, name=name)


def test_a_request_is_pending_with_its_history(tenant):
    alias_request = ask(tenant, "shipyard")
    assert alias_request.status == AliasRequestStatus.PENDING
    [event] = alias_request.events.all()
    assert (event.kind, event.actor_name) == ("REQUESTED", tenant.username)
    assert not Alias.objects.filter(name="shipyard").exists()


def test_approval_makes_the_alias_primary_and_the_old_alias_keeps_pulling(
    tenant, staff_user, django_capture_on_commit_callbacks
):
    get_user_model().objects.filter(username=tenant.username).update(email="owner@example.com")
    old_alias = tenant.alias
    repository = repository_services.create_repository(
        actor=Actor.system("test"), account=tenant.account, name="tools/cli", visibility=Visibility.PUBLIC
    )
    alias_request = ask(tenant, "shipyard")

    with pytest.raises(ValueError):  # a rejection needs a reason; nothing changes without one
        reject(alias_request, staff_user, "  ")
    with django_capture_on_commit_callbacks(execute=True):
        approve(alias_request, staff_user)

    alias_request.refresh_from_db()
    assert alias_request.status == AliasRequestStatus.APPROVED and alias_request.decided_by == staff_user
    assert tenant.account.primary_alias == "shipyard"
    assert Alias.objects.get(name=old_alias).is_default
    assert [e.kind for e in alias_request.events.all()] == ["REQUESTED", "APPROVED"]
    for namespace in (old_alias, "shipyard", tenant.account.id):
        assert repository_selectors.find_repository(f"{namespace}/tools/cli").pk == repository.pk
        assert repository_selectors.resolve_address(f"{namespace}/tools/cli").account == tenant.account

    [message] = mail.outbox
    assert message.to == ["owner@example.com"] and "approved" in message.subject
    trail = Event.objects.filter(recipient_account_id=tenant.id, event_source="berth").order_by("sequence")
    assert [(e.event_name, e.actor_username) for e in trail] == [
        ("RequestAlias", tenant.username),
        ("ApproveAlias", "operator"),
    ]
    assert trail.last().request_parameters == {"alias": "shipyard"}
    with pytest.raises(services.AliasRequestNotPending):
        reject(alias_request, staff_user, "too late")


def test_rejection_tells_the_requester_by_email_and_on_the_settings_page(
    client, tenant, staff_user, django_capture_on_commit_callbacks
):
    user = user_of(tenant)
    user.email = "owner@example.com"
    user.save()
    alias_request = ask(tenant, "shipyard", user)
    with django_capture_on_commit_callbacks(execute=True):
        reject(alias_request, staff_user, "a registered trademark")

    [message] = mail.outbox
    assert "rejected" in message.subject and "Reason: a registered trademark" in message.body
    rejection = Event.objects.get(event_name="RejectAlias")
    assert rejection.request_parameters == {"alias": "shipyard", "reason": "a registered trademark"}
    assert rejection.response_elements == {"status": "REJECTED"}
    client.force_login(user)
    page = client.get("/accounts/settings").content.decode()
    assert "Rejected" in page and "a registered trademark" in page
    # Decided, so the account may ask again, even for a name it was refused.
    ask(tenant, "dockyard", user)


def test_approval_of_a_name_someone_took_meanwhile_is_refused(make_tenant, staff_user):
    asker, other = make_tenant("asker"), make_tenant("other")
    alias_request = ask(asker, "shipyard")
    Alias.objects.create(name="shipyard", account=other.account)
    with pytest.raises(services.AliasUnavailable):
        approve(alias_request, staff_user)
    alias_request.refresh_from_db()
    assert alias_request.is_pending and asker.account.primary_alias == asker.alias


def test_the_settings_page_requests_an_alias_and_shows_it_pending(client, tenant):
    client.force_login(user_of(tenant))
    refused = client.post("/accounts/settings", {"alias": "berth-official"})
    assert refused.status_code == 400 and "it names the platform" in refused.content.decode()

    response = client.post("/accounts/settings", {"alias": "shipyard"}, follow=True)
    page = response.content.decode()
    assert "is <strong>pending</strong>" in page and "a few days" in page
    assert 'name="alias"' not in page  # one pending request: no form until it is decided
    assert AliasRequest.objects.get(account=tenant.account).name == "shipyard"


def test_describe_registries_shows_the_request_pending_then_rejected_then_nothing(tenant, staff_user, api_client):
    client = api_client(tenant)

    def statuses():
        [registry] = client.get("/api/v1/registries").json()["registries"]
        return [(alias["name"], alias["status"]) for alias in registry["aliases"]]

    alias_request = ask(tenant, "shipyard")
    assert statuses() == [(tenant.alias, "ACTIVE"), ("shipyard", "PENDING")]
    reject(alias_request, staff_user, "a trademark")
    assert statuses() == [(tenant.alias, "ACTIVE"), ("shipyard", "REJECTED")]
    again = ask(tenant, "dockyard")
    approve(again, staff_user)
    assert statuses() == [("dockyard", "ACTIVE"), (tenant.alias, "ACTIVE")]
