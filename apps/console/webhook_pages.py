"""The console's webhook pages (section "webhooks"): the account's endpoints, a
new one (its secret shown once), one endpoint's settings, secret rotation,
deletion and delivery log, a delivery's CloudEvent, and redelivery.

Each operation is the management API's (apps/api/webhooks/views.py): the same
authorize action (``berth:CreateWebhook`` ...), the same service, which records
the audit event; a missing or another account's webhook is a 404 after the
action's audit event began, as on the API. A URL Berth will not deliver to (a
loopback or private address: no SSRF) is a form error, 400."""

from __future__ import annotations

import json

from django.http import Http404
from django.shortcuts import redirect
from django.urls import path

from apps.iam import enforcement
from apps.webhooks import selectors, services
from apps.webhooks.exceptions import (
    WebhookDeliveryNotFound,
    WebhookEventsInvalid,
    WebhookNotFound,
    WebhookUrlInvalid,
)
from apps.webhooks.models import ALL_EVENTS, WebhookEndpoint

from .base import ConsoleView, Refused
from .webhook_forms import DELETE_WORD, DeleteWebhookForm, WebhookForm

DESCRIBE = "berth:DescribeWebhooks"
CREATE = "berth:CreateWebhook"
UPDATE = "berth:UpdateWebhook"
DELETE = "berth:DeleteWebhook"
ROTATE = "berth:RotateWebhookSecret"
LIST_DELIVERIES = "berth:ListWebhookDeliveries"
REDELIVER = "berth:RedeliverWebhook"
# Deliveries the endpoint's page lists (the API's log has the latest 100 too).
LOG_LENGTH = selectors.DELIVERIES_PAGE
# Domain errors of the services, as errors of the form's fields.
FIELD_ERRORS = {WebhookUrlInvalid: "url", WebhookEventsInvalid: "events"}


class WebhookPage(ConsoleView):
    section = "webhooks"

    def webhook(self, webhook_id: str, *, action: str) -> WebhookEndpoint:
        """The account's webhook, or 404; starts ``action``'s audit event first so a
        miss is in the trail (as the API's WebhookView.webhook)."""
        enforcement.begin_event(
            self.request, self.caller, action, recipient_account_id=self.account.pk, webhookId=str(webhook_id)[:64]
        )
        try:
            return selectors.endpoint(self.account, webhook_id)
        except WebhookNotFound as missing:
            raise Http404(missing.message) from None

    def authorize_webhooks(self, action: str):
        return self.authorize(action, registryId=self.account.pk)

    def require(self, action: str) -> None:
        """A page that only shows a form asks the policies without an audit event
        (the form's POST authorizes, and is recorded)."""
        if not self.allowed(action):
            arn = "*"
            message = f"{self.caller.arn} is not authorized to perform {action} on {arn}"
            raise Refused(enforcement.NotAuthorized(message, action=action, resource_arn=arn))

    def form_failed(self, form, error) -> bool:
        """Put a service's domain error on its field; False when it is no form error."""
        for kind, field in FIELD_ERRORS.items():
            if isinstance(error, kind):
                form.add_error(field, error.message)
                return True
        return False


class WebhookList(WebhookPage):
    template_name = "console/webhooks/list.html"

    def get(self, request):
        self.authorize_webhooks(DESCRIBE)
        return self.render(
            {
                "webhooks": selectors.endpoints_with_latest_delivery(self.account),
                "may_create": self.allowed(CREATE),
            }
        )


class NewWebhook(WebhookPage):
    template_name = "console/webhooks/new.html"

    def get(self, request):
        self.require(CREATE)
        return self.render({"form": WebhookForm(initial={"events": [ALL_EVENTS], "active": True})})

    def post(self, request):
        form = WebhookForm(request.POST)
        if form.is_valid():
            self.authorize_webhooks(CREATE)
            data = form.cleaned_data
            try:
                created = services.create_webhook(
                    account=self.account,
                    url=data["url"],
                    events=data["events"],
                    description=data["description"],
                    active=data["active"],
                    actor=self.actor,
                    context=self.context,
                )
            except (WebhookUrlInvalid, WebhookEventsInvalid) as error:
                self.form_failed(form, error)
            else:
                return self.render(
                    {"webhook": created.endpoint, "secret": created.secret, "created": True},
                    template_name="console/webhooks/secret.html",
                    status=201,
                )
        return self.render({"form": form}, status=400)


class _EndpointPage(WebhookPage):
    """The page of one endpoint: its settings form, secret rotation, deletion and log."""

    template_name = "console/webhooks/detail.html"

    def page(self, endpoint: WebhookEndpoint, form: WebhookForm | None = None, *, delete_form=None, status: int = 200):
        form = form or WebhookForm(initial=_initial(endpoint))
        may_list = self.allowed(LIST_DELIVERIES)
        return self.render(
            {
                "webhook": endpoint,
                "form": form,
                "delete_form": delete_form or DeleteWebhookForm(),
                "delete_word": DELETE_WORD,
                "may_list": may_list,
                "may_redeliver": may_list and self.allowed(REDELIVER),
                "deliveries": selectors.deliveries(endpoint, limit=LOG_LENGTH) if may_list else [],
                "log_length": LOG_LENGTH,
            },
            status=status,
        )


