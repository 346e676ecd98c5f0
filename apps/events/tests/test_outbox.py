"""The outbox: events commit with the change that publishes them, and reach every
subscriber after the commit, at least once, whatever a subscriber does."""

from __future__ import annotations

import threading
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection, connections, transaction
from django.utils import timezone

from apps.events import names, outbox, tasks
from apps.events.models import DomainEvent

CHANGED = names.ACCOUNT_CHANGED


@pytest.fixture
def seen(monkeypatch):
    """No subscribers but the test's own; ``seen`` lists (subscriber, payload) as they run."""
    monkeypatch.setattr(outbox, "_subscribers", {})
    calls: list[tuple[str, dict]] = []

    def subscriber(label: str):
        def handler(event: DomainEvent) -> None:
            calls.append((label, event.payload))

        outbox.subscribe(CHANGED, handler, name=label)

    subscriber.calls = calls
    return subscriber


def publish_committed(payload: dict) -> None:
    with transaction.atomic():
        outbox.publish(CHANGED, payload)


@pytest.mark.django_db(transaction=True)
def test_an_event_reaches_each_subscriber_once_after_the_commit_and_is_then_gone(seen):
    seen("first")
    seen("second")
    with transaction.atomic():
        outbox.publish(CHANGED, {"accountId": "1"})
        assert seen.calls == []  # not before the commit
    assert seen.calls == [("first", {"accountId": "1"}), ("second", {"accountId": "1"})]
    assert not DomainEvent.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_publishing_outside_a_transaction_is_refused(seen):
    with pytest.raises(outbox.PublishOutsideTransaction):
        outbox.publish(CHANGED, {"accountId": "1"})
    assert not DomainEvent.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_change_that_rolls_back_publishes_nothing(seen):
    seen("first")
    with pytest.raises(RuntimeError), transaction.atomic():
        outbox.publish(CHANGED, {"accountId": "1"})
        raise RuntimeError("the change fails")
    assert seen.calls == []
    assert not DomainEvent.objects.exists()


def test_unknown_event_names_are_refused(db, seen):
    with pytest.raises(ValueError, match="unknown domain event"):
        outbox.subscribe("no.such.event", lambda event: None)
    with pytest.raises(ValueError, match="unknown domain event"):
        outbox.publish("no.such.event", {})


def test_subscribing_the_same_name_twice_subscribes_once(seen):
    seen("first")
    seen("first")
    assert [s.name for s in outbox.subscribers_of(CHANGED)] == ["first"]


@pytest.mark.django_db(transaction=True)
def test_a_failing_subscriber_is_retried_later_and_the_others_are_not_held_up(seen, monkeypatch):
    seen("before")
    failures = ["the search index is down"]

    def flaky(event: DomainEvent) -> None:
        if failures:
            DomainEvent.objects.create(name="half-done", payload={})  # rolled back with the failure
            raise RuntimeError(failures.pop())
        seen.calls.append(("flaky", event.payload))

    outbox.subscribe(CHANGED, flaky, name="flaky")
    seen("after")
    publish_committed({"accountId": "1"})
    assert seen.calls == [("before", {"accountId": "1"}), ("after", {"accountId": "1"})]
    event = DomainEvent.objects.get()  # no half-done row
    assert event.delivered_to == ["before", "after"]
    assert event.attempts == 1 and "flaky: RuntimeError('the search index is down')" == event.last_error
    assert event.due_at > timezone.now() + outbox.FIRST_RETRY - timezone.timedelta(seconds=5)

    assert outbox.deliver_due() == 0  # not due yet
    out = StringIO()
    call_command("deliver_events", stdout=out)
    assert out.getvalue().splitlines()[:2] == ["delivered 0 domain events", "1 still waiting:"]
    assert "1 failed attempts" in out.getvalue() and "the search index is down" in out.getvalue()
    assert outbox.deliver_due(now=event.due_at) == 1
    assert seen.calls[2:] == [("flaky", {"accountId": "1"})]  # the others did not run again
    assert not DomainEvent.objects.exists()


def test_retries_back_off_to_an_hour():
    delays = [outbox.retry_delay(attempt).total_seconds() for attempt in (1, 2, 3, 7, 8, 40)]
    assert delays == [60, 120, 240, 3600, 3600, 3600]


def test_an_event_left_undelivered_is_delivered_by_the_sweep_and_redelivery_is_harmless(db, seen):
    """Inside the test's transaction no commit happens: the event stays as a process
    killed after its commit leaves it."""
    seen("first")
    publish_committed({"accountId": "1"})
    event_id = DomainEvent.objects.get().pk
    assert seen.calls == []
    out = StringIO()
    call_command("deliver_events", stdout=out)
    assert out.getvalue().strip() == "delivered 1 domain events"
    assert seen.calls == [("first", {"accountId": "1"})]
    assert outbox.deliver(event_id) is True  # again: nothing left to do
    assert outbox.deliver_due() == 0
    assert seen.calls == [("first", {"accountId": "1"})]


def test_an_event_no_one_subscribes_to_is_dropped(db, seen):
    publish_committed({"accountId": "1"})
    assert outbox.deliver_due() == 1
    assert not DomainEvent.objects.exists()


def test_a_starting_worker_sweeps(db, seen):
    """Celery's worker_ready queues the sweep (the tests run tasks eagerly)."""
    seen("first")
    publish_committed({"accountId": "1"})
    tasks._deliver_on_worker_start()
    assert seen.calls == [("first", {"accountId": "1"})]


@pytest.mark.django_db(transaction=True)
def test_a_sweep_passes_over_an_event_another_process_is_delivering(seen):
    """Two sweepers (or a sweeper and the publishing process) never run one
    subscriber at once: the second skips the event the first holds."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks between concurrent transactions: SQLite has one writer at a time")
    holding, release = threading.Event(), threading.Event()
    started: list[str] = []

    def slow(event: DomainEvent) -> None:
        started.append("slow")
        holding.set()
        release.wait(timeout=30)

    outbox.subscribe(CHANGED, slow, name="slow")
    event = DomainEvent.objects.create(name=CHANGED, payload={"accountId": "1"})  # as a killed process leaves it

    def first_deliverer() -> None:
        try:
            outbox.deliver(event.pk)
        finally:
            connections.close_all()

    thread = threading.Thread(target=first_deliverer)
    thread.start()
    try:
        assert holding.wait(timeout=30)
        assert outbox.deliver(event.pk) is False  # held elsewhere: not run a second time
        assert outbox.deliver_due() == 0
        assert started == ["slow"]
    finally:
        release.set()
        thread.join(timeout=30)
    assert not DomainEvent.objects.exists() and started == ["slow"]
