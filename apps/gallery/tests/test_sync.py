"""The search row follows real registry traffic: pushes, image details, deletes,
each once it has committed."""

from __future__ import annotations

from apps.accounts.models import Alias
from apps.audit.events import Actor
from apps.repositories import services as repository_services
from apps.repositories.models import Visibility

from ..models import GalleryEntry, PullCount


def test_push_details_and_delete_through_the_registry_update_the_row(tenant, registry_client, committed):
    with committed():
        repository = repository_services.create_repository(
            actor=Actor.system("test"), account=tenant.account, name="team/app", visibility=Visibility.PUBLIC
        )
    client = registry_client(tenant)
    client.push_image(f"{tenant.id}/team/app", "v1")
    # Not before the push has committed.
    assert GalleryEntry.objects.get(repository=repository).tag_count == 0

    # Once it has, the row shows the tag, and the worker's image details (the tests run it at once).
    with committed():
        client.push_image(f"{tenant.id}/team/app", "v2")
    entry = GalleryEntry.objects.get(repository=repository)
    assert (entry.tag_count, entry.default_tag, entry.kind) == (2, "v2", "image")
    assert entry.last_pushed_at is not None
    assert (entry.operating_systems, entry.architectures) == ("|Linux|", "|x86-64|")

    scope = f"repository:{tenant.id}/team/app:delete,pull,push"
    with committed():
        for tag in ("v1", "v2"):
            response = client.request("DELETE", f"/v2/{tenant.id}/team/app/manifests/{tag}", scope=scope)
            assert response.status_code == 202, response.content
    entry.refresh_from_db()
    assert entry.tag_count == 0 and entry.default_tag == ""


def test_a_push_to_a_private_repository_makes_no_row(tenant, registry_client, committed):
    with committed():
        registry_client(tenant).push_image(f"{tenant.id}/secret", "latest")
    assert not GalleryEntry.objects.exists()


def test_pulls_through_the_registry_are_counted(tenant, registry_client, committed):
    """The audit trail's events reach the counters (tests record them synchronously)."""
    with committed():
        repository_services.create_repository(
            actor=Actor.system("test"), account=tenant.account, name="app", visibility=Visibility.PUBLIC
        )
        registry_client(tenant).push_image(f"{tenant.id}/app", "latest")
    alias = Alias.objects.get(account=tenant.account).name
    anonymous = registry_client()
    with committed():
        for _ in range(2):
            response = anonymous.request(
                "GET",
                f"/v2/{alias}/app/manifests/latest",
                scope=f"repository:{alias}/app:pull",
                headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
            )
            assert response.status_code == 200
    assert GalleryEntry.objects.get(name="app").pull_count == 2
    assert sum(PullCount.objects.values_list("count", flat=True)) == 2
