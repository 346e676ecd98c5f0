"""What repository writes tell the rest of Berth: created and changed, in the
transaction of the change."""

from __future__ import annotations

from apps.audit.events import Actor
from apps.events.models import DomainEvent
from apps.repositories import catalog, services
from apps.repositories.models import TagMutability, Visibility


def published() -> list[tuple[str, dict]]:
    """The events published so far (inside the test's transaction nothing is delivered), and clear them."""
    events = [(event.name, event.payload) for event in DomainEvent.objects.order_by("pk")]
    DomainEvent.objects.all().delete()
    return events


def test_creating_and_changing_a_repository_publish_what_changed(tenant):
    repository = services.create_repository(
        actor=Actor.system("test"), account=tenant.account, name="app", visibility=Visibility.PUBLIC
    )
    about = {"repositoryId": repository.pk, "accountId": tenant.id, "repository": "app"}
    assert published() == [("repository.created", {**about, "visibility": "public"})]

    catalog.put_repository_catalog_data(actor=Actor.system("test"), repository=repository, description="A tool")
    services.update_repository(
        repository=repository, visibility=Visibility.PRIVATE, resource_tags={"team": "a"}, actor=Actor.staff("operator")
    )
    services.put_image_tag_mutability(
        actor=Actor.system("test"), repository=repository, image_tag_mutability=TagMutability.IMMUTABLE
    )
    assert published() == [
        ("repository.changed", {**about, "changed": ["catalogData"]}),
        ("repository.changed", {**about, "changed": ["visibility", "resourceTags"]}),
        ("repository.changed", {**about, "changed": ["imageTagMutability"]}),
    ]


def test_a_push_creates_a_repository_once(tenant):
    first = services.get_or_create_on_push(account=tenant.account, name="pushed")
    assert services.get_or_create_on_push(account=tenant.account, name="pushed") == first
    assert [name for name, _ in published()] == ["repository.created"]
