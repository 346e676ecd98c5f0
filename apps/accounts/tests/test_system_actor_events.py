"""Account writes called with no request record their audit event with the actor
they are given; an access key's secret is never in it."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model

from apps.accounts import registries, services
from apps.audit.events import Actor
from apps.audit.models import Event

pytestmark = pytest.mark.django_db

SYSTEM = Actor.system("test")


def test_access_keys_record_iams_operations_without_the_secret(tenant):
    user = get_user_model().objects.get(username=tenant.username)
    new_key = services.create_access_key(user=user, actor=SYSTEM)
    key = new_key.access_key
    services.deactivate_access_key(access_key=key, actor=SYSTEM)
    services.activate_access_key(access_key=key, actor=SYSTEM)
    services.activate_access_key(access_key=key, actor=SYSTEM)  # active already: recorded all the same
    services.delete_access_key(access_key=key, actor=SYSTEM)
    events = list(Event.objects.order_by("sequence"))
    assert [(e.event_name, e.request_parameters.get("status")) for e in events] == [
        ("CreateAccessKey", None),
        ("UpdateAccessKey", "INACTIVE"),
        ("UpdateAccessKey", "ACTIVE"),
        ("UpdateAccessKey", "ACTIVE"),
        ("DeleteAccessKey", None),
    ]
    for event in events:
        assert (event.event_source, event.actor_type, event.actor_username) == ("iam", "BerthService", "test")
        assert (event.recipient_account_id, event.request_parameters["accessKeyId"]) == (tenant.id, key.access_key_id)
        assert new_key.secret not in json.dumps([event.request_parameters, event.response_elements])


def test_registry_catalog_data_records_its_ecr_public_operation(tenant):
    registries.put_registry_catalog_data(account=tenant.account, display_name="Initech", actor=SYSTEM)
    event = Event.objects.get()
    assert (event.event_name, event.event_source, event.actor_type, event.recipient_account_id) == (
        "PutRegistryCatalogData",
        "ecr-public",
        "BerthService",
        tenant.id,
    )
    assert event.request_parameters == {"registryId": tenant.id, "displayName": "Initech"}
