"""Pull counting from the audit writer's batches: each batch's pulls as its
images.pulled event tells them (apps.audit.pulls), counted by the gallery."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, connections, transaction

from apps.audit.events import ANONYMOUS_ACTOR, EventDraft
from apps.audit.pulls import images_pulled
from apps.registry.content import media_types as mt
from apps.registry.models import Manifest, ManifestChild
from apps.repositories.models import Visibility

from ..models import GalleryEntry, PullCount
from ..pulls import count_pulls as count_pull_payload
from .conftest import add_tag

DAY = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def pull(
    repository,
    *,
    tag: str | None = "latest",
    digest: str | None = None,
    when: datetime = DAY,
    event_name: str = "BatchGetImage",
    error_code: str = "",
    method: str = "GET",
    media_type: str = mt.OCI_MANIFEST,
) -> EventDraft:
    """A manifest pull's event as the /v2/ handler leaves it: by tag, or by digest."""
    parameters = {"imageTag": tag} if tag else {"imageDigest": digest}
    return EventDraft(
        event_name=event_name,
        event_source="ecr",
        actor=ANONYMOUS_ACTOR,
        source_ip="127.0.0.1",
        user_agent="test",
        request_id="r",
        read_only=True,
        recipient_account_id=repository.account_id,
        repository=repository.name,
        request_parameters={**parameters, "httpMethod": method},
        error_code=error_code,
        event_time=when,
        response_elements={"imageDigest": digest or "sha256:" + "f" * 64, "imageManifestMediaType": media_type},
    )


def count_pulls(batch: list[EventDraft]) -> int:
    return count_pull_payload(images_pulled(batch))


@pytest.fixture
def acme(make_tenant):
    return make_tenant("acme").account


def counts() -> dict:
    return {
        (c.repository.name, c.tag, c.day.isoformat()): c.count for c in PullCount.objects.select_related("repository")
    }


def test_a_batch_becomes_one_counter_per_repository_tag_and_day(acme, publish, django_assert_max_num_queries):
    web = publish(acme, "web")
    db_repository = publish(acme, "db")
    batch = [pull(web)] * 3 + [pull(web, tag="v1"), pull(web, tag=None, digest="sha256:" + "a" * 64)]
    batch += [pull(web, when=DAY + timedelta(days=1)), pull(db_repository)]
    # One read of the repositories, one of the tags of pulls by digest, one upsert,
    # one increment per repository.
    with django_assert_max_num_queries(7):
        assert count_pulls(batch) == 7
    assert counts() == {
        ("web", "latest", "2026-03-01"): 3,
        ("web", "v1", "2026-03-01"): 1,
        ("web", "", "2026-03-01"): 1,
        ("web", "latest", "2026-03-02"): 1,
        ("db", "latest", "2026-03-01"): 1,
    }
    assert GalleryEntry.objects.get(repository=web).pull_count == 6
    assert GalleryEntry.objects.get(repository=db_repository).pull_count == 1


def test_later_batches_add_to_the_counters(acme, publish):
    web = publish(acme, "web")
    count_pulls([pull(web)] * 2)
    count_pulls([pull(web)] * 5)
    assert counts() == {("web", "latest", "2026-03-01"): 7}
    assert GalleryEntry.objects.get().pull_count == 7


def test_only_successful_pulls_of_public_repositories_count(acme, publish):
    web = publish(acme, "web")
    hidden = publish(acme, "hidden", visibility=Visibility.PRIVATE)
    batch = [
        pull(hidden),
        pull(web, error_code="AccessDenied"),
        pull(web, event_name="PutImage"),
        pull(web, event_name="DescribeRepositories"),
    ]
    assert count_pulls(batch) == 0
    assert count_pulls([]) == 0
    assert not PullCount.objects.exists()
    assert GalleryEntry.objects.get().pull_count == 0


def test_pulls_of_a_repository_that_vanished_are_dropped(acme, publish):
    web = publish(acme, "web")
    draft = pull(web)
    draft.repository = "no-such-repository"
    assert count_pulls([draft]) == 0


def test_one_docker_pull_counts_once_under_its_tag(acme, publish):
    """docker: HEAD by tag, then GET by digest; a multi-arch pull GETs the index, then
    the platform's manifest, by digest."""
    web = publish(acme, "web", tags=())
    single = add_tag(web, "1.0")
    index = add_tag(web, "multi", media_type=mt.OCI_INDEX)
    child = Manifest.objects.create(
        repository=web, digest="sha256:" + "c" * 64, media_type=mt.OCI_MANIFEST, size=1, content=b"{}"
    )
    ManifestChild.objects.create(parent=index.manifest, child=child)
    batch = [
        pull(web, tag="1.0", method="HEAD"),
        pull(web, tag=None, digest=single.manifest.digest),
        pull(web, tag="multi", method="HEAD"),
        pull(web, tag=None, digest=index.manifest.digest, media_type=mt.OCI_INDEX),
        pull(web, tag=None, digest=child.digest),
        pull(web, tag=None, digest="sha256:" + "e" * 64),  # no tag points at it (any longer)
    ]
    assert count_pulls(batch) == 3
    assert counts() == {
        ("web", "1.0", "2026-03-01"): 1,
        ("web", "multi", "2026-03-01"): 1,
        ("web", "", "2026-03-01"): 1,
    }


@pytest.mark.django_db(transaction=True)
def test_two_audit_writers_count_the_same_repositories_without_a_deadlock(acme, publish):
    """Hosts sharing one database each run an audit writer, and their batches hold
    pulls of the same repositories in any order: both add their counts. (Counters
    taken in each batch's own order: one writer held web and waited for db while
    the other held db and waited for web, and PostgreSQL aborted one batch's counts.)"""
    if connection.vendor != "postgresql":
        pytest.skip("row locks between concurrent transactions: SQLite has one writer at a time")
    first, second = publish(acme, "first"), publish(acme, "second")
    holding_first = threading.Event()
    failures: list[BaseException] = []

    def writer_a() -> None:
        try:
            with transaction.atomic():
                count_pulls([pull(first)])
                holding_first.set()
                time.sleep(0.5)  # writer b meanwhile counts a batch of second, then first
                count_pulls([pull(second)])
        except BaseException as exc:  # reported by the test's thread
            failures.append(exc)
        finally:
            holding_first.set()
            connections.close_all()

    def writer_b() -> None:
        try:
            holding_first.wait(timeout=30)
            with transaction.atomic():
                count_pulls([pull(second), pull(first)])
        except BaseException as exc:
            failures.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer_a), threading.Thread(target=writer_b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not failures, failures
    assert counts() == {("first", "latest", "2026-03-01"): 2, ("second", "latest", "2026-03-01"): 2}
