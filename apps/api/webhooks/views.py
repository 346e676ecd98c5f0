"""Webhooks in the management API (Berth's own operations): an account's endpoints,
their delivery log and redelivery, over the signed-in user's account."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from apps.api.serializers import error_responses
from apps.api.views import AccountScopedView
from apps.webhooks import selectors, services
from apps.webhooks.exceptions import (
    WebhookDeliveryNotFound,
    WebhookEventsInvalid,
    WebhookNotFound,
    WebhookUrlInvalid,
)

from .serializers import (
    CreateWebhookSerializer,
    DeliveryListSerializer,
    RedeliverySerializer,
    UpdateWebhookSerializer,
    WebhookListSerializer,
    WebhookSerializer,
    WebhookWithSecretSerializer,
)

WEBHOOKS_TAG = "webhooks"
WEBHOOK_ID = OpenApiParameter("webhook_id", str, OpenApiParameter.PATH, description="the webhook's id")
DELIVERY_ID = OpenApiParameter("delivery_id", str, OpenApiParameter.PATH, description="the delivery's id")


class WebhookView(AccountScopedView):
    domain_error_fields = {WebhookUrlInvalid: "url", WebhookEventsInvalid: "events"}

    def webhook(self, webhook_id: str, *, action: str):
        """The account's webhook, or 404; starts ``action``'s audit event first so a
        miss is in the trail."""
        self.begin_event(action, recipient_account_id=self.account.pk, webhookId=str(webhook_id)[:64])
        try:
            return selectors.endpoint(self.account, webhook_id)
        except WebhookNotFound as missing:
            raise NotFound(missing.message) from None


class WebhookList(WebhookView):
    @extend_schema(
        operation_id="listWebhooks",
        summary="List the account's webhooks",
        description="Berth's own: the account's webhook endpoints (never their secrets).",
        responses={200: WebhookListSerializer, **error_responses(401, 403)},
        tags=[WEBHOOKS_TAG],
    )
    def get(self, request):
        self.authorize("berth:DescribeWebhooks", registryId=self.account.pk)
        return Response(WebhookListSerializer({"webhooks": selectors.endpoints(self.account)}).data)

    @extend_schema(
        operation_id="createWebhook",
        summary="Create a webhook",
        description="Berth's own: an endpoint the account's events are POSTed to as CloudEvents 1.0, signed with "
        "HMAC-SHA256 (`Berth-Signature`). The `secret` is in this answer only. A URL whose host resolves to a "
        "loopback, private or link-local address is refused unless staff allow its network.",
        request=CreateWebhookSerializer,
        responses={201: WebhookWithSecretSerializer, **error_responses(400, 401, 403)},
        tags=[WEBHOOKS_TAG],
    )
    def post(self, request):
        given = CreateWebhookSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        self.authorize("berth:CreateWebhook", registryId=self.account.pk)
        created = services.create_webhook(
            account=self.account, **given.validated_data, actor=self.actor, context=self.context
        )
        body = {"webhook": created.endpoint, "secret": created.secret}
        return Response(WebhookWithSecretSerializer(body).data, status=status.HTTP_201_CREATED)


class WebhookDetail(WebhookView):
    @extend_schema(
        operation_id="describeWebhook",
        summary="Describe a webhook",
        description="Berth's own: one webhook endpoint (never its secret).",
        parameters=[WEBHOOK_ID],
        responses={200: WebhookSerializer, **error_responses(401, 403, 404)},
        tags=[WEBHOOKS_TAG],
    )
    def get(self, request, webhook_id: str):
        endpoint = self.webhook(webhook_id, action="berth:DescribeWebhooks")
        self.authorize("berth:DescribeWebhooks", registryId=self.account.pk)
        return Response(WebhookSerializer(endpoint).data)

    @extend_schema(
        operation_id="updateWebhook",
        summary="Change a webhook",
        description="Berth's own: what is given replaces what was (`url`, checked as at creation; `events`; "
        "`description`; `active`: an inactive webhook gets no new deliveries).",
        parameters=[WEBHOOK_ID],
        request=UpdateWebhookSerializer,
        responses={200: WebhookSerializer, **error_responses(400, 401, 403, 404)},
        tags=[WEBHOOKS_TAG],
    )
    def patch(self, request, webhook_id: str):
        endpoint = self.webhook(webhook_id, action="berth:UpdateWebhook")
        given = UpdateWebhookSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        self.authorize("berth:UpdateWebhook", registryId=self.account.pk)
        endpoint = services.update_webhook(
            endpoint=endpoint, **given.validated_data, actor=self.actor, context=self.context
        )
        return Response(WebhookSerializer(endpoint).data)

    @extend_schema(
        operation_id="deleteWebhook",
        summary="Delete a webhook",
        description="Berth's own: the endpoint and its delivery log.",
        parameters=[WEBHOOK_ID],
        responses={200: WebhookSerializer, **error_responses(401, 403, 404)},
        tags=[WEBHOOKS_TAG],
    )
    def delete(self, request, webhook_id: str):
        endpoint = self.webhook(webhook_id, action="berth:DeleteWebhook")
        self.authorize("berth:DeleteWebhook", registryId=self.account.pk)
        described = WebhookSerializer(endpoint).data
        services.delete_webhook(endpoint=endpoint, actor=self.actor, context=self.context)
        return Response(described)


class WebhookSecretRotation(WebhookView):
    @extend_schema(
        operation_id="rotateWebhookSecret",
        summary="Give a webhook a new secret",
        description="Berth's own: a new signing secret, in this answer only; every try from now on is signed with it.",
        parameters=[WEBHOOK_ID],
        request=None,
        responses={200: WebhookWithSecretSerializer, **error_responses(401, 403, 404)},
        tags=[WEBHOOKS_TAG],
    )
    def post(self, request, webhook_id: str):
        endpoint = self.webhook(webhook_id, action="berth:RotateWebhookSecret")
        self.authorize("berth:RotateWebhookSecret", registryId=self.account.pk)
        rotated = services.rotate_webhook_secret(endpoint=endpoint, actor=self.actor, context=self.context)
        return Response(WebhookWithSecretSerializer({"webhook": rotated.endpoint, "secret": rotated.secret}).data)


class DeliveryList(WebhookView):
    @extend_schema(
        operation_id="listWebhookDeliveries",
        summary="A webhook's delivery log",
        description="Berth's own: the latest 100 deliveries, newest first: status (PENDING, SUCCEEDED, FAILED), "
        "tries, the last answer's status code, latency and first 1 KiB, and the CloudEvent sent.",
        parameters=[WEBHOOK_ID],
        responses={200: DeliveryListSerializer, **error_responses(401, 403, 404)},
        tags=[WEBHOOKS_TAG],
    )
    def get(self, request, webhook_id: str):
        endpoint = self.webhook(webhook_id, action="berth:ListWebhookDeliveries")
        self.authorize("berth:ListWebhookDeliveries", registryId=self.account.pk)
        return Response(DeliveryListSerializer({"deliveries": selectors.deliveries(endpoint)}).data)


class Redelivery(WebhookView):
    @extend_schema(
        operation_id="redeliverWebhook",
        summary="Deliver an event again",
        description="Berth's own: a new delivery of the same CloudEvent (same `id`), tried from the start; the "
        "original stays in the log.",
        parameters=[WEBHOOK_ID, DELIVERY_ID],
        request=None,
        responses={202: RedeliverySerializer, **error_responses(401, 403, 404)},
        tags=[WEBHOOKS_TAG],
    )
    def post(self, request, webhook_id: str, delivery_id: str):
        endpoint = self.webhook(webhook_id, action="berth:RedeliverWebhook")
        try:
            delivery = selectors.delivery(endpoint, delivery_id)
        except WebhookDeliveryNotFound as missing:
            raise NotFound(missing.message) from None
        self.authorize("berth:RedeliverWebhook", registryId=self.account.pk)
        copy = services.redeliver_webhook(delivery=delivery, actor=self.actor, context=self.context)
        return Response(RedeliverySerializer({"delivery": copy}).data, status=status.HTTP_202_ACCEPTED)
