"""Webhooks' reads."""

from __future__ import annotations

import uuid

from apps.accounts.models import Account

from .exceptions import WebhookDeliveryNotFound, WebhookNotFound
from .models import WebhookDelivery, WebhookEndpoint

DELIVERIES_PAGE = 100


def _uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(text))
    except ValueError:
        return None


def endpoints(account: Account) -> list[WebhookEndpoint]:
    return list(WebhookEndpoint.objects.filter(account=account))


def endpoint(account: Account, endpoint_id: str) -> WebhookEndpoint:
    """The account's endpoint ``endpoint_id``; WebhookNotFound for another account's too."""
    pk = _uuid(endpoint_id)
    found = WebhookEndpoint.objects.filter(account=account, pk=pk).first() if pk else None
    if found is None:
        raise WebhookNotFound(str(endpoint_id))
    return found


def deliveries(endpoint: WebhookEndpoint, *, limit: int = DELIVERIES_PAGE) -> list[WebhookDelivery]:
    """The endpoint's latest deliveries, newest first."""
    return list(WebhookDelivery.objects.filter(endpoint=endpoint).order_by("-created_at", "id")[:limit])


def delivery(endpoint: WebhookEndpoint, delivery_id: str) -> WebhookDelivery:
    pk = _uuid(delivery_id)
    found = WebhookDelivery.objects.filter(endpoint=endpoint, pk=pk).first() if pk else None
    if found is None:
        raise WebhookDeliveryNotFound(str(delivery_id))
    return found
