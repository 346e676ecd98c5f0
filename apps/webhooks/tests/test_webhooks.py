"""Webhooks end to end inside the test process: endpoints through the API, events
published by real pushes fanned out to a live receiver on 127.0.0.1, signatures
verified there, retries, redelivery and the SSRF refusals."""

from __future__ import annotations

import hmac
import time
import uuid

import pytest
from django.utils import timezone

from apps.audit.models import Event
from apps.events import names
from apps.events.models import DomainEvent
from apps.kernel import sealing
from apps.webhooks import cloudevents, delivery, services, tasks
from apps.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(tenant, api_client, allow_loopback):
    return api_client(tenant)


def create(api, receiver, **more) -> dict:
    response = api.post("/api/v1/webhooks", {"url": receiver.url, **more}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    receiver.secret = body["secret"]
    return body["webhook"]


def push(registry_client, tenant, committed, tag: str = "v1") -> str:
    with committed():
        digest, _ = registry_client(tenant).push_image(f"{tenant.id}/app", tag)
    return digest


def test_signature_is_hmac_of_timestamp_and_body():
    body = b'{"a":1}'
    header = cloudevents.signature("whsec_x", 1700000000, body)
    assert header == "t=1700000000,v1=" + hmac.new(b"whsec_x", b"1700000000." + body, "sha256").hexdigest()
    assert cloudevents.verify("whsec_x", header, body, now=1700000010)
    assert not cloudevents.verify("whsec_y", header, body, now=1700000010)
    assert not cloudevents.verify("whsec_x", header, body + b" ", now=1700000010)
    assert not cloudevents.verify("whsec_x", header, body, now=1700000000 + 3600)  # replayed late


def test_push_delivers_a_signed_cloud_event(api, tenant, receiver, registry_client, committed):
    webhook = create(api, receiver, events=["image.pushed"])
    digest = push(registry_client, tenant, committed)
    [received] = receiver.wait_for(1)
    assert received.verified
    assert received.headers["Content-Type"] == "application/cloudevents+json"
    assert received.headers["User-Agent"].startswith("Berth-Webhooks/")
    event = received.cloud_event
    assert event["specversion"] == "1.0"
    assert event["type"] == "berth.image.pushed"
    assert event["source"] == f"berth/local/{tenant.id}"
    assert event["datacontenttype"] == "application/json"
    assert event["time"].endswith("Z")
    assert event["data"]["digest"] == digest and event["data"]["accountId"] == tenant.id
    uuid.UUID(event["id"])
    stored = WebhookDelivery.objects.get()
    assert stored.status == DeliveryStatus.SUCCEEDED and stored.attempts == 1
    assert stored.last_status_code == 200 and stored.response_excerpt == '{"ok": true}'
    assert stored.latency_ms is not None
    log = api.get(f"/api/v1/webhooks/{webhook['webhookId']}/deliveries").json()["deliveries"]
    assert [(entry["eventName"], entry["status"], entry["eventId"]) for entry in log] == [
        ("image.pushed", "SUCCEEDED", event["id"])
    ]


def test_only_matching_endpoints_of_the_events_account_get_it(
    api, api_client, tenant, other_tenant, receiver, registry_client, committed
):
    create(api, receiver, events=["tag.deleted"])
    everything = create(api, receiver)
    assert everything["events"] == ["*"]
    create(api, receiver, events=["image.pushed"], active=False)
    create(api_client(other_tenant), receiver)  # another account's endpoint, same URL
    receiver.secret = ""
    push(registry_client, tenant, committed)
    time.sleep(0.2)
    rows = WebhookDelivery.objects.all()
    assert {(row.endpoint_id, row.event_name) for row in rows} == {
        (uuid.UUID(everything["webhookId"]), names.IMAGE_PUSHED),
        (uuid.UUID(everything["webhookId"]), names.TAG_MOVED),
    }
    assert len(receiver.received) == 2
    assert {received.cloud_event["source"] for received in receiver.received} == {f"berth/local/{tenant.id}"}


def test_fan_out_twice_makes_one_delivery_with_a_stable_id(tenant, receiver, allow_loopback, committed):
    endpoint = WebhookEndpoint.objects.create(
        account=tenant.account, url=receiver.url, events=["*"], sealed_secret=sealing.seal("whsec_s")
    )
    receiver.secret = "whsec_s"
    event = DomainEvent.objects.create(
        name=names.ALIAS_REQUEST_DECIDED, payload={"accountId": tenant.id, "alias": "a", "status": "APPROVED"}
    )
    with committed():
        first = services.fan_out(event)
        again = services.fan_out(event)  # the outbox delivering the event a second time
    assert len(first) == 1 and again == []
    [received] = receiver.wait_for(1)
    assert received.verified and received.cloud_event["type"] == "berth.alias_request.decided"
    stored = WebhookDelivery.objects.get(endpoint=endpoint)
    rebuilt = cloudevents.build(
        event_key=stored.event_id,
        endpoint_id=endpoint.pk,
        account_id=tenant.id,
        name=event.name,
        occurred_at=event.occurred_at,
        payload=event.payload,
    )
    assert rebuilt["id"] == received.cloud_event["id"] == stored.cloud_event["id"]
    other = WebhookEndpoint.objects.create(
        account=tenant.account, url=receiver.url, sealed_secret=endpoint.sealed_secret
    )
    assert cloudevents.build(
        event_key=stored.event_id, endpoint_id=other.pk, account_id=tenant.id, name=event.name,
        occurred_at=event.occurred_at, payload=event.payload,
    )["id"] != rebuilt["id"]  # fmt: skip


def test_an_event_without_an_account_goes_nowhere(tenant, receiver, allow_loopback):
    WebhookEndpoint.objects.create(
        account=tenant.account, url=receiver.url, events=["*"], sealed_secret=sealing.seal("whsec_s")
    )
    event = DomainEvent.objects.create(name=names.IMAGE_PUSHED, payload={"repositoryId": "r"})
    assert services.fan_out(event) == []


def test_a_failing_receiver_is_retried_with_back_off_then_succeeds(api, tenant, receiver, registry_client, committed):
    create(api, receiver, events=["image.pushed"])
    receiver.answers = [500, 500]
    push(registry_client, tenant, committed)
    received = receiver.wait_for(3)
    assert len({r.cloud_event["id"] for r in received}) == 1 and all(r.verified for r in received)
    stored = WebhookDelivery.objects.get()
    assert (stored.status, stored.attempts, stored.last_status_code) == (DeliveryStatus.SUCCEEDED, 3, 200)


def test_retries_end_in_failed_and_a_redelivery_starts_again(
    api, tenant, receiver, registry_client, committed, settings
):
    settings.BERTH_WEBHOOK_MAX_ATTEMPTS = 3
    webhook = create(api, receiver, events=["image.pushed"])
    receiver.answers = [503, 503, 503]
    push(registry_client, tenant, committed)
    receiver.wait_for(3)
    failed = WebhookDelivery.objects.get()
    assert (failed.status, failed.attempts, failed.last_status_code) == (DeliveryStatus.FAILED, 3, 503)
    assert failed.response_excerpt == "x" * 1024  # the first KiB only
    assert failed.next_attempt_at is None
    path = f"/api/v1/webhooks/{webhook['webhookId']}/deliveries/{failed.pk}/redeliver"
    with committed():
        response = api.post(path)
    assert response.status_code == 202, response.content
    received = receiver.wait_for(4)
    assert received[3].cloud_event == received[0].cloud_event and received[3].verified
    copy = WebhookDelivery.objects.get(redelivery_of=failed)
    assert (copy.status, copy.attempts) == (DeliveryStatus.SUCCEEDED, 1)
    assert Event.objects.filter(event_name="RedeliverWebhook", event_source="berth").count() == 1
    assert api.delete(f"/api/v1/webhooks/{webhook['webhookId']}").status_code == 200
    assert not WebhookDelivery.objects.exists()


def test_back_off_doubles_with_jitter(settings):
    settings.BERTH_WEBHOOK_RETRY_BASE_SECONDS = 10
    settings.BERTH_WEBHOOK_RETRY_MAX_SECONDS = 3600
    for attempts, ceiling in ((1, 10), (2, 20), (3, 40), (12, 3600)):
        waits = [delivery.backoff_seconds(attempts) for _ in range(50)]
        assert all(ceiling / 2 <= wait <= ceiling for wait in waits)
        assert len(set(waits)) > 1


def test_a_lost_task_is_queued_again_by_the_sweep_and_sent_once(tenant, receiver, allow_loopback):
    endpoint = WebhookEndpoint.objects.create(
        account=tenant.account, url=receiver.url, events=["*"], sealed_secret=sealing.seal("whsec_s")
    )
    receiver.secret = "whsec_s"
    row = WebhookDelivery.objects.create(
        endpoint=endpoint,
        event_id="1@x",
        event_name=names.IMAGE_PUSHED,
        cloud_event={"specversion": "1.0", "id": "e", "data": {}},
        next_attempt_at=timezone.now(),
    )
    assert tasks.requeue_due_deliveries() == 1
    assert tasks.requeue_due_deliveries() == 0
    # A second task for the same try sends nothing.
    assert delivery.attempt(row.pk, 1) is None
    assert len(receiver.wait_for(1)) == 1 and receiver.received[0].verified
    row.refresh_from_db()
    assert (row.status, row.attempts) == (DeliveryStatus.SUCCEEDED, 1)


def test_the_secret_is_shown_once_and_rotates(api, receiver):
    webhook = create(api, receiver)
    first = receiver.secret
    assert first.startswith("whsec_")
    path = f"/api/v1/webhooks/{webhook['webhookId']}"
    for response in (api.get(path), api.get("/api/v1/webhooks"), api.patch(path, {"description": "ci"}, format="json")):
        assert response.status_code == 200, response.content
        assert first not in response.content.decode() and "secret" not in response.json()
    stored = WebhookEndpoint.objects.get()
    assert first not in stored.sealed_secret
    rotated = api.post(f"{path}/rotate-secret")
    assert rotated.status_code == 200 and rotated.json()["secret"] not in ("", first)
    events = Event.objects.filter(event_source="berth", event_name__endswith="Webhook").values_list(
        "event_name", flat=True
    )
    assert set(events) == {"CreateWebhook", "UpdateWebhook"}
    assert Event.objects.filter(event_name="RotateWebhookSecret").count() == 1
    assert all(first not in str(event.request_parameters) for event in Event.objects.all())
    assert api.delete(path).status_code == 200
    assert api.get(path).status_code == 404


def test_another_accounts_webhook_is_not_found(api, api_client, other_tenant, receiver):
    webhook = create(api, receiver)
    other = api_client(other_tenant)
    path = f"/api/v1/webhooks/{webhook['webhookId']}"
    assert other.get(path).status_code == 404
    assert other.delete(path).status_code == 404
    assert other.get("/api/v1/webhooks").json() == {"webhooks": []}
    assert api.get("/api/v1/webhooks/not-a-uuid").status_code == 404


@pytest.mark.parametrize(
    "url, says",
    [
        ("http://127.0.0.1:9/hook", "127.0.0.0/8"),
        ("http://localhost:9/hook", "BERTH_WEBHOOK_ALLOWED_NETWORKS"),
        ("http://10.1.2.3/hook", "10.0.0.0/8"),
        ("http://192.168.1.1/hook", "192.168.0.0/16"),
        ("http://169.254.169.254/latest/meta-data", "169.254.0.0/16"),
        ("http://[::1]:9/hook", "::1/128"),
        ("http://[fd00::1]/hook", "fc00::/7"),
        ("ftp://example.com/hook", "must start with https://"),
        ("http://user:pw@example.com/hook", "credentials in the URL"),
        ("not a url", "must start with https://"),
        ("http://no-such-host.invalid/hook", "does not resolve"),
    ],
)
def test_create_refuses_addresses_webhooks_must_not_reach(tenant, api_client, settings, url, says):
    settings.BERTH_AUDIT_SYNCHRONOUS = True
    response = api_client(tenant).post("/api/v1/webhooks", {"url": url}, format="json")
    assert response.status_code == 400, response.content
    assert says in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_unknown_event_names_are_refused(api, receiver):
    response = api.post("/api/v1/webhooks", {"url": receiver.url, "events": ["image.pulled"]}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "events.0"


def test_delivery_refuses_a_host_that_now_resolves_to_loopback(
    api, tenant, receiver, registry_client, committed, settings
):
    """Allowed at create, then the staff setting changes (as a DNS answer would): the
    guard checks the address each try connects to, and sends nothing."""
    create(api, receiver, events=["image.pushed"])
    WebhookEndpoint.objects.update(url=receiver.url.replace("127.0.0.1", "localhost"))
    settings.BERTH_WEBHOOK_ALLOWED_NETWORKS = []
    settings.BERTH_WEBHOOK_MAX_ATTEMPTS = 2
    push(registry_client, tenant, committed)
    stored = WebhookDelivery.objects.get()
    assert (stored.status, stored.attempts, stored.last_status_code) == (DeliveryStatus.FAILED, 2, None)
    assert "127.0.0.1" in stored.last_error and "BERTH_WEBHOOK_ALLOWED_NETWORKS" in stored.last_error
    assert receiver.received == []


def test_redirects_are_not_followed(api, tenant, receiver, registry_client, committed, settings):
    settings.BERTH_WEBHOOK_MAX_ATTEMPTS = 1
    create(api, receiver, events=["image.pushed"])
    receiver.redirect_to = "http://169.254.169.254/latest/meta-data"
    push(registry_client, tenant, committed)
    stored = WebhookDelivery.objects.get()
    assert (stored.status, stored.last_status_code) == (DeliveryStatus.FAILED, 307)
    assert len(receiver.received) == 1


def test_an_update_to_a_refused_address_changes_nothing(api, receiver):
    webhook = create(api, receiver)
    path = f"/api/v1/webhooks/{webhook['webhookId']}"
    refused = api.patch(path, {"url": "http://169.254.169.254/latest", "active": False}, format="json")
    assert refused.status_code == 400 and refused.json()["errors"][0]["field"] == "url"
    stored = WebhookEndpoint.objects.get()
    assert (stored.url, stored.active) == (receiver.url, True)
