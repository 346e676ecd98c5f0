"""The staff console: the alias request queue and its actions, reserved names,
accounts (search, verify, suspend), repositories and registry content."""

import hashlib
from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from apps.accounts import services
from apps.accounts.models import Account, Alias, AliasRequest, AliasRequestStatus, ReservedName
from apps.audit.events import Actor
from apps.audit.models import Event
from apps.registry.models import Blob, Manifest, RepositoryBlob, Tag
from apps.repositories import services as repository_services
from apps.repositories.models import Visibility

from .conftest import STAFF, actor_of

pytestmark = pytest.mark.django_db

SITE = "https://registry.example.com"

CHANGELIST = "/admin/accounts/aliasrequest/"


def request_for(tenant, name, *, days_ago=0):
    user = get_user_model().objects.get(username=tenant.username)
    alias_request = services.request_alias(account=tenant.account, name=name, requested_by=user, actor=actor_of(user))
    AliasRequest.objects.filter(pk=alias_request.pk).update(created_at=timezone.now() - timedelta(days=days_ago))
    return alias_request


def shown(response) -> list[str]:
    return [alias_request.name for alias_request in response.context["cl"].result_list]


def test_pending_requests_come_first_oldest_first_with_their_age(staff_client, make_tenant, staff_user):
    decided = request_for(make_tenant(), "decided-one", days_ago=30)
    services.reject_alias_request(alias_request=decided, decided_by=staff_user, actor=STAFF, site_url=SITE, reason="no")
    request_for(make_tenant(), "newest", days_ago=0)
    request_for(make_tenant(), "oldest", days_ago=5)
    request_for(make_tenant(), "middle", days_ago=2)

    response = staff_client.get(CHANGELIST)
    assert response.status_code == 200
    assert shown(response) == ["oldest", "middle", "newest", "decided-one"]
    assert "5\xa0days" in response.content.decode()

    index = staff_client.get("/admin/").content.decode()
    assert "Alias requests waiting for review (3)" in index
    assert index.index(">oldest</a>") < index.index(">middle</a>") < index.index(">newest</a>")


def test_a_request_shows_the_account_and_the_taken_or_reserved_names_it_looks_like(staff_client, make_tenant):
    owner = make_tenant()
    Alias.objects.create(account=owner.account, name="acme-tools")
    ReservedName.objects.create(name="nginx", reason="the project's name")
    asker = make_tenant()
    page = staff_client.get(f"{CHANGELIST}{request_for(asker, 'acrne-t00ls').pk}/change/").content.decode()
    assert f"acme-tools (alias of account {owner.account.pk})" in page  # rn for m, 0 for o
    assert asker.account.name in page and "in good standing" in page and "not verified" in page
    page = staff_client.get(f"{CHANGELIST}{request_for(make_tenant(), 'ngnix').pk}/change/").content.decode()
    assert "nginx (reserved: the project&#x27;s name)" in page
    page = staff_client.get(f"{CHANGELIST}{request_for(make_tenant(), 'zebra-labs').pk}/change/").content.decode()
    assert "no taken or reserved name looks like it" in page


def test_bulk_approve_asks_for_an_optional_note_then_approves(
    staff_client, make_tenant, django_capture_on_commit_callbacks
):
    first, second = make_tenant(), make_tenant()
    for n, tenant in enumerate((first, second)):
        get_user_model().objects.filter(username=tenant.username).update(email=f"owner{n}@example.com")
    requests = [request_for(first, "shipyard"), request_for(second, "dockyard")]
    selection = {"action": "approve", "_selected_action": [r.pk for r in requests]}

    page = staff_client.post(CHANGELIST, selection)
    assert page.status_code == 200 and "Approve alias requests" in page.content.decode()
    assert AliasRequest.objects.filter(status=AliasRequestStatus.PENDING).count() == 2

    with django_capture_on_commit_callbacks(execute=True):
        done = staff_client.post(CHANGELIST, {**selection, "apply": "yes", "reason": ""})
    assert done.status_code == 302
    assert set(AliasRequest.objects.values_list("status", flat=True)) == {AliasRequestStatus.APPROVED}
    assert Account.objects.get(pk=first.id).primary_alias == "shipyard"
    assert Account.objects.get(pk=second.id).primary_alias == "dockyard"
    assert sorted(message.to[0] for message in mail.outbox) == ["owner0@example.com", "owner1@example.com"]


