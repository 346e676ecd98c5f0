"""Registry writes called with no request (Berth's own work, a script) record their
audit event with the actor they are given, on the same chain."""

from __future__ import annotations

from apps.audit.events import Actor
from apps.audit.models import Event
from apps.registry import services
from apps.registry.models import Manifest
from apps.repositories.models import Repository

SYSTEM = Actor.system("test")


def test_a_batch_delete_records_one_event_with_what_it_deleted_and_what_failed(alice, repo):
    digest, _ = alice.push_image(repo, "v1")
    repository = Repository.objects.get()
    done = services.batch_delete_image(repository=repository, image_ids=[(None, "v1"), (None, "missing")], actor=SYSTEM)
    assert done.removed == [(digest, "v1")] and [(d, t) for d, t, _ in done.failures] == [(None, "missing")]
    assert not Manifest.objects.exists()
    event = Event.objects.filter(event_name="BatchDeleteImage").get()
    assert (event.actor_type, event.actor_username, event.user_agent, event.source_ip, event.request_id) == (
        "BerthService",
        "test",
        "berth",
        "",
        "",
    )
    assert event.response_elements["imageIds"] == [{"imageDigest": digest, "imageTag": "v1"}]
    assert event.response_elements["failures"] == [
        {
            "imageId": {"imageTag": "missing"},
            "failureCode": "ImageNotFound",
            "failureReason": done.failures[0][2].reason,
        }
    ]


def test_a_batch_delete_where_every_id_fails_is_still_recorded(alice, repo):
    alice.push_image(repo, "v1")
    repository = Repository.objects.get()
    done = services.batch_delete_image(repository=repository, image_ids=[(None, "nope")], actor=SYSTEM)
    assert done.removed == [] and len(done.failures) == 1
    event = Event.objects.filter(event_name="BatchDeleteImage").get()
    assert "imageIds" not in event.response_elements
    assert event.response_elements["failures"][0]["failureCode"] == "ImageNotFound"
    assert event.request_parameters["imageIds"] == [{"imageTag": "nope"}]


def test_deleting_a_repository_records_it(tenant, repo, alice):
    alice.push_image(repo, "v1")
    repository = Repository.objects.get()
    services.delete_repository(repository=repository, force=True, actor=SYSTEM)
    event = Event.objects.filter(event_name="DeleteRepository").get()
    assert (event.actor_type, event.recipient_account_id, event.repository) == ("BerthService", tenant.id, "app")
    assert event.request_parameters == {"registryId": tenant.id, "repositoryName": "app", "force": True}
    assert event.response_elements == {"imageCount": 1}
