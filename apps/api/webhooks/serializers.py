"""Shapes of the management API's webhook operations (Berth's own; camelCase like ECR's)."""

from __future__ import annotations

from rest_framework import serializers

from apps.webhooks.cloudevents import DELIVERED_EVENTS
from apps.webhooks.models import ALL_EVENTS, DESCRIPTION_MAX_LENGTH, URL_MAX_LENGTH, DeliveryStatus

EVENT_CHOICES = [ALL_EVENTS, *DELIVERED_EVENTS]


def _events(**kwargs) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.ChoiceField(choices=EVENT_CHOICES),
        min_length=1,
        max_length=len(EVENT_CHOICES),
        help_text=f"the events delivered: `*` for all, or some of {', '.join(DELIVERED_EVENTS)}",
        **kwargs,
    )


class CreateWebhookSerializer(serializers.Serializer):
    # Checked by the service (scheme, host, where it resolves): a CharField, so that an
    # intranet host without a dot, which staff may allow, is not refused as malformed.
    url = serializers.CharField(max_length=URL_MAX_LENGTH, help_text="where to POST events: https:// (or http://)")
    events = _events(required=False)
    description = serializers.CharField(max_length=DESCRIPTION_MAX_LENGTH, required=False, allow_blank=True)
    active = serializers.BooleanField(required=False, default=True)


class UpdateWebhookSerializer(serializers.Serializer):
    url = serializers.CharField(max_length=URL_MAX_LENGTH, required=False)
    events = _events(required=False)
    description = serializers.CharField(max_length=DESCRIPTION_MAX_LENGTH, required=False, allow_blank=True)
    active = serializers.BooleanField(required=False)


class WebhookSerializer(serializers.Serializer):
    webhookId = serializers.UUIDField(source="pk")
    registryId = serializers.CharField(source="account_id")
    url = serializers.CharField()
    description = serializers.CharField()
    events = serializers.ListField(child=serializers.CharField())
    active = serializers.BooleanField()
    createdAt = serializers.DateTimeField(source="created_at")
    updatedAt = serializers.DateTimeField(source="updated_at")


class WebhookWithSecretSerializer(serializers.Serializer):
    webhook = WebhookSerializer()
    secret = serializers.CharField(
        help_text="the signing secret: shown in this answer only (Berth-Signature, docs/webhooks.md)"
    )


class WebhookListSerializer(serializers.Serializer):
    webhooks = WebhookSerializer(many=True)


class DeliverySerializer(serializers.Serializer):
    deliveryId = serializers.UUIDField(source="pk")
    webhookId = serializers.UUIDField(source="endpoint_id")
    eventId = serializers.CharField(source="cloud_event.id", help_text="the CloudEvent's id, stable per event")
    eventName = serializers.CharField(source="event_name")
    status = serializers.ChoiceField(choices=DeliveryStatus.choices)
    attempts = serializers.IntegerField()
    nextAttemptAt = serializers.DateTimeField(source="next_attempt_at", allow_null=True)
    lastStatusCode = serializers.IntegerField(source="last_status_code", allow_null=True)
    lastError = serializers.CharField(source="last_error")
    latencyMs = serializers.IntegerField(source="latency_ms", allow_null=True)
    responseExcerpt = serializers.CharField(source="response_excerpt", help_text="the first 1 KiB of the answer")
    redeliveryOf = serializers.UUIDField(source="redelivery_of_id", allow_null=True)
    createdAt = serializers.DateTimeField(source="created_at")
    lastAttemptAt = serializers.DateTimeField(source="last_attempt_at", allow_null=True)
    completedAt = serializers.DateTimeField(source="completed_at", allow_null=True)
    cloudEvent = serializers.JSONField(source="cloud_event")


class DeliveryListSerializer(serializers.Serializer):
    deliveries = DeliverySerializer(many=True)


class RedeliverySerializer(serializers.Serializer):
    delivery = DeliverySerializer()