def test_bulk_reject_requires_a_reason(staff_client, tenant):
    alias_request = request_for(tenant, "shipyard")
    selection = {"action": "reject", "_selected_action": [alias_request.pk], "apply": "yes"}

    again = staff_client.post(CHANGELIST, {**selection, "reason": ""})
    assert again.status_code == 200 and "This field is required." in again.content.decode()
    alias_request.refresh_from_db()
    assert alias_request.is_pending

    assert staff_client.post(CHANGELIST, {**selection, "reason": "a trademark of someone else"}).status_code == 302
    alias_request.refresh_from_db()
    assert alias_request.status == AliasRequestStatus.REJECTED
    assert alias_request.decision_reason == "a trademark of someone else"
    assert [event.kind for event in alias_request.events.all()] == ["REQUESTED", "REJECTED"]


def test_requests_are_neither_added_nor_deleted_in_the_admin(staff_client, tenant):
    alias_request = request_for(tenant, "shipyard")
    assert staff_client.get(f"{CHANGELIST}add/").status_code == 403
    assert staff_client.get(f"{CHANGELIST}{alias_request.pk}/delete/").status_code == 403
    detail = staff_client.get(f"{CHANGELIST}{alias_request.pk}/change/")
    assert detail.status_code == 200 and tenant.username in detail.content.decode()


def test_reserved_names_are_managed_and_granted(staff_client, tenant):
    response = staff_client.post(
        "/admin/accounts/reservedname/add/",
        {"name": "acme-corp", "reason": "marketplace seller", "granted_to_account": tenant.id},
    )
    assert response.status_code == 302
    reserved = ReservedName.objects.get(name="acme-corp")
    assert reserved.granted_to_account_id == tenant.id
    bad = staff_client.post("/admin/accounts/reservedname/add/", {"name": "Not Valid", "reason": "x"})
    assert bad.status_code == 200 and not ReservedName.objects.filter(reason="x").exists()


def test_accounts_are_found_by_id_alias_and_email_and_verified(staff_client, make_tenant):
    wanted, _ = make_tenant("wanted"), make_tenant("unwanted")
    get_user_model().objects.filter(username=wanted.username).update(email="publisher@example.com")
    for query in (wanted.id, wanted.alias, "publisher@example.com"):
        found = staff_client.get("/admin/accounts/account/", {"q": query}).context["cl"].result_list
        assert [account.id for account in found] == [wanted.id], query

    staff_client.post("/admin/accounts/account/", {"action": "verify_publisher", "_selected_action": [wanted.id]})
    assert Account.objects.get(pk=wanted.id).verified


def test_suspend_asks_why_and_reinstate_undoes_it(staff_client, tenant):
    selection = {"action": "suspend", "_selected_action": [tenant.id]}
    assert "Suspend accounts" in staff_client.post("/admin/accounts/account/", selection).content.decode()
    staff_client.post("/admin/accounts/account/", {**selection, "apply": "yes", "reason": "malware in images"})
    account = Account.objects.get(pk=tenant.id)
    assert account.is_suspended and account.suspension_reason == "malware in images"
    listed = staff_client.get("/admin/accounts/account/").content.decode()
    assert f"suspended since {account.suspended_at:%Y-%m-%d}" in listed  # in words, not a green tick

    staff_client.post("/admin/accounts/account/", {"action": "reinstate", "_selected_action": [tenant.id]})
    account.refresh_from_db()
    assert not account.is_suspended and account.suspension_reason == ""
    assert "suspended since" not in staff_client.get("/admin/accounts/account/").content.decode()


