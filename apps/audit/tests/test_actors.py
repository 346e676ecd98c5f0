"""Who records a change: a request's caller, a staff operator, or Berth itself, each
in the one chain."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import transaction
from django.test import RequestFactory

from apps.audit import events, services
from apps.audit.events import Actor
from apps.audit.models import Event
from apps.audit.records import to_record
from apps.kernel.requests import RequestContext, request_context

from .conftest import root_actor

pytestmark = pytest.mark.django_db

ACCOUNT = "111122223333"


def verified() -> str:
    out = StringIO()
    call_command("verify_audit_chain", stdout=out)
    return out.getvalue()


def test_berth_records_its_own_work_without_a_request_and_the_chain_verifies():
    with transaction.atomic():
        services.record_change(
            actor=root_actor(ACCOUNT),
            context=RequestContext("192.0.2.10", "docker/27", "r-1"),
            event_name="PutImage",
            recipient_account_id=ACCOUNT,
            repository="team/app",
            request_parameters={"imageTag": "old"},
        )
    with transaction.atomic():
        services.record_change(
            actor=Actor.system("lifecycle"),
            context=None,
            event_name="BatchDeleteImage",
            recipient_account_id=ACCOUNT,
            repository="team/app",
            request_parameters={"imageTag": "old", "none": None},
            response_elements={"imageIds": [{"imageTag": "old"}]},
        )

    expiry = Event.objects.get(event_name="BatchDeleteImage")
    assert (expiry.actor_type, expiry.actor_username, expiry.actor_arn, expiry.actor_account_id) == (
        "BerthService",
        "lifecycle",
        "",
        "",
    )
    assert (expiry.source_ip, expiry.user_agent, expiry.request_id, expiry.read_only) == ("", "berth", "", False)
    assert (expiry.recipient_account_id, expiry.repository, expiry.image_tag) == (ACCOUNT, "team/app", "old")
    assert expiry.request_parameters == {"imageTag": "old"}
    assert to_record(expiry)["userIdentity"] == {
        "type": "BerthService",
        "arn": "",
        "accountId": "",
        "principalId": "lifecycle",
        "userName": "lifecycle",
    }
    assert expiry.previous_hash == Event.objects.get(event_name="PutImage").hash
    assert "2 events" in verified()


def test_a_change_a_request_asked_for_is_recorded_as_the_event_the_request_started():
    request = RequestFactory().put("/v2/team/app/manifests/v1", REMOTE_ADDR="192.0.2.10", HTTP_USER_AGENT="docker/27")
    draft = events.begin(
        request,
        event_name="PutImage",
        actor=root_actor(ACCOUNT),
        read_only=False,
        recipient_account_id=ACCOUNT,
        repository="team/app",
        imageTag="v1",
    )
    with transaction.atomic():
        event = services.record_change(
            actor=root_actor(ACCOUNT),
            context=request_context(request),
            event_name="CompleteLayerUpload",
            request_parameters={"imageTag": "ignored", "registryId": ACCOUNT},
            response_elements={"imageDigest": "sha256:" + "a" * 64},
        )

    assert draft.recorded and event.event_id == draft.event_id
    assert (event.event_name, event.source_ip, event.user_agent) == ("PutImage", "192.0.2.10", "docker/27")
    # The request's own parameters stand; the service's fill in what it did not say.
    assert event.request_parameters == {"imageTag": "v1", "registryId": ACCOUNT}
    assert event.response_elements == {"imageDigest": "sha256:" + "a" * 64}

    with transaction.atomic():
        second = services.record_change(
            actor=root_actor(ACCOUNT),
            context=request_context(request),
            event_name="PutImageTagMutability",
            recipient_account_id=ACCOUNT,
        )
    assert (second.event_name, second.request_id, second.source_ip) == ("PutImageTagMutability", "", "192.0.2.10")
    assert second.event_id != event.event_id


def test_a_request_that_only_read_starts_no_event_a_change_can_take():
    request = RequestFactory().get("/v2/team/app/manifests/v1")
    events.begin(request, event_name="BatchGetImage", actor=root_actor(ACCOUNT), read_only=True)
    with transaction.atomic():
        event = services.record_change(
            actor=Actor.staff("operator"),
            context=request_context(request),
            event_name="SuspendAccount",
            event_source="berth",
            recipient_account_id=ACCOUNT,
        )
    assert (event.event_name, event.actor_type, event.actor_username) == ("SuspendAccount", "BerthStaff", "operator")
    assert events.current(request).recorded is False
