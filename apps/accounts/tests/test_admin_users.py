"""Django's own user and group pages in the staff console: every save and delete
lands in the audit trail, with the staff member as its actor."""

import json

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from apps.accounts import services
from apps.audit.events import Actor
from apps.audit.models import Event

pytestmark = pytest.mark.django_db

FROM_CONSOLE = {"REMOTE_ADDR": "198.51.100.4", "HTTP_USER_AGENT": "Firefox/130"}
NEW_PASSWORD = "a-long-and-fresh-passphrase-42"


def _change_form(user, **overrides) -> dict:
    """What the user's change page posts back as it stands, with ``overrides``."""
    form = {
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "is_active": "on" if user.is_active else "",
        "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
        "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
        "initial-date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
        "initial-date_joined_1": user.date_joined.strftime("%H:%M:%S"),
        "groups": [],
        "user_permissions": [],
    }
    if getattr(user, "membership", None) is None:
        form["username"] = user.username
    return {**{k: v for k, v in form.items() if v != ""}, **overrides}


def staff_events() -> list[Event]:
    return list(Event.objects.filter(actor_type="BerthStaff").order_by("sequence"))


def test_users_added_changed_given_a_password_and_deleted_are_recorded(staff_client, tenant):
    added = staff_client.post(
        "/admin/auth/user/add/",
        {"username": "helper", "usable_password": "true", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
        **FROM_CONSOLE,
    )
    assert added.status_code == 302, added.content
    helper = get_user_model().objects.get(username="helper")
    changed = staff_client.post(
        f"/admin/auth/user/{helper.pk}/change/", _change_form(helper, email="helper@example.com"), **FROM_CONSOLE
    )
    assert changed.status_code == 302, changed.content
    password = staff_client.post(
        f"/admin/auth/user/{helper.pk}/password/",
        {"usable_password": "true", "password1": NEW_PASSWORD + "!", "password2": NEW_PASSWORD + "!"},
        **FROM_CONSOLE,
    )
    assert password.status_code == 302, password.content
    deleted = staff_client.post(f"/admin/auth/user/{helper.pk}/delete/", {"post": "yes"}, **FROM_CONSOLE)
    assert deleted.status_code == 302, deleted.content
    assert not get_user_model().objects.filter(username="helper").exists()

    events = staff_events()
    assert [(event.event_name, event.actor_username) for event in events] == [
        ("StaffCreateUser", "operator"),
        ("StaffUpdateUser", "operator"),
        ("StaffSetUserPassword", "operator"),
        ("StaffDeleteUser", "operator"),
    ]
    for event in events:
        assert (event.event_source, event.source_ip, event.user_agent, event.read_only) == (
            "berth",
            "198.51.100.4",
            "Firefox/130",
            False,
        )
        assert event.request_parameters["userName"] == "helper"
        assert event.recipient_account_id == ""  # a user outside every account: the staff's own business
    assert "password" in events[0].request_parameters["changed"]
    assert events[1].request_parameters["changed"] == ["email"]
    # Never a password or its hash.
    trail = json.dumps([(event.request_parameters, event.response_elements) for event in events])
    assert NEW_PASSWORD not in trail and "md5$" not in trail


def test_a_change_to_an_accounts_user_is_shown_to_that_account(staff_client, tenant):
    owner = get_user_model().objects.get(username=tenant.username)
    response = staff_client.post(f"/admin/auth/user/{owner.pk}/change/", _change_form(owner, email="owner@example.com"))
    assert response.status_code == 302, response.content
    assert get_user_model().objects.get(pk=owner.pk).email == "owner@example.com"
    [event] = staff_events()
    assert (event.event_name, event.recipient_account_id) == ("StaffUpdateUser", tenant.id)
    assert event.request_parameters == {"userName": tenant.username, "changed": ["email"]}


def test_users_deleted_in_bulk_are_recorded_one_by_one(staff_client, db):
    users = [get_user_model().objects.create_user(username=f"temp{n}", password=None) for n in range(2)]
    response = staff_client.post(
        "/admin/auth/user/",
        {"action": "delete_selected", "_selected_action": [user.pk for user in users], "post": "yes"},
    )
    assert response.status_code == 302, response.content
    assert sorted(e.request_parameters["userName"] for e in staff_events()) == ["temp0", "temp1"]
    assert {e.event_name for e in staff_events()} == {"StaffDeleteUser"}


def test_groups_added_renamed_and_deleted_are_recorded(staff_client):
    added = staff_client.post("/admin/auth/group/add/", {"name": "auditors"}, **FROM_CONSOLE)
    assert added.status_code == 302, added.content
    group = Group.objects.get(name="auditors")
    renamed = staff_client.post(f"/admin/auth/group/{group.pk}/change/", {"name": "reviewers"}, **FROM_CONSOLE)
    assert renamed.status_code == 302, renamed.content
    deleted = staff_client.post(f"/admin/auth/group/{group.pk}/delete/", {"post": "yes"}, **FROM_CONSOLE)
    assert deleted.status_code == 302, deleted.content
    assert not Group.objects.exists()

    assert [(e.event_name, e.actor_username, e.request_parameters) for e in staff_events()] == [
        ("StaffCreateGroup", "operator", {"groupName": "auditors", "changed": ["name"]}),
        ("StaffUpdateGroup", "operator", {"groupName": "reviewers", "changed": ["name"]}),
        ("StaffDeleteGroup", "operator", {"groupName": "reviewers"}),
    ]


def test_the_user_services_record_without_a_request(db):
    user = get_user_model()(username="scripted")
    services.staff_save_user(user=user, changed=["username", "password1"], created=True, actor=Actor.staff("ops"))
    services.staff_delete_user(user=user, actor=Actor.staff("ops"))
    events = list(Event.objects.order_by("sequence"))
    assert [(e.event_name, e.actor_type, e.actor_username, e.user_agent) for e in events] == [
        ("StaffCreateUser", "BerthStaff", "ops", "berth"),
        ("StaffDeleteUser", "BerthStaff", "ops", "berth"),
    ]
    assert events[0].request_parameters == {"userName": "scripted", "changed": ["username", "password"]}