def test_staff_actions_land_in_the_audit_trail_with_the_staff_member_as_actor(
    staff_client, tenant, django_capture_on_commit_callbacks
):
    from_console = {"REMOTE_ADDR": "198.51.100.4", "HTTP_USER_AGENT": "Firefox/130"}
    accounts = "/admin/accounts/account/"
    staff_client.post(accounts, {"action": "verify_publisher", "_selected_action": [tenant.id]}, **from_console)
    staff_client.post(
        accounts,
        {"action": "suspend", "_selected_action": [tenant.id], "apply": "yes", "reason": "malware"},
        **from_console,
    )
    staff_client.post(accounts, {"action": "reinstate", "_selected_action": [tenant.id]}, **from_console)
    alias_request = request_for(tenant, "shipyard")
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(
            CHANGELIST,
            {"action": "approve", "_selected_action": [alias_request.pk], "apply": "yes", "reason": ""},
            **from_console,
        )
    default = Alias.objects.get(account=tenant.account, is_default=True)
    staff_client.post(
        "/admin/accounts/alias/", {"action": "make_primary", "_selected_action": [default.pk]}, **from_console
    )
    staff_client.post(
        "/admin/accounts/reservedname/add/", {"name": "acme-corp", "reason": "marketplace seller"}, **from_console
    )
    reserved = ReservedName.objects.get(name="acme-corp")
    staff_client.post(f"/admin/accounts/reservedname/{reserved.pk}/delete/", {"post": "yes"}, **from_console)

    staff_events = list(Event.objects.filter(actor_type="BerthStaff").order_by("sequence"))
    assert [(event.event_name, event.actor_username) for event in staff_events] == [
        ("SetPublisherVerified", "operator"),
        ("SuspendAccount", "operator"),
        ("ReinstateAccount", "operator"),
        ("ApproveAlias", "operator"),
        ("SetPrimaryAlias", "operator"),
        ("PutReservedName", "operator"),
        ("DeleteReservedName", "operator"),
    ]
    for event in staff_events:
        assert (event.event_source, event.source_ip, event.user_agent, event.read_only) == (
            "berth",
            "198.51.100.4",
            "Firefox/130",
            False,
        )
        assert len(event.request_id) == 32 and event.actor_account_id == ""
    suspension = staff_events[1]
    assert suspension.recipient_account_id == tenant.id  # the account's owner sees what staff did to it
    assert suspension.request_parameters == {"registryId": tenant.id, "reason": "malware"}
    assert staff_events[3].request_parameters == {"alias": "shipyard"}
    assert staff_events[3].response_elements == {"status": "APPROVED"}
    assert staff_events[-1].recipient_account_id == ""  # reserved names are the staff's own business
    out = StringIO()
    call_command("verify_audit_chain", stdout=out)
    assert out.getvalue().startswith(f"audit chain intact: {Event.objects.count()} events")


def test_an_account_changed_in_its_form_is_recorded_with_the_staff_member_as_actor(staff_client, tenant):
    response = staff_client.post(
        f"/admin/accounts/account/{tenant.id}/change/",
        {"name": "Renamed", "display_name": "Acme", "create_on_push": "", "verified": "on",
         "aliases-TOTAL_FORMS": "0", "aliases-INITIAL_FORMS": "0",
         "memberships-TOTAL_FORMS": "0", "memberships-INITIAL_FORMS": "0"},
    )  # fmt: skip
    assert response.status_code == 302, response.content
    account = Account.objects.get(pk=tenant.id)
    assert (account.name, account.display_name, account.create_on_push, account.verified) == (
        "Renamed",
        "Acme",
        False,
        True,
    )
    event = Event.objects.get(event_name="UpdateAccount")
    assert (event.actor_type, event.actor_username, event.recipient_account_id) == ("BerthStaff", "operator", tenant.id)
    assert event.request_parameters == {
        "registryId": tenant.id,
        "name": "Renamed",
        "displayName": "Acme",
        "createOnPush": False,
        "verified": True,
    }


def _blob(repository, size: int, seed: str) -> Blob:
    blob = Blob.objects.create(digest="sha256:" + hashlib.sha256(seed.encode()).hexdigest(), size=size)
    RepositoryBlob.objects.create(repository=repository, blob=blob)
    return blob


def _image(repository, seed: str) -> Manifest:
    manifest = Manifest.objects.create(
        repository=repository, digest="sha256:" + hashlib.sha256(seed.encode()).hexdigest(),
        media_type="application/vnd.oci.image.manifest.v1+json", size=10, content=b"{}", total_size=100,
    )  # fmt: skip
    Tag.objects.create(repository=repository, name=seed, manifest=manifest)
    return manifest