class WebhookDetail(_EndpointPage):
    def get(self, request, webhook_id: str):
        endpoint = self.webhook(webhook_id, action=DESCRIBE)
        self.authorize_webhooks(DESCRIBE)
        return self.page(endpoint)

    def post(self, request, webhook_id: str):
        """UpdateWebhook: the settings form."""
        endpoint = self.webhook(webhook_id, action=UPDATE)
        form = WebhookForm(request.POST)
        if form.is_valid():
            self.authorize_webhooks(UPDATE)
            data = form.cleaned_data
            try:
                services.update_webhook(
                    endpoint=endpoint,
                    url=data["url"] if data["url"] != endpoint.url else None,
                    events=data["events"],
                    description=data["description"],
                    active=data["active"],
                    actor=self.actor,
                    context=self.context,
                )
            except (WebhookUrlInvalid, WebhookEventsInvalid) as error:
                self.form_failed(form, error)
            else:
                self.done("The webhook's settings are saved.")
                return redirect("console:webhook", webhook_id=endpoint.pk)
        return self.page(endpoint, form, status=400)


class RotateSecret(WebhookPage):
    def post(self, request, webhook_id: str):
        endpoint = self.webhook(webhook_id, action=ROTATE)
        self.authorize_webhooks(ROTATE)
        rotated = services.rotate_webhook_secret(endpoint=endpoint, actor=self.actor, context=self.context)
        return self.render(
            {"webhook": rotated.endpoint, "secret": rotated.secret, "created": False},
            template_name="console/webhooks/secret.html",
        )


class DeleteWebhook(_EndpointPage):
    def post(self, request, webhook_id: str):
        endpoint = self.webhook(webhook_id, action=DELETE)
        form = DeleteWebhookForm(request.POST)
        if not form.is_valid():
            return self.page(endpoint, delete_form=form, status=400)
        self.authorize_webhooks(DELETE)
        services.delete_webhook(endpoint=endpoint, actor=self.actor, context=self.context)
        self.done(f"The webhook to {endpoint.url} and its delivery log are deleted.")
        return redirect("console:webhooks")


class DeliveryDetail(WebhookPage):
    template_name = "console/webhooks/delivery.html"

    def get(self, request, webhook_id: str, delivery_id: str):
        endpoint = self.webhook(webhook_id, action=LIST_DELIVERIES)
        delivery = _delivery(endpoint, delivery_id)
        self.authorize_webhooks(LIST_DELIVERIES)
        return self.render(
            {
                "webhook": endpoint,
                "delivery": delivery,
                "cloud_event_json": json.dumps(delivery.cloud_event, indent=2, sort_keys=True, ensure_ascii=False),
                "may_redeliver": self.allowed(REDELIVER),
            }
        )


class Redeliver(WebhookPage):
    def post(self, request, webhook_id: str, delivery_id: str):
        endpoint = self.webhook(webhook_id, action=REDELIVER)
        delivery = _delivery(endpoint, delivery_id)
        self.authorize_webhooks(REDELIVER)
        copy = services.redeliver_webhook(delivery=delivery, actor=self.actor, context=self.context)
        self.done(f"{delivery.event_name} is being delivered again (delivery {copy.pk}).")
        return redirect("console:webhook", webhook_id=endpoint.pk)


def _delivery(endpoint: WebhookEndpoint, delivery_id: str):
    try:
        return selectors.delivery(endpoint, delivery_id)
    except WebhookDeliveryNotFound as missing:
        raise Http404(missing.message) from None


def _initial(endpoint: WebhookEndpoint) -> dict:
    return {
        "url": endpoint.url,
        "events": endpoint.events,
        "description": endpoint.description,
        "active": endpoint.active,
    }


urlpatterns = [
    path("/webhooks", WebhookList.as_view(), name="webhooks"),
    path("/webhooks/new", NewWebhook.as_view(), name="new_webhook"),
    path("/webhooks/<str:webhook_id>", WebhookDetail.as_view(), name="webhook"),
    path("/webhooks/<str:webhook_id>/rotate-secret", RotateSecret.as_view(), name="rotate_webhook_secret"),
    path("/webhooks/<str:webhook_id>/delete", DeleteWebhook.as_view(), name="delete_webhook"),
    path(
        "/webhooks/<str:webhook_id>/deliveries/<str:delivery_id>",
        DeliveryDetail.as_view(),
        name="webhook_delivery",
    ),
    path(
        "/webhooks/<str:webhook_id>/deliveries/<str:delivery_id>/redeliver",
        Redeliver.as_view(),
        name="redeliver_webhook",
    ),
]
