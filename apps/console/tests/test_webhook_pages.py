"""The console's webhook pages: the list, a new webhook (its secret once), settings,
rotation, deletion with a typed word, the delivery log and redelivery; the API's
permissions, no SSRF, another account's webhook never found, and the query budget."""

from __future__ import annotations

import json
import re

import pytest
from django.contrib.auth import get_user_model

from apps.audit.events import Actor
from apps.audit.models import Event
from apps.events import names
from apps.iam import services as iam_services
from apps.kernel import sealing
from apps.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db

RECEIVER = "http://127.0.0.1:9/hooks"


@pytest.fixture
def within_budget(within_budget, settings):
    """The frame's budget as the page costs in production: there a read's audit event
    goes to the spool (no query); the tests write it synchronously, 9 queries that
    are not the page's. (Writes are recorded in their transaction in both.)"""

    def get(client, url: str, **kwargs):
        settings.BERTH_AUDIT_READ_EVENTS = False
        try:
            return within_budget(client, url, **kwargs)
        finally:
            settings.BERTH_AUDIT_READ_EVENTS = True

    return get


@pytest.fixture
def loopback_allowed(settings):
    settings.BERTH_WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    return settings


def endpoint_of(tenant, *, url: str = RECEIVER, events=("*",), active: bool = True) -> WebhookEndpoint:
    return WebhookEndpoint.objects.create(
        account=tenant.account, url=url, events=list(events), active=active, sealed_secret=sealing.seal("whsec_old")
    )


def delivery_of(endpoint, n: int, *, status=DeliveryStatus.SUCCEEDED, code=200) -> WebhookDelivery:
    return WebhookDelivery.objects.create(
        endpoint=endpoint,
        event_id=f"{n}@x",
        event_name=names.IMAGE_PUSHED,
        cloud_event={"id": f"id-{n}", "type": "berth.image.pushed", "data": {"digest": f"sha256:{n:064d}"}},
        status=status,
        attempts=1,
        last_status_code=code,
        latency_ms=12,
        response_excerpt='{"ok": true}',
    )


def text(response) -> str:
    return response.content.decode()


def recorded(name: str) -> list[Event]:
    """The successful events named `name` (a refused or failed request is recorded too, with its error)."""
    return list(Event.objects.filter(event_name=name, event_source="berth", error_code=""))


@pytest.fixture
def iam_client(client, tenant):
    """A signed-in IAM user of ``tenant`` with no policy: refused everything."""
    user = iam_services.create_user(account=tenant.account, username="intern", actor=Actor.system("test"))
    client.force_login(user)
    return client


# --- the list --------------------------------------------------------------------------


def test_the_list_shows_each_webhook_with_its_latest_delivery_within_budget(root_client, tenant, within_budget):
    for n in range(6):
        endpoint = endpoint_of(tenant, url=f"https://hooks{n}.example.com/in", active=n != 3)
        for m in range(3):
            delivery_of(endpoint, 10 * n + m, status=DeliveryStatus.FAILED if n == 2 else DeliveryStatus.SUCCEEDED)
    endpoint_of(tenant, url="https://quiet.example.com/in", events=["tag.deleted"])
    page = text(within_budget(root_client, "/console/webhooks"))
    assert page.count('href="/console/webhooks/') >= 7
    assert "https://hooks5.example.com/in" in page and "https://quiet.example.com/in" in page
    assert "Failed" in page and "Succeeded" in page and "Nothing yet" in page and "Inactive" in page
    assert "<code>tag.deleted</code>" in page
    assert 'id="new-webhook"' in page


def test_the_list_is_empty_for_a_new_account_and_never_shows_another_accounts(root_client, other_tenant, within_budget):
    endpoint_of(other_tenant, url="https://theirs.example.com/in")
    page = text(within_budget(root_client, "/console/webhooks"))
    assert 'id="no-webhooks"' in page and "theirs.example.com" not in page


def test_an_iam_user_without_permission_is_refused(iam_client, tenant, within_budget):
    endpoint = endpoint_of(tenant)
    for url in ("/console/webhooks", "/console/webhooks/new", f"/console/webhooks/{endpoint.pk}"):
        page = text(within_budget(iam_client, url, status=403))
        assert 'id="missing-permission"' in page
    assert "berth:DescribeWebhooks" in text(iam_client.get("/console/webhooks"))
    assert "berth:CreateWebhook" in text(iam_client.get("/console/webhooks/new"))
    response = iam_client.post(f"/console/webhooks/{endpoint.pk}/delete", {"confirm": "delete"})
    assert response.status_code == 403 and "berth:DeleteWebhook" in text(response)
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()


# --- creating --------------------------------------------------------------------------


def test_new_webhook_form_offers_every_delivered_event(root_client, within_budget):
    page = text(within_budget(root_client, "/console/webhooks/new"))
    for name in ("*", "image.pushed", "image.deleted", "images.rematched", "alias_request.decided"):
        assert f'value="{name}"' in page
    assert re.search(r'<input[^>]*value="\*"[^>]*checked', page)


