"""The repositories replication and the pull-through cache create: which settings they
take (a creation template's, the source's, the defaults), what is recorded and told,
the lifecycle policy lifecycle puts from the template, and two workers creating one
repository at once."""

from __future__ import annotations

import json
import threading

import pytest
from django.db import connection, connections, transaction

from apps.audit.events import Actor
from apps.audit.models import Event
from apps.events.models import DomainEvent
from apps.events.names import REPOSITORY_CREATED
from apps.iam import selectors as iam_selectors
from apps.iam.models import RepositoryPolicy
from apps.lifecycle import selectors as lifecycle_selectors
from apps.lifecycle import services as lifecycle_services
from apps.lifecycle import subscribers as lifecycle_subscribers
from apps.replication import creation
from apps.repositories import services as repository_services
from apps.repositories.creation_templates import (
    CreationTemplateInvalid,
    create_repository_creation_template,
    delete_repository_creation_template,
)
from apps.repositories.models import Repository, RepositoryTag

pytestmark = pytest.mark.django_db

REPLICATION = Actor.system("replication")
CACHE = Actor.system("pull-through-cache")
TEST = Actor.system("test")
LIFECYCLE_POLICY = json.dumps(
    {
        "rules": [
            {
                "rulePriority": 1,
                "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 5},
                "action": {"type": "expire"},
            }
        ]
    }
)
OWN_LIFECYCLE_POLICY = LIFECYCLE_POLICY.replace('"countNumber": 5', '"countNumber": 9')


def pull_policy(account_id: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Sid": "Pull", "Effect": "Allow", "Principal": {"AWS": account_id}, "Action": "ecr:BatchGetImage"}
            ],
        }
    )


def template(tenant, prefix, applied_for=("REPLICATION", "PULL_THROUGH_CACHE"), **settings):
    return create_repository_creation_template(
        account=tenant.account, prefix=prefix, applied_for=list(applied_for), actor=TEST, **settings
    )


def tags_of(repository) -> dict:
    return dict(RepositoryTag.objects.filter(repository=repository).values_list("key", "value"))


def created_event(repository) -> dict:
    return DomainEvent.objects.get(name=REPOSITORY_CREATED, payload__repositoryId=repository.pk).payload


@pytest.fixture
def source(other_tenant):
    return repository_services.create_repository(
        account=other_tenant.account,
        name="team/app",
        image_tag_mutability="IMMUTABLE_WITH_EXCLUSION",
        image_tag_mutability_exclusion_filters=["latest"],
        scan_on_push=True,
        resource_tags={"team": "platform", "cost": "42"},
        actor=TEST,
    )


# -- without a template -------------------------------------------------------------


def test_a_replica_without_a_template_takes_its_sources_settings(tenant, source):
    replica = creation.create_repository(
        account=tenant.account, name="team/app", applied_for="REPLICATION", source=source, actor=REPLICATION
    )
    assert (replica.account_id, replica.name) == (tenant.id, "team/app")
    assert (replica.image_tag_mutability, replica.image_tag_mutability_exclusion_filters, replica.scan_on_push) == (
        "IMMUTABLE_WITH_EXCLUSION",
        ["latest"],
        True,
    )
    assert tags_of(replica) == {"team": "platform", "cost": "42"}
    assert "creationTemplate" not in created_event(replica)
    event = Event.objects.get(event_name="CreateRepository", recipient_account_id=tenant.id)
    assert (event.actor_type, event.actor_username, event.repository) == ("BerthService", "replication", "team/app")
    assert not RepositoryPolicy.objects.filter(repository=replica).exists()


def test_a_cached_repository_without_a_template_takes_the_defaults(tenant, source):
    cached = creation.create_repository(
        account=tenant.account, name="hub/library/nginx", applied_for="PULL_THROUGH_CACHE", source=source, actor=CACHE
    )
    assert (cached.image_tag_mutability, cached.image_tag_mutability_exclusion_filters, cached.scan_on_push) == (
        "MUTABLE",
        [],
        False,
    )
    assert tags_of(cached) == {}
    assert Event.objects.get(event_name="CreateRepository", recipient_account_id=tenant.id).actor_username == (
        "pull-through-cache"
    )


def test_a_replica_of_a_source_elsewhere_takes_the_defaults(tenant):
    replica = creation.create_repository(
        account=tenant.account, name="app", applied_for="REPLICATION", actor=REPLICATION
    )
    assert (replica.image_tag_mutability, replica.scan_on_push, tags_of(replica)) == ("MUTABLE", False, {})


