"""Staff take a public repository down and restore it: the service (a reason, the
audit event with the staff member as actor, the owner's mail), and what a take-down
changes: out of the gallery and the public catalog, refused to anonymous pulls and
to other accounts as a private or missing repository is (401 with a challenge at
/v2/, a 404 page in the gallery), while its own account keeps every right on it."""

from __future__ import annotations

import pytest
from django.core import mail

from apps.audit.events import Actor
from apps.audit.models import Event
from apps.gallery import services as gallery_services
from apps.repositories import services
from apps.repositories.models import Repository, Visibility

pytestmark = pytest.mark.django_db

STAFF = Actor.staff("operator")
SITE = "https://registry.example.com"


@pytest.fixture(autouse=True)
def _mail_in_memory_and_static_files_without_manifest(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    # The gallery's pages name static files; the tests run without collectstatic's manifest.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture
def published(tenant, registry_client, committed):
    """A public repository of ``tenant`` holding an image tagged v1, listed in the gallery."""
    from django.contrib.auth import get_user_model

    get_user_model().objects.filter(username=tenant.username).update(email="owner@example.com")
    with committed():
        repository = services.create_repository(
            actor=Actor.system("test"), account=tenant.account, name="tools", visibility=Visibility.PUBLIC
        )
        registry_client(tenant).push_image(f"{tenant.id}/tools", "v1")
    gallery_services.refresh_entry(repository_id=repository.pk)
    return repository


def take_down(repository, reason="malware in the image", **kwargs):
    return services.take_down_repository(repository=repository, reason=reason, actor=STAFF, site_url=SITE, **kwargs)


def pull(client, name: str):
    token = client.token(f"repository:{name}:pull")
    return client.request("GET", f"/v2/{name}/manifests/v1", token=token)


def test_a_take_down_says_why_records_the_staff_member_and_mails_the_owner(published, tenant, committed):
    with pytest.raises(ValueError, match="say why"):
        take_down(published, reason="  ")
    with committed():
        take_down(published)
    published.refresh_from_db()
    assert published.is_taken_down and published.takedown_reason == "malware in the image"
    assert published.visibility == Visibility.PUBLIC  # the owner's setting stays as it was
    event = Event.objects.get(event_name="TakeDownRepository")
    assert (event.event_source, event.actor_type, event.actor_username, event.recipient_account_id) == (
        "berth",
        "BerthStaff",
        "operator",
        tenant.id,
    )
    assert event.request_parameters == {
        "registryId": tenant.id,
        "repositoryName": "tools",
        "reason": "malware in the image",
    }
    [message] = mail.outbox
    assert message.to == ["owner@example.com"] and "tools was taken down" in message.subject
    assert "Reason: malware in the image" in message.body
    assert f"registry.example.com/{tenant.id}/tools" in message.body

    # Again: the first time and reason stay, no second mail, the request is recorded all the same.
    first = published.taken_down_at
    with committed():
        take_down(published, reason="another reason")
    published.refresh_from_db()
    assert (published.taken_down_at, published.takedown_reason) == (first, "malware in the image")
    assert len(mail.outbox) == 1 and Event.objects.filter(event_name="TakeDownRepository").count() == 2


def test_a_private_repository_is_not_taken_down(tenant):
    private = services.create_repository(actor=Actor.system("test"), account=tenant.account, name="secret")
    with pytest.raises(services.RepositoryNotPublic):
        take_down(private)
    assert not Repository.objects.get(pk=private.pk).is_taken_down


def test_nobody_outside_the_account_pulls_a_taken_down_repository(
    published, tenant, other_tenant, registry_client, client
):
    anonymous, outsider, owner = registry_client(None), registry_client(other_tenant), registry_client(tenant)
    by_alias, by_id = f"{tenant.alias}/tools", f"{tenant.id}/tools"
    assert pull(anonymous, by_alias).status_code == 200
    assert client.get(f"/{tenant.alias}/tools").status_code == 200
    token_before = anonymous.token(f"repository:{by_alias}:pull")

    take_down(published)
    for who in (anonymous, outsider):
        for name in (by_alias, by_id):
            refused = pull(who, name)
            # What an outsider gets for a private or missing repository: nothing tells them apart.
            assert refused.status_code == 401, (name, refused.content)
            assert refused.json()["errors"][0]["code"] == "UNAUTHORIZED"
    # A token minted before the take-down pulls nothing either: each request is decided anew.
    assert anonymous.request("GET", f"/v2/{by_alias}/manifests/v1", token=token_before).status_code == 401
    assert pull(owner, by_id).status_code == 200  # its own account keeps every right on it
    assert client.get(f"/{tenant.alias}/tools").status_code == 404
    assert "tools" not in client.get(f"/{tenant.alias}").content.decode()
    assert f"{tenant.alias}/tools" not in anonymous.request("GET", "/v2/_catalog", token=anonymous.token()).json().get(
        "repositories", []
    )


def test_restoring_makes_it_public_again_and_mails_the_owner(published, tenant, registry_client, client, committed):
    take_down(published)
    mail.outbox.clear()
    with committed():
        services.restore_repository(repository=published, actor=STAFF, site_url=SITE)
    published.refresh_from_db()
    assert not published.is_taken_down and published.takedown_reason == ""
    assert pull(registry_client(None), f"{tenant.alias}/tools").status_code == 200
    assert client.get(f"/{tenant.alias}/tools").status_code == 200
    [message] = mail.outbox
    assert "tools is restored" in message.subject and "It is public again" in message.body
    event = Event.objects.get(event_name="RestoreRepository")
    assert (event.actor_type, event.actor_username, event.request_parameters) == (
        "BerthStaff",
        "operator",
        {"registryId": tenant.id, "repositoryName": "tools"},
    )
    assert event.response_elements == {"takenDownAt": None}


def test_a_reason_is_stored_only_with_a_take_down():
    from django.db import IntegrityError, transaction

    from apps.accounts.services import create_account

    account = create_account(name="n", username="constraint-owner", password="x", validate=False)
    repository = Repository.objects.create(account=account, name="tools", visibility=Visibility.PUBLIC)
    with pytest.raises(IntegrityError), transaction.atomic():
        Repository.objects.filter(pk=repository.pk).update(takedown_reason="no time")