def test_creating_shows_the_secret_once_and_records_the_event(root_client, tenant, loopback_allowed):
    response = root_client.post(
        "/console/webhooks/new",
        {"url": RECEIVER, "events": ["image.pushed", "tag.moved"], "description": "CI", "active": "on"},
    )
    assert response.status_code == 201, text(response)[:2000]
    endpoint = WebhookEndpoint.objects.get(account=tenant.account)
    assert (endpoint.url, endpoint.events, endpoint.description, endpoint.active) == (
        RECEIVER,
        ["image.pushed", "tag.moved"],
        "CI",
        True,
    )
    secret = re.search(r'<code id="webhook-secret">(whsec_[^<]+)</code>', text(response)).group(1)
    assert 'class="secret-once"' in text(response)
    assert sealing.unseal(endpoint.sealed_secret) == secret
    [event] = recorded("CreateWebhook")
    assert secret not in json.dumps(event.request_parameters)
    # the secret is never on the webhook's page again
    assert secret not in text(root_client.get(f"/console/webhooks/{endpoint.pk}"))


def test_every_event_checked_means_star(root_client, tenant, loopback_allowed):
    response = root_client.post("/console/webhooks/new", {"url": RECEIVER, "events": ["*", "image.pushed"]})
    assert response.status_code == 201
    endpoint = WebhookEndpoint.objects.get(account=tenant.account)
    assert endpoint.events == ["*"] and endpoint.active is False  # the checkbox was not sent


@pytest.mark.parametrize(
    "url, says",
    [
        ("http://127.0.0.1:8080/hook", "127.0.0.0/8"),
        ("http://10.1.2.3/hook", "10.0.0.0/8"),
        ("http://169.254.169.254/latest/meta-data", "169.254"),
        ("ftp://example.com/hook", "https:// or http://"),
    ],
)
def test_an_address_webhooks_must_not_reach_is_a_form_error(root_client, tenant, url, says):
    response = root_client.post("/console/webhooks/new", {"url": url, "events": ["*"], "active": "on"})
    assert response.status_code == 400
    page = text(response)
    assert 'id="url-errors"' in page and says in page
    assert f'value="{url}"' in page  # what was typed is kept
    assert not WebhookEndpoint.objects.exists() and not recorded("CreateWebhook")


def test_no_event_chosen_is_a_form_error(root_client, loopback_allowed):
    response = root_client.post("/console/webhooks/new", {"url": RECEIVER, "active": "on"})
    assert response.status_code == 400 and "Choose at least one event" in text(response)
    assert not WebhookEndpoint.objects.exists()


# --- one webhook -----------------------------------------------------------------------


def test_the_webhook_page_shows_settings_and_the_delivery_log_within_budget(root_client, tenant, within_budget):
    endpoint = endpoint_of(tenant, events=["image.pushed", "image.deleted"])
    for n in range(25):
        delivery_of(
            endpoint,
            n,
            status=DeliveryStatus.FAILED if n % 5 == 0 else DeliveryStatus.SUCCEEDED,
            code=500 if n % 5 == 0 else 200,
        )
    page = text(within_budget(root_client, f"/console/webhooks/{endpoint.pk}"))
    assert page.count("data-delivery=") == 25
    assert page.count("/redeliver") == 25
    assert "12 ms" in page and "Failed" in page
    assert re.search(r'<input[^>]*value="image.deleted"[^>]*checked', page)
    assert 'data-confirm-word="delete"' in page and 'name="confirm"' in page


def test_reading_a_webhook_is_in_the_trail_as_the_apis_describe(root_client, tenant):
    endpoint = endpoint_of(tenant)
    assert root_client.get(f"/console/webhooks/{endpoint.pk}").status_code == 200
    [event] = Event.objects.filter(event_name="DescribeWebhooks", event_source="berth")
    assert event.recipient_account_id == tenant.id and event.read_only
    assert event.request_parameters["registryId"] == tenant.id


def test_a_delivery_shows_the_cloud_event_sent_within_budget(root_client, tenant, within_budget):
    endpoint = endpoint_of(tenant)
    delivery = delivery_of(endpoint, 7, status=DeliveryStatus.FAILED, code=503)
    delivery.last_error = "HTTP 503"
    delivery.save()
    page = text(within_budget(root_client, f"/console/webhooks/{endpoint.pk}/deliveries/{delivery.pk}"))
    assert 'id="cloud-event"' in page
    assert "&quot;type&quot;: &quot;berth.image.pushed&quot;" in page  # pretty printed, escaped
    assert "HTTP 503" in page and 'id="redeliver"' in page


def test_updating_settings(root_client, tenant, loopback_allowed):
    endpoint = endpoint_of(tenant)
    response = root_client.post(
        f"/console/webhooks/{endpoint.pk}",
        {"url": "http://127.0.0.2:9/other", "events": ["tag.deleted"], "description": "chat"},
    )
    assert response.status_code == 302 and response["Location"] == f"/console/webhooks/{endpoint.pk}"
    endpoint.refresh_from_db()
    assert (endpoint.url, endpoint.events, endpoint.description, endpoint.active) == (
        "http://127.0.0.2:9/other",
        ["tag.deleted"],
        "chat",
        False,
    )
    assert len(recorded("UpdateWebhook")) == 1
    assert "settings are saved" in text(root_client.get(f"/console/webhooks/{endpoint.pk}"))


