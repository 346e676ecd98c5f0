"""The one door for "something happened": domain events, published by writes and
delivered to subscribers.

A write publishes an event inside its own transaction (``publish``): the event is
a row of the same database, so it commits with the change or not at all. Once the
transaction commits, the publishing process delivers it to every subscriber (the
apps above call ``subscribe`` in their AppConfig.ready), each in a transaction of
its own that holds the event's row: a subscriber's database work commits together
with the note that it ran, so work that stays in the database is done once per
event. Work outside the database (a Celery task enqueued) may be done again after
a crash, and must be harmless to repeat.

What a delivery did not finish (the process died between the commit and the
delivery, or a subscriber raised) stays in the table, and the sweeper
(``deliver_due``: Celery beat every BERTH_EVENTS_SWEEP_SECONDS, once when a worker
starts, and `berth deliver_events`) delivers it to the subscribers it has not
reached. A subscriber that fails is logged and tried again later, one minute after
its first failure, doubling up to an hour; the others go on meanwhile. Events are
not delivered in any particular order: a subscriber reads the rows it needs as
they are when it runs.

An event is deleted once every subscriber has it: the audit trail is the history,
this table only what is still to be delivered."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from django.db import connection, transaction
from django.utils import timezone

from . import names
from .models import DomainEvent

logger = logging.getLogger(__name__)

FIRST_RETRY = timedelta(minutes=1)
LAST_RETRY = timedelta(hours=1)
SWEEP_BATCH = 500
ERROR_KEPT = 2000  # characters of the last failure kept with the event


class PublishOutsideTransaction(RuntimeError):
    """publish() was called with no transaction open: the event could outlive a
    change that rolled back, or the change commit without its event."""


@dataclass(frozen=True)
class Subscriber:
    name: str  # kept in DomainEvent.delivered_to: stable across releases
    handler: Callable[[DomainEvent], None]


_subscribers: dict[str, list[Subscriber]] = {}


def subscribe(event_name: str, handler: Callable[[DomainEvent], None], *, name: str | None = None) -> Subscriber:
    """Have ``handler(event)`` called for every ``event_name`` event. ``name``
    (by default the handler's module and name) says which subscriber a delivery
    was for; subscribing the same name again changes nothing."""
    if event_name not in names.ALL:
        raise ValueError(f"unknown domain event {event_name!r}")
    subscriber = Subscriber(name=name or f"{handler.__module__}.{handler.__qualname__}", handler=handler)
    subscribers = _subscribers.setdefault(event_name, [])
    if all(existing.name != subscriber.name for existing in subscribers):
        subscribers.append(subscriber)
    return subscriber


def subscribers_of(event_name: str) -> list[Subscriber]:
    return list(_subscribers.get(event_name, ()))


def publish(event_name: str, payload: dict) -> DomainEvent:
    """Record the event in the caller's open transaction; it is delivered once
    that commits. ``payload`` is JSON: ids and facts, never model instances."""
    if event_name not in names.ALL:
        raise ValueError(f"unknown domain event {event_name!r}")
    if not transaction.get_connection().in_atomic_block:
        raise PublishOutsideTransaction(
            f"domain event {event_name} must be published inside the transaction of the change it tells of"
        )
    event = DomainEvent.objects.create(name=event_name, payload=payload)
    # robust: the change has committed whatever delivery does; what it leaves, the sweeper delivers.
    transaction.on_commit(partial(deliver, event.pk), robust=True)
    return event


def retry_delay(attempts: int) -> timedelta:
    """How long after its ``attempts``-th failed delivery an event is tried again."""
    return min(FIRST_RETRY * 2 ** min(attempts - 1, 16), LAST_RETRY)


def deliver(event_id: int) -> bool:
    """Deliver the event to each subscriber it has not reached. True when every
    subscriber has it (the event is then gone); False when one failed (it is due
    again later) or another process is delivering it now."""
    event = DomainEvent.objects.filter(pk=event_id).only("name", "delivered_to").first()
    if event is None:
        return True
    subscribers = subscribers_of(event.name)
    pending = [subscriber for subscriber in subscribers if subscriber.name not in event.delivered_to]
    if not pending:
        DomainEvent.objects.filter(pk=event_id).delete()
        return True
    complete = True
    for subscriber in pending:
        outcome = _deliver_to(event_id, subscriber, subscribers)
        if outcome is _ELSEWHERE:
            return not DomainEvent.objects.filter(pk=event_id).exists()
        if outcome is _FAILED:
            complete = False
    return complete


_DELIVERED, _FAILED, _ELSEWHERE = object(), object(), object()


def _locked(event_id: int) -> DomainEvent | None:
    """The event's row, locked until the transaction ends; None when it is gone or
    (PostgreSQL) another deliverer holds it."""
    events = DomainEvent.objects.filter(pk=event_id)
    if connection.features.has_select_for_update_skip_locked:
        events = events.select_for_update(skip_locked=True)
    # SQLite: every transaction takes the write lock when it begins (IMMEDIATE).
    return events.first()


def _deliver_to(event_id: int, subscriber: Subscriber, subscribers: list[Subscriber]) -> object:
    with transaction.atomic():
        event = _locked(event_id)
        if event is None:  # delivered to all meanwhile, or being delivered by another process
            return _ELSEWHERE
        if subscriber.name in event.delivered_to:
            return _DELIVERED
        try:
            with transaction.atomic():
                subscriber.handler(event)
        except Exception as error:
            event.attempts += 1
            event.due_at = timezone.now() + retry_delay(event.attempts)
            event.last_error = f"{subscriber.name}: {error!r}"[:ERROR_KEPT]
            event.save(update_fields=["attempts", "due_at", "last_error"])
            logger.exception(
                "subscriber %s failed on %s (attempt %d); tried again after %s",
                subscriber.name,
                event,
                event.attempts,
                event.due_at.isoformat(),
            )
            return _FAILED
        event.delivered_to = [*event.delivered_to, subscriber.name]
        if {s.name for s in subscribers} <= set(event.delivered_to):
            event.delete()
        else:
            event.save(update_fields=["delivered_to"])
        return _DELIVERED


def deliver_due(*, now: datetime | None = None) -> int:
    """The sweeper: deliver every event due by ``now`` (published and left
    undelivered, or whose retry time has come), in the order published. Returns
    how many were delivered to all their subscribers."""
    now = now or timezone.now()
    delivered = 0
    after = 0
    while True:
        batch = list(
            DomainEvent.objects.filter(due_at__lte=now, pk__gt=after)
            .order_by("pk")
            .values_list("pk", flat=True)[:SWEEP_BATCH]
        )
        for event_id in batch:
            try:
                delivered += deliver(event_id)
            except Exception:
                # The database itself failed: this event waits for the next sweep, the rest go on.
                logger.exception("delivering domain event #%s failed", event_id)
        if len(batch) < SWEEP_BATCH:
            return delivered
        after = batch[-1]