def test_an_unknown_purpose_is_refused(tenant):
    with pytest.raises(ValueError, match="applied_for must be one of"):
        creation.create_repository(account=tenant.account, name="app", applied_for="MIRROR", actor=REPLICATION)
    assert not Repository.objects.filter(account=tenant.account).exists()


# -- from a template ----------------------------------------------------------------


def test_a_template_gives_its_settings_policy_and_lifecycle_policy(tenant, other_tenant, source, committed):
    template(
        tenant,
        "team",
        applied_for=["REPLICATION"],
        image_tag_mutability="IMMUTABLE",
        resource_tags={"from": "template"},
        repository_policy=pull_policy(other_tenant.id),
        lifecycle_policy=LIFECYCLE_POLICY,
    )
    with committed():
        replica = creation.create_repository(
            account=tenant.account, name="team/app", applied_for="REPLICATION", source=source, actor=REPLICATION
        )
    replica.refresh_from_db()
    # The template's settings, not the source's.
    assert (replica.image_tag_mutability, replica.scan_on_push, tags_of(replica)) == (
        "IMMUTABLE",
        False,
        {"from": "template"},
    )
    assert iam_selectors.repository_policy_of(replica).document == pull_policy(other_tenant.id)
    assert lifecycle_selectors.policy_of(replica).text == LIFECYCLE_POLICY

    recorded = {
        name: (actor_type, username)
        for name, actor_type, username in Event.objects.filter(
            recipient_account_id=tenant.id, repository="team/app"
        ).values_list("event_name", "actor_type", "actor_username")
    }
    assert recorded == {
        "CreateRepository": ("BerthService", "replication"),
        "SetRepositoryPolicy": ("BerthService", "replication"),
        "PutLifecyclePolicy": ("BerthService", "lifecycle"),
    }
    # Delivered to every subscriber, lifecycle's among them.
    assert not DomainEvent.objects.filter(name=REPOSITORY_CREATED, payload__repositoryId=replica.pk).exists()


def test_the_created_event_names_the_template(tenant):
    template(tenant, "ROOT")
    cached = creation.create_repository(
        account=tenant.account, name="hub/nginx", applied_for="PULL_THROUGH_CACHE", actor=CACHE
    )
    assert created_event(cached)["creationTemplate"] == "ROOT"


def test_the_longest_prefix_applied_for_the_purpose_is_chosen(tenant):
    template(tenant, "ROOT", image_tag_mutability="IMMUTABLE")
    template(tenant, "hub", applied_for=["PULL_THROUGH_CACHE"], resource_tags={"chosen": "hub"})
    template(tenant, "hub/library", applied_for=["REPLICATION"], resource_tags={"chosen": "hub/library"})
    cached = creation.create_repository(
        account=tenant.account, name="hub/library/nginx", applied_for="PULL_THROUGH_CACHE", actor=CACHE
    )
    assert tags_of(cached) == {"chosen": "hub"}
    replica = creation.create_repository(
        account=tenant.account, name="hub/library/redis", applied_for="REPLICATION", actor=REPLICATION
    )
    assert tags_of(replica) == {"chosen": "hub/library"}
    other = creation.create_repository(
        account=tenant.account, name="quay/app", applied_for="REPLICATION", actor=REPLICATION
    )
    assert (other.image_tag_mutability, created_event(other)["creationTemplate"]) == ("IMMUTABLE", "ROOT")


def test_a_template_for_the_other_purpose_is_not_used(tenant, source):
    template(tenant, "team", applied_for=["PULL_THROUGH_CACHE"], image_tag_mutability="IMMUTABLE")
    replica = creation.create_repository(
        account=tenant.account, name="team/app", applied_for="REPLICATION", source=source, actor=REPLICATION
    )
    assert replica.image_tag_mutability == "IMMUTABLE_WITH_EXCLUSION"  # the source's
    assert "creationTemplate" not in created_event(replica)


def test_a_template_whose_policy_no_longer_holds_creates_nothing(tenant, make_tenant):
    gone = make_tenant("gone")
    template(tenant, "team", repository_policy=pull_policy(gone.id))
    gone.account.delete()
    with pytest.raises(CreationTemplateInvalid, match="repository policy of creation template team no longer holds"):
        creation.create_repository(
            account=tenant.account, name="team/app", applied_for="REPLICATION", actor=REPLICATION
        )
    assert not Repository.objects.filter(account=tenant.account).exists()
    assert not Event.objects.filter(event_name="CreateRepository", recipient_account_id=tenant.id).exists()


# -- the lifecycle subscriber ---------------------------------------------------------


