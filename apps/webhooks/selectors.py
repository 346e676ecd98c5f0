"""Webhooks' reads."""

from __future__ import annotations

import uuid

from django.db.models import OuterRef, Subquery

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


def endpoints_with_latest_delivery(account: Account) -> list[WebhookEndpoint]:
    """The account's endpoints, each annotated (in the same query) with its latest
    delivery's ``latest_status``, ``latest_status_code`` and ``latest_at`` (None
    when nothing was delivered yet)."""
    latest = WebhookDelivery.objects.filter(endpoint=OuterRef("pk")).order_by("-created_at", "id")
    return list(
        WebhookEndpoint.objects.filter(account=account).annotate(
            latest_status=Subquery(latest.values("status")[:1]),
            latest_status_code=Subquery(latest.values("last_status_code")[:1]),
            latest_at=Subquery(latest.values("created_at")[:1]),
        )
    )