def test_repositories_show_image_count_and_stored_size_in_one_query(
    staff_client, tenant, django_assert_max_num_queries
):
    for n in range(5):
        repository = repository_services.create_repository(
            actor=Actor.system("test"), account=tenant.account, name=f"repo{n}"
        )
        for i in range(n):
            _image(repository, f"{n}-{i}")
            _blob(repository, 1024 * 1024, f"blob-{n}-{i}")

    with django_assert_max_num_queries(8):  # session, user, counts: not one per row
        response = staff_client.get("/admin/repositories/repository/", {"o": "4"})
    rows = {repository.name: repository for repository in response.context["cl"].result_list}
    assert rows["repo3"].image_total == 3 and rows["repo3"].stored_bytes == 3 * 1024 * 1024
    assert rows["repo0"].image_total == 0 and rows["repo0"].stored_bytes == 0
    assert "3.0\xa0MiB" in response.content.decode()


def test_repository_visibility_name_and_account_are_read_only_and_scan_on_push_changes(
    staff_client, tenant, other_tenant
):
    repository = repository_services.create_repository(actor=Actor.system("test"), account=tenant.account, name="tools")
    response = staff_client.post(
        f"/admin/repositories/repository/{repository.pk}/change/",
        {"visibility": Visibility.PUBLIC, "name": "renamed", "account": other_tenant.id, "scan_on_push": "on",
         "catalog_data-TOTAL_FORMS": "0", "catalog_data-INITIAL_FORMS": "0"},
    )  # fmt: skip
    assert response.status_code == 302, response.content
    repository.refresh_from_db()
    # The owner's choice: staff take a public repository down instead (test_staff_takedown.py).
    assert (repository.visibility, repository.name, repository.account_id) == (Visibility.PRIVATE, "tools", tenant.id)
    assert repository.scan_on_push
    change = Event.objects.get(event_name="UpdateRepository")
    assert (change.actor_type, change.actor_username, change.recipient_account_id, change.repository) == (
        "BerthStaff",
        "operator",
        tenant.id,
        "tools",
    )
    assert change.request_parameters == {"registryId": tenant.id, "repositoryName": "tools", "scanOnPush": True}
    assert staff_client.get("/admin/repositories/repository/add/").status_code == 403


def test_registry_content_is_read_only(staff_client, tenant):
    repository = repository_services.create_repository(actor=Actor.system("test"), account=tenant.account, name="tools")
    manifest = _image(repository, "latest")
    blob = _blob(repository, 10, "a blob")
    for path in (
        f"/admin/registry/manifest/{manifest.pk}/change/",
        f"/admin/registry/blob/{blob.pk}/change/",
        f"/admin/registry/tag/{manifest.tags.get().pk}/change/",
    ):
        assert staff_client.get(path).status_code == 200
        assert staff_client.post(path, {}).status_code == 403
    assert staff_client.get(f"/admin/registry/manifest/{manifest.pk}/delete/").status_code == 403
    assert staff_client.get("/admin/registry/blob/add/").status_code == 403


@pytest.mark.parametrize(
    "path, rows",
    [
        ("/admin/accounts/account/?suspended_at__isempty=1", 1),
        ("/admin/accounts/account/?suspended_at__isempty=0", 0),
        ("/admin/accounts/account/?verified__exact=1", 0),
        ("/admin/accounts/alias/", 1),
        ("/admin/accounts/aliasrequest/?status__exact=PENDING", 1),
        ("/admin/accounts/reservedname/", 0),
        ("/admin/repositories/repository/?visibility__exact=public&q=tools", 1),
        ("/admin/registry/blob/", 1),
        ("/admin/registry/manifest/", 1),
        ("/admin/registry/tag/", 1),
        ("/admin/registry/taghistory/", 0),
        ("/admin/registry/upload/", 0),
    ],
)
def test_every_list_of_the_console_answers(staff_client, tenant, path, rows):
    repository = repository_services.create_repository(
        actor=Actor.system("test"), account=tenant.account, name="tools", visibility="public"
    )
    _image(repository, "latest")
    _blob(repository, 10, "a blob")
    request_for(tenant, "shipyard")
    response = staff_client.get(path)
    assert response.status_code == 200
    assert response.context["cl"].result_count == rows
