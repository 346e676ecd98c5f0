"""Repository writes called with no request record their audit event with the
actor they are given; one that changes nothing is recorded too."""

from __future__ import annotations

import pytest

from apps.audit.events import Actor
from apps.audit.models import Event
from apps.repositories import catalog, services
from apps.repositories.models import TagMutability, Visibility

pytestmark = pytest.mark.django_db

SYSTEM = Actor.system("lifecycle")


def test_creating_and_configuring_a_repository_is_recorded(tenant):
    repository = services.create_repository(
        account=tenant.account, name="tools/cli", visibility=Visibility.PUBLIC, actor=SYSTEM
    )
    for _ in range(2):  # the same setting twice: both requests are recorded
        services.put_image_tag_mutability(
            repository=repository, image_tag_mutability=TagMutability.IMMUTABLE, actor=SYSTEM
        )
    catalog.put_repository_catalog_data(
        repository=repository, description="A tool", architectures=["ARM"], actor=SYSTEM
    )
    events = list(Event.objects.order_by("sequence"))
    assert [(e.event_name, e.event_source) for e in events] == [
        ("CreateRepository", "ecr"),
        ("PutImageTagMutability", "ecr"),
        ("PutImageTagMutability", "ecr"),
        ("PutRepositoryCatalogData", "ecr-public"),
    ]
    for event in events:
        assert (event.actor_type, event.actor_username, event.user_agent, event.request_id) == (
            "BerthService",
            "lifecycle",
            "berth",
            "",
        )
        assert (event.recipient_account_id, event.repository) == (tenant.id, "tools/cli")
    assert events[0].request_parameters["visibility"] == Visibility.PUBLIC
    assert events[1].request_parameters["imageTagMutability"] == TagMutability.IMMUTABLE
    assert events[3].request_parameters["catalogData"] == ["description", "architectures"]
