"""Putting a policy, previewing it and running it against a repository whose push
and pull times the test controls: ECR's documented policies expire what the user
guide says, the preview is what the run then does, and whole images go."""

from __future__ import annotations

import json

import pytest

from apps.audit.events import Actor
from apps.audit.models import Event
from apps.events.models import DomainEvent
from apps.lifecycle import services
from apps.lifecycle.exceptions import LifecyclePolicyInvalid, LifecyclePolicyNotFound
from apps.lifecycle.models import LifecyclePolicy
from apps.registry.models import Manifest, Tag

from . import ecr_examples

pytestmark = pytest.mark.django_db

ADMIN = Actor.system("test")


def digests_left(shelf) -> set[str]:
    return set(Manifest.objects.filter(repository=shelf.repository).values_list("digest", flat=True))


def put(shelf, text: str):
    return services.put_lifecycle_policy(repository=shelf.repository, text=text, actor=ADMIN)


def preview(shelf) -> list[dict]:
    return services.start_lifecycle_policy_preview(repository=shelf.repository, actor=ADMIN, now=shelf.now).results


def run(shelf):
    return services.run_lifecycle_policy(repository=shelf.repository, now=shelf.now)


@pytest.mark.parametrize("name", sorted(ecr_examples.EXAMPLES))
def test_the_user_guides_examples_preview_and_expire_what_the_guide_says(shelf, name):
    text, repository, outcome = ecr_examples.EXAMPLES[name]
    digest_of = {}
    for image, (tags, days) in repository.items():
        digest_of[image] = shelf.push(tags[0], days, seed=image)
        for tag in tags[1:]:
            shelf.client.push_manifest(shelf.name, tag, shelf.last_manifest)
    expected = {digest_of[image] for image in outcome}
    put(shelf, text)
    previewed = preview(shelf)
    assert {result["imageDigest"] for result in previewed} == expected
    result = run(shelf)
    assert set(result.expired) == expected
    assert digests_left(shelf) == set(digest_of.values()) - expected
    assert LifecyclePolicy.objects.get(repository=shelf.repository).last_evaluated_at == shelf.now


def test_age_count_and_untagged_examples_against_pushes(shelf):
    old_prod = shelf.push("prod-1", 20)
    shelf.push("prod-2", 2)
    untagged_old = shelf.push("u1", 30)
    untagged_new = shelf.push("u2", 3)
    shelf.push("u3", 1)
    for tag in ("u1", "u2", "u3"):
        shelf.untag(tag)
    put(shelf, ecr_examples.AGE_TAGGED)
    assert run(shelf).expired == [old_prod]
    put(shelf, ecr_examples.AGE_UNTAGGED)
    assert run(shelf).expired == [untagged_old]
    put(shelf, ecr_examples.COUNT_UNTAGGED)
    assert run(shelf).expired == [untagged_new]


def test_the_preview_names_the_rule_and_the_last_pull_and_equals_the_run(shelf):
    old = shelf.push("v1", 40, pulled_days=35)
    shelf.push("v2", 40, pulled_days=3)
    newest = shelf.push("v3", 1)
    index_child = shelf.push("arm", 50, seed="arm")
    index = shelf.index("multi", 50, [index_child])
    shelf.untag("arm")
    signature = shelf.referrer(index, 50)
    text = json.dumps(
        {
            "rules": [
                {
                    "rulePriority": 1,
                    "description": "pulled lately stays",
                    "selection": {
                        "tagStatus": "any",
                        "countType": "sinceImagePulled",
                        "countUnit": "days",
                        "countNumber": 7,
                    },
                    "action": {"type": "keep"},
                },
                {
                    "rulePriority": 5,
                    "selection": {
                        "tagStatus": "any",
                        "countType": "sinceImagePushed",
                        "countUnit": "days",
                        "countNumber": 30,
                    },
                    "action": {"type": "expire"},
                },
            ]
        }
    )
    put(shelf, text)
    previewed = preview(shelf)
    assert [(r["imageDigest"], r["appliedRulePriority"], r["action"]) for r in previewed] == [
        (index, 5, {"type": "EXPIRE"}),
        (old, 5, {"type": "EXPIRE"}),
    ]
    [index_result, old_result] = previewed
    assert index_result["imageTags"] == ["multi"]
    assert index_result["alsoExpires"] == [signature, index_child]
    assert old_result["lastPulledAt"] is not None and old_result["lastPulledAt"].startswith(str(shelf.now.year))

    result = run(shelf)
    assert result.expired == [r["imageDigest"] for r in previewed]
    assert set(result.deleted) == {index, signature, index_child, old}
    assert newest in digests_left(shelf)
    events = list(Event.objects.filter(event_name="PolicyExecutionEvent").order_by("sequence"))
    assert [e.request_parameters["imageDigest"] for e in events] == [index, old]
    assert {e.request_parameters["rulePriority"] for e in events} == {5}
    assert events[0].actor_username == "lifecycle"
    assert events[0].response_elements["deletedImageDigests"] == [signature, index, index_child]
    deleted_events = DomainEvent.objects.filter(name="image.deleted")
    assert {e.payload["digest"] for e in deleted_events} >= {index, signature, index_child, old}
    assert {e.payload["reason"] for e in deleted_events} == {"lifecycle"}  # the cascade's too (webhooks tell it)


