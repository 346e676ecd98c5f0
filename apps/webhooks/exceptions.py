"""Webhooks' refusals."""

from __future__ import annotations

from apps.kernel.errors import DomainError


class WebhookUrlInvalid(DomainError):
    """An endpoint URL Berth will not deliver to: not http(s), no host, a host that
    does not resolve, or one that resolves into a network webhooks never reach."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"{url[:300]}: {reason}")


class WebhookEventsInvalid(DomainError):
    def __init__(self, unknown: list[str]) -> None:
        self.unknown = unknown
        super().__init__(f"unknown event names: {', '.join(unknown[:20])}")


class WebhookNotFound(DomainError):
    def __init__(self, endpoint_id: str) -> None:
        self.endpoint_id = endpoint_id
        super().__init__(f"webhook {endpoint_id[:64]} does not exist in this account")


class WebhookDeliveryNotFound(DomainError):
    def __init__(self, delivery_id: str) -> None:
        self.delivery_id = delivery_id
        super().__init__(f"delivery {delivery_id[:64]} does not exist for this webhook")