def test_an_update_to_a_refused_address_is_a_form_error_and_changes_nothing(root_client, tenant):
    endpoint = endpoint_of(tenant, url="https://hooks.example.com/in")
    response = root_client.post(
        f"/console/webhooks/{endpoint.pk}", {"url": "http://192.168.1.1/x", "events": ["*"], "active": "on"}
    )
    assert response.status_code == 400 and "192.168.0.0/16" in text(response)
    endpoint.refresh_from_db()
    assert endpoint.url == "https://hooks.example.com/in" and not recorded("UpdateWebhook")


def test_rotating_the_secret_shows_the_new_one_once(root_client, tenant):
    endpoint = endpoint_of(tenant)
    response = root_client.post(f"/console/webhooks/{endpoint.pk}/rotate-secret")
    assert response.status_code == 200
    secret = re.search(r'<code id="webhook-secret">(whsec_[^<]+)</code>', text(response)).group(1)
    endpoint.refresh_from_db()
    assert sealing.unseal(endpoint.sealed_secret) == secret != "whsec_old"
    assert len(recorded("RotateWebhookSecret")) == 1


def test_deleting_needs_the_typed_word(root_client, tenant):
    endpoint = endpoint_of(tenant)
    delivery_of(endpoint, 1)
    response = root_client.post(f"/console/webhooks/{endpoint.pk}/delete", {"confirm": "yes"})
    assert response.status_code == 400 and "Type delete" in text(response)
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk).exists() and not recorded("DeleteWebhook")
    response = root_client.post(f"/console/webhooks/{endpoint.pk}/delete", {"confirm": "delete"})
    assert response.status_code == 302 and response["Location"] == "/console/webhooks"
    assert not WebhookEndpoint.objects.exists() and not WebhookDelivery.objects.exists()
    assert len(recorded("DeleteWebhook")) == 1


def test_redelivering_makes_a_new_delivery_of_the_same_cloud_event(root_client, tenant):
    endpoint = endpoint_of(tenant)
    failed = delivery_of(endpoint, 1, status=DeliveryStatus.FAILED, code=500)
    response = root_client.post(f"/console/webhooks/{endpoint.pk}/deliveries/{failed.pk}/redeliver")
    assert response.status_code == 302
    copy = WebhookDelivery.objects.get(redelivery_of=failed)
    assert copy.cloud_event == failed.cloud_event and copy.status == DeliveryStatus.PENDING
    [event] = recorded("RedeliverWebhook")
    assert event.request_parameters["redeliveryId"] == str(copy.pk)


def test_another_accounts_webhook_is_never_found(root_client, other_tenant, tenant):
    theirs = endpoint_of(other_tenant)
    delivery = delivery_of(theirs, 1)
    for url in (
        f"/console/webhooks/{theirs.pk}",
        f"/console/webhooks/{theirs.pk}/deliveries/{delivery.pk}",
        "/console/webhooks/not-a-uuid",
    ):
        assert root_client.get(url).status_code == 404
    for url, data in (
        (f"/console/webhooks/{theirs.pk}/delete", {"confirm": "delete"}),
        (f"/console/webhooks/{theirs.pk}/rotate-secret", {}),
        (f"/console/webhooks/{theirs.pk}/deliveries/{delivery.pk}/redeliver", {}),
        (f"/console/webhooks/{theirs.pk}", {"url": RECEIVER, "events": ["*"]}),
    ):
        assert root_client.post(url, data).status_code == 404
    # a delivery of another webhook of the same account is not found under this one either
    mine = endpoint_of(tenant)
    assert root_client.get(f"/console/webhooks/{mine.pk}/deliveries/{delivery.pk}").status_code == 404
    assert WebhookEndpoint.objects.filter(pk=theirs.pk).exists()
    assert WebhookDelivery.objects.filter(endpoint=theirs).count() == 1
    theirs.refresh_from_db()
    assert sealing.unseal(theirs.sealed_secret) == "whsec_old"


def test_a_user_allowed_to_describe_only_sees_no_log_and_no_buttons(client, tenant, within_budget):
    user = iam_services.create_user(account=tenant.account, username="viewer", actor=Actor.system("test"))
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["berth:DescribeWebhooks"], "Resource": "*"}],
    }
    managed = iam_services.create_policy(
        account=tenant.account, name="describe-webhooks", document=json.dumps(document), actor=Actor.system("test")
    )
    iam_services.attach_policy(account=tenant.account, managed_policy=managed, user=user, actor=Actor.system("test"))
    client.force_login(get_user_model().objects.get(pk=user.pk))
    endpoint = endpoint_of(tenant)
    delivery_of(endpoint, 1)
    page = text(within_budget(client, "/console/webhooks"))
    assert 'id="new-webhook"' not in page
    page = text(within_budget(client, f"/console/webhooks/{endpoint.pk}"))
    assert 'id="log-not-allowed"' in page and "data-delivery=" not in page
