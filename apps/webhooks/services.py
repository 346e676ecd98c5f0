"""Every write of webhooks: an account's endpoints (create, update, delete, rotate
the secret), a redelivery, and the fan-out of a domain event to the endpoints
that want it.

An endpoint's secret is made here, sealed at rest, and returned once, by the
create (or rotate) that made it; no read gives it back. Each change a user makes
is an audit event (source ``berth``) without the secret."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from apps.accounts.models import Account
from apps.audit import services as audit_services
from apps.audit.events import Actor
from apps.events import names
from apps.events.models import DomainEvent
from apps.kernel import sealing
from apps.kernel.requests import RequestContext

from . import addresses, cloudevents, tasks
from .exceptions import WebhookEventsInvalid
from .models import ALL_EVENTS, DeliveryStatus, WebhookDelivery, WebhookEndpoint

EVENT_SOURCE = "berth"


@dataclass(frozen=True)
class CreatedSecret:
    endpoint: WebhookEndpoint
    secret: str


def _events(names: list[str] | None) -> list[str]:
    if not names:
        return [ALL_EVENTS]
    unknown = [name for name in names if name != ALL_EVENTS and name not in cloudevents.DELIVERED_EVENTS]
    if unknown:
        raise WebhookEventsInvalid(unknown)
    return [ALL_EVENTS] if ALL_EVENTS in names else sorted(set(names))


def _described(endpoint: WebhookEndpoint) -> dict:
    return {
        "webhookId": str(endpoint.pk),
        "url": endpoint.url,
        "description": endpoint.description,
        "events": endpoint.events,
        "active": endpoint.active,
    }


def _record(event_name: str, endpoint: WebhookEndpoint, *, actor: Actor, context, **parameters) -> None:
    audit_services.record_change(
        actor=actor,
        context=context,
        event_name=event_name,
        event_source=EVENT_SOURCE,
        recipient_account_id=endpoint.account_id,
        request_parameters={"registryId": endpoint.account_id, "webhookId": str(endpoint.pk), **parameters},
    )


def create_webhook(
    *,
    account: Account,
    url: str,
    events: list[str] | None = None,
    description: str = "",
    active: bool = True,
    actor: Actor,
    context: RequestContext | None = None,
) -> CreatedSecret:
    """CreateWebhook: the URL is checked (its host resolved: no loopback, private or
    link-local address unless allowed); the secret is returned here only."""
    addresses.check_url(url)
    wanted = _events(events)
    secret = cloudevents.new_secret()
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.create(
            account=account,
            url=url,
            description=description,
            events=wanted,
            active=active,
            sealed_secret=sealing.seal(secret),
        )
        _record("CreateWebhook", endpoint, actor=actor, context=context, **_described(endpoint))
    return CreatedSecret(endpoint, secret)


def update_webhook(
    *,
    endpoint: WebhookEndpoint,
    url: str | None = None,
    events: list[str] | None = None,
    description: str | None = None,
    active: bool | None = None,
    actor: Actor,
    context: RequestContext | None = None,
) -> WebhookEndpoint:
    """UpdateWebhook: what is given replaces what was; a new URL is checked as at create."""
    if url is not None:
        addresses.check_url(url)
    wanted = _events(events) if events is not None else None
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        for field, value in (("url", url), ("events", wanted), ("description", description), ("active", active)):
            if value is not None:
                setattr(endpoint, field, value)
        endpoint.save()
        _record("UpdateWebhook", endpoint, actor=actor, context=context, **_described(endpoint))
    return endpoint


def delete_webhook(
    *, endpoint: WebhookEndpoint, actor: Actor, context: RequestContext | None = None
) -> WebhookEndpoint:
    """DeleteWebhook: the endpoint and its delivery log; a try in flight records nothing."""
    with transaction.atomic():
        described = _described(endpoint)
        WebhookEndpoint.objects.filter(pk=endpoint.pk).delete()
        _record("DeleteWebhook", endpoint, actor=actor, context=context, **described)
    return endpoint


def rotate_webhook_secret(
    *, endpoint: WebhookEndpoint, actor: Actor, context: RequestContext | None = None
) -> CreatedSecret:
    """RotateWebhookSecret: a new secret signs every try from now on (retries of older
    deliveries included); returned here only."""
    secret = cloudevents.new_secret()
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        endpoint.sealed_secret = sealing.seal(secret)
        endpoint.save(update_fields=["sealed_secret", "updated_at"])
        _record("RotateWebhookSecret", endpoint, actor=actor, context=context)
    return CreatedSecret(endpoint, secret)


def redeliver_webhook(
    *, delivery: WebhookDelivery, actor: Actor, context: RequestContext | None = None
) -> WebhookDelivery:
    """RedeliverWebhook: a new delivery of the same CloudEvent (same id, so a receiver
    that kept it can tell), tried from the start; the original stays in the log."""
    with transaction.atomic():
        copy = WebhookDelivery.objects.create(
            endpoint=delivery.endpoint,
            event_id=delivery.event_id,
            event_name=delivery.event_name,
            cloud_event=delivery.cloud_event,
            redelivery_of=delivery,
            next_attempt_at=timezone.now(),
        )
        _record(
            "RedeliverWebhook",
            delivery.endpoint,
            actor=actor,
            context=context,
            deliveryId=str(delivery.pk),
            redeliveryId=str(copy.pk),
        )
        transaction.on_commit(lambda: tasks.enqueue([copy.pk]))
    return copy


def _payloads_by_account(event: DomainEvent) -> dict[str, dict]:
    """What each account is told of ``event``: its own payload, or, for a re-match's
    chunk (images.rematched, which spans accounts), each account's scans only."""
    if event.name == names.IMAGES_REMATCHED:
        scans: dict[str, list] = {}
        for scan in event.payload.get("scans", []):
            if scan.get("accountId"):
                scans.setdefault(scan["accountId"], []).append(scan)
        return {account_id: {"scans": own} for account_id, own in scans.items()}
    account_id = event.payload.get("accountId")
    return {account_id: event.payload} if account_id else {}


def fan_out(event: DomainEvent) -> list[WebhookDelivery]:
    """One delivery of ``event`` for each active endpoint of its account that wants
    it, each tried by a task once this transaction commits. A second run for the
    same event (a redelivered domain event) makes no second delivery."""
    payloads = _payloads_by_account(event)
    if not payloads:
        return []
    key = cloudevents.event_key(event.pk, event.occurred_at)
    wanting = [
        endpoint
        for endpoint in WebhookEndpoint.objects.filter(account_id__in=list(payloads), active=True)
        if endpoint.wants(event.name)
    ]
    done = set(
        WebhookDelivery.objects.filter(endpoint__in=wanting, event_id=key, redelivery_of__isnull=True).values_list(
            "endpoint_id", flat=True
        )
    )
    now = timezone.now()
    created = WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(
                endpoint=endpoint,
                event_id=key,
                event_name=event.name,
                cloud_event=cloudevents.build(
                    event_key=key,
                    endpoint_id=endpoint.pk,
                    account_id=endpoint.account_id,
                    name=event.name,
                    occurred_at=event.occurred_at,
                    payload=payloads[endpoint.account_id],
                ),
                status=DeliveryStatus.PENDING,
                next_attempt_at=now,
            )
            for endpoint in wanting
            if endpoint.pk not in done
        ]
    )
    ids = [delivery.pk for delivery in created]
    if ids:
        transaction.on_commit(lambda: tasks.enqueue(ids))
    return created