def test_a_repository_with_a_lifecycle_policy_keeps_it(tenant, committed):
    template(tenant, "team", lifecycle_policy=LIFECYCLE_POLICY)
    replica = creation.create_repository(
        account=tenant.account, name="team/app", applied_for="REPLICATION", actor=REPLICATION
    )
    lifecycle_services.put_lifecycle_policy(repository=replica, text=OWN_LIFECYCLE_POLICY, actor=TEST)
    event = DomainEvent.objects.get(name=REPOSITORY_CREATED, payload__repositoryId=replica.pk)
    lifecycle_subscribers.apply_creation_template(event)
    lifecycle_subscribers.apply_creation_template(event)
    assert lifecycle_selectors.policy_of(replica).text == OWN_LIFECYCLE_POLICY
    assert Event.objects.filter(event_name="PutLifecyclePolicy").count() == 1


def test_a_second_delivery_puts_nothing_more(tenant):
    template(tenant, "team", lifecycle_policy=LIFECYCLE_POLICY)
    replica = creation.create_repository(
        account=tenant.account, name="team/app", applied_for="REPLICATION", actor=REPLICATION
    )
    event = DomainEvent.objects.get(name=REPOSITORY_CREATED, payload__repositoryId=replica.pk)
    lifecycle_subscribers.apply_creation_template(event)
    lifecycle_subscribers.apply_creation_template(event)
    assert lifecycle_selectors.policy_of(replica).text == LIFECYCLE_POLICY
    assert Event.objects.filter(event_name="PutLifecyclePolicy").count() == 1


def test_a_template_deleted_before_the_delivery_gives_nothing(tenant):
    template(tenant, "team", lifecycle_policy=LIFECYCLE_POLICY)
    replica = creation.create_repository(
        account=tenant.account, name="team/app", applied_for="REPLICATION", actor=REPLICATION
    )
    delete_repository_creation_template(account=tenant.account, prefix="team", actor=TEST)
    lifecycle_subscribers.apply_creation_template(
        DomainEvent.objects.get(name=REPOSITORY_CREATED, payload__repositoryId=replica.pk)
    )
    assert lifecycle_selectors.policy_of(replica) is None


def test_a_repository_created_otherwise_is_left_alone(tenant, committed):
    template(tenant, "ROOT", lifecycle_policy=LIFECYCLE_POLICY)
    with committed():
        created = repository_services.create_repository(account=tenant.account, name="by/hand", actor=TEST)
    assert lifecycle_selectors.policy_of(created) is None


# -- idempotence and races ------------------------------------------------------------


def test_an_existing_repository_is_returned_as_it_is(tenant, source):
    existing = repository_services.create_repository(account=tenant.account, name="team/app", actor=TEST)
    before = Event.objects.count()
    again = creation.create_repository(
        account=tenant.account, name="team/app", applied_for="REPLICATION", source=source, actor=REPLICATION
    )
    assert again.pk == existing.pk
    assert (again.image_tag_mutability, again.scan_on_push) == ("MUTABLE", False)
    assert Event.objects.count() == before


def test_a_repository_another_worker_creates_first_is_returned(tenant, monkeypatch):
    """The other worker's insert lands between this one's look and its insert: the
    unique name refuses the second inside a savepoint, and the winner is read back."""
    template(tenant, "team", repository_policy=pull_policy(tenant.id))
    choose = creation._settings_for
    winner = []

    def other_worker_first(**arguments):
        winner.append(repository_services.create_repository(account=tenant.account, name="team/app", actor=TEST))
        return choose(**arguments)

    monkeypatch.setattr(creation, "_settings_for", other_worker_first)
    with transaction.atomic():
        got = creation.create_repository(
            account=tenant.account, name="team/app", applied_for="REPLICATION", actor=REPLICATION
        )
        assert Repository.objects.filter(account=tenant.account).count() == 1  # the transaction is still usable
    assert got.pk == winner[0].pk
    assert not RepositoryPolicy.objects.filter(repository=got).exists()  # the loser changed nothing
    assert Event.objects.filter(event_name="CreateRepository", recipient_account_id=tenant.id).count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_get_the_one_repository(make_tenant):
    if connection.vendor != "postgresql":
        pytest.skip("concurrent inserts blocking on the unique index: PostgreSQL (SQLite serializes writers)")
    tenant = make_tenant("racer")
    workers = 4
    start = threading.Barrier(workers)
    got: list[int] = []
    failures: list[BaseException] = []

    def worker() -> None:
        try:
            start.wait()
            repository = creation.create_repository(
                account=tenant.account, name="team/app", applied_for="REPLICATION", actor=REPLICATION
            )
            got.append(repository.pk)
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not failures, failures
    assert len(got) == workers and len(set(got)) == 1
    assert Repository.objects.filter(account=tenant.account, name="team/app").count() == 1