def test_a_child_of_a_kept_index_is_kept_and_a_tagged_child_outlives_its_index(shelf):
    amd = shelf.push("amd", 50)
    arm = shelf.push("arm", 50)
    shelf.untag("amd")
    old_index = shelf.index("old", 40, [amd, arm])
    shelf.index("new", 1, [amd])
    put(shelf, ecr_examples.AGE_TAGGED.replace('"prod*"', '"*"'))
    result = run(shelf)
    assert result.expired == [old_index]
    left = digests_left(shelf)
    assert amd in left  # the new index lists it
    assert arm in left  # tagged: an image of its own, though older than 14 days... expired next time
    assert run(shelf).expired == [arm]


def test_an_image_changed_since_the_evaluation_is_left(shelf, monkeypatch):
    moved = shelf.push("v1", 40)
    pulled = shelf.push("v2", 40)
    put(shelf, ecr_examples.AGE_TAGGED.replace('"prod*"', '"v*"'))
    real_plan = services.expiries

    def then_someone_pushes(**kwargs):
        planned = real_plan(**kwargs)
        # Between the evaluation and the deletion: a tag is put on one image, the other is pulled.
        shelf.client.push_manifest(shelf.name, "stable", json.loads(bytes(Manifest.objects.get(digest=moved).content)))
        Manifest.objects.filter(digest=pulled).update(last_pulled_at=shelf.now)
        return planned

    monkeypatch.setattr(services, "expiries", then_someone_pushes)
    result = run(shelf)
    assert result.expired == []
    assert sorted(result.skipped) == sorted([moved, pulled])
    assert Tag.objects.filter(name="stable", manifest__digest=moved).exists()
    assert not Event.objects.filter(event_name="PolicyExecutionEvent").exists()


def test_put_get_delete_and_refusals(shelf):
    shelf.push("v1", 1)
    with pytest.raises(LifecyclePolicyInvalid, match="Must specify tagPrefixList or tagPatternList"):
        put(shelf, ecr_examples.AGE_TAGGED.replace('"tagPatternList": ["prod*"],', ""))
    with pytest.raises(LifecyclePolicyNotFound):
        services.start_lifecycle_policy_preview(repository=shelf.repository, actor=ADMIN)
    with pytest.raises(LifecyclePolicyNotFound):
        services.delete_lifecycle_policy(repository=shelf.repository, actor=ADMIN)
    stored = put(shelf, ecr_examples.COUNT_UNTAGGED)
    assert stored.text == ecr_examples.COUNT_UNTAGGED
    assert services.delete_lifecycle_policy(repository=shelf.repository, actor=ADMIN).text == stored.text
    names = list(Event.objects.order_by("sequence").values_list("event_name", flat=True))
    assert names[-2:] == ["PutLifecyclePolicy", "DeleteLifecyclePolicy"]
    assert run(shelf).expired == []  # no policy, nothing to do


def test_the_command_and_the_beat_task_run_every_policy(shelf, settings):
    from io import StringIO

    from django.core.management import call_command

    from apps.lifecycle import tasks

    settings.CELERY_TASK_ALWAYS_EAGER = True
    old = shelf.push("prod-1", 20)
    shelf.push("prod-2", 1)
    put(shelf, ecr_examples.AGE_TAGGED)
    out = StringIO()
    call_command("lifecycle", "run", f"{shelf.tenant.id}/app", stdout=out)
    assert out.getvalue() == f"{shelf.tenant.id}/app: 1 images expired (1 manifests)\n"
    assert old not in digests_left(shelf)
    assert tasks.run_lifecycle_policies.delay().get() == 1
