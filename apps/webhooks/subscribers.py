"""Webhooks' reaction to the domain events an account's integrations care about
(cloudevents.DELIVERED_EVENTS; subscribed in WebhooksConfig.ready): a delivery per
endpoint that wants the event, sent by a Celery task."""

from __future__ import annotations

from apps.events.models import DomainEvent

from . import services


def deliver_to_webhooks(event: DomainEvent) -> None:
    services.fan_out(event)
