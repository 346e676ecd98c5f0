"""Webhooks' tables: an account's endpoints and each delivery of an event to one.

An endpoint's secret is sealed (apps.kernel.sealing): Berth reads it back to sign
every delivery, and the API shows it only in the answer that made it. A delivery
is one event for one endpoint; it keeps the CloudEvent it sends (so a retry and a
redelivery send the same bytes' meaning, with the same id) and what the last try
got back."""

from __future__ import annotations

import uuid

from django.db import models

from apps.accounts.models import Account

URL_MAX_LENGTH = 2048
DESCRIPTION_MAX_LENGTH = 256
RESPONSE_EXCERPT_BYTES = 1024
ALL_EVENTS = "*"


class WebhookEndpoint(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.CharField(max_length=URL_MAX_LENGTH)
    description = models.CharField(max_length=DESCRIPTION_MAX_LENGTH, blank=True, default="")
    # Event names the endpoint receives; ["*"] for every event webhooks deliver.
    events = models.JSONField(default=list)
    sealed_secret = models.TextField()
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["account", "active"], name="webhooks_endpoint_account")]

    def __str__(self) -> str:
        return f"{self.account_id} → {self.url}"

    def wants(self, event_name: str) -> bool:
        return ALL_EVENTS in self.events or event_name in self.events


class DeliveryStatus(models.TextChoices):
    PENDING = "PENDING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


class WebhookDelivery(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    # The domain event delivered ("<outbox id>@<when it occurred>": outbox ids may be
    # used again once their rows are gone, on SQLite).
    event_id = models.CharField(max_length=64)
    # A redelivery a user asked for is a delivery of its own, sending the same CloudEvent.
    # Deliveries go only with their endpoint, all together (SET_NULL would make a
    # redelivery look like a second first delivery of its event).
    redelivery_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="redeliveries"
    )
    event_name = models.CharField(max_length=64)
    cloud_event = models.JSONField()
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    # When the next try is due; while a try is in flight, when its worker is presumed dead.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    response_excerpt = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "event_id"],
                condition=models.Q(redelivery_of__isnull=True),
                name="webhooks_delivery_once_per_event",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=["PENDING", "SUCCEEDED", "FAILED"]), name="webhooks_delivery_status"
            ),
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="webhooks_delivery_due")]
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"{self.event_name} → {self.endpoint_id} ({self.status})"
