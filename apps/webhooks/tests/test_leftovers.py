"""Webhooks' later additions: re-match results (images.rematched) split per account,
the reason of a deletion (a lifecycle expiry says so), and the delivery log's
retention."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.audit.events import Actor
from apps.events import names
from apps.events.models import DomainEvent
from apps.kernel import sealing
from apps.registry import services as registry_services
from apps.repositories.models import Repository
from apps.webhooks import retention, services, tasks
from apps.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db


def endpoint_of(tenant, url: str = "https://hooks.example.com/in", events=("*",), secret: str = "whsec_s"):
    return WebhookEndpoint.objects.create(
        account=tenant.account, url=url, events=list(events), sealed_secret=sealing.seal(secret)
    )


def scan(account_id: str, digest: str) -> dict:
    return {
        "repositoryId": 1,
        "accountId": account_id,
        "repository": "app",
        "manifestId": 1,
        "digest": digest,
        "status": "COMPLETE",
        "severityCounts": {"HIGH": 1},
    }


def test_a_rematch_chunk_reaches_each_account_with_its_own_scans_only(tenant, other_tenant, make_tenant):
    mine = endpoint_of(tenant, events=["images.rematched"])
    theirs = endpoint_of(other_tenant)
    not_wanting = endpoint_of(make_tenant("carol"), events=["image.pushed"])
    event = DomainEvent.objects.create(
        name=names.IMAGES_REMATCHED,
        payload={
            "scans": [
                scan(tenant.id, "sha256:" + "a" * 64),
                scan(other_tenant.id, "sha256:" + "b" * 64),
                scan(tenant.id, "sha256:" + "c" * 64),
                scan(not_wanting.account_id, "sha256:" + "d" * 64),
            ]
        },
    )
    created = services.fan_out(event)
    by_endpoint = {delivery.endpoint_id: delivery.cloud_event for delivery in created}
    assert set(by_endpoint) == {mine.pk, theirs.pk}
    assert by_endpoint[mine.pk]["type"] == "berth.images.rematched"
    assert by_endpoint[mine.pk]["source"] == f"berth/local/{tenant.id}"
    assert [entry["digest"][-1] for entry in by_endpoint[mine.pk]["data"]["scans"]] == ["a", "c"]
    assert by_endpoint[theirs.pk]["source"] == f"berth/local/{other_tenant.id}"
    assert [entry["digest"][-1] for entry in by_endpoint[theirs.pk]["data"]["scans"]] == ["b"]
    assert services.fan_out(event) == []  # the outbox delivering it again makes no second row


def test_the_images_rematched_webhook_event_name_is_accepted(tenant, allow_loopback):
    created = services.create_webhook(
        account=tenant.account,
        url="http://127.0.0.1:9/in",
        events=["images.rematched"],
        actor=Actor.system("test"),
    )
    assert created.endpoint.events == ["images.rematched"]


def _deleted_events(committed, delete) -> list[dict]:
    with committed():
        delete()
    return [
        delivery.cloud_event
        for delivery in WebhookDelivery.objects.filter(event_name=names.IMAGE_DELETED).order_by("created_at")
    ]


def test_a_lifecycle_expiry_says_so_in_the_deleted_event(tenant, registry_client, committed, receiver, allow_loopback):
    receiver.secret = "whsec_s"
    endpoint_of(tenant, url=receiver.url, events=["image.deleted"])
    with committed():
        expired, _ = registry_client(tenant).push_image(f"{tenant.id}/app", "old")
        kept, _ = registry_client(tenant).push_image(f"{tenant.id}/app", "new", seed=b"other")
    repository = Repository.objects.get(account=tenant.account, name="app")
    [lifecycle] = _deleted_events(
        committed,
        lambda: registry_services.delete_image(
            repository=repository, digest=expired, tag=None, actor=Actor.system("lifecycle")
        ),
    )
    assert lifecycle["type"] == "berth.image.deleted"
    assert lifecycle["data"]["digest"] == expired and lifecycle["data"]["reason"] == "lifecycle"
    user = Actor(type="IAMUser", arn=f"arn:aws:iam::{tenant.id}:user/ci", account_id=tenant.id, username="lifecycle")
    events = _deleted_events(
        committed,
        lambda: registry_services.batch_delete_image(repository=repository, image_ids=[(kept, None)], actor=user),
    )
    assert events[-1]["data"]["digest"] == kept
    assert events[-1]["data"]["reason"] == "request"  # a user named "lifecycle" is still a request
    received = receiver.wait_for(2)
    assert [r.cloud_event["data"]["reason"] for r in received] == ["lifecycle", "request"]
    assert all(r.verified for r in received)


def _delivery(endpoint, *, days_old: float, status=DeliveryStatus.SUCCEEDED, redelivery_of=None, event_id=""):
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint,
        event_id=event_id or f"{WebhookDelivery.objects.count() + 1}@x",
        event_name=names.IMAGE_PUSHED,
        cloud_event={"id": "x"},
        status=status,
        redelivery_of=redelivery_of,
    )
    WebhookDelivery.objects.filter(pk=delivery.pk).update(created_at=timezone.now() - timedelta(days=days_old))
    return delivery


def test_pruning_removes_old_finished_deliveries_in_batches(tenant):
    endpoint = endpoint_of(tenant)
    old = [
        _delivery(endpoint, days_old=40 + n, status=DeliveryStatus.FAILED if n % 2 else "SUCCEEDED") for n in range(7)
    ]
    pending = _delivery(endpoint, days_old=45, status=DeliveryStatus.PENDING)
    recent = _delivery(endpoint, days_old=3)
    # an old delivery redelivered since: it stays while its (recent) redelivery does
    redelivered = _delivery(endpoint, days_old=50, status=DeliveryStatus.FAILED)
    old_copy = _delivery(endpoint, days_old=40, redelivery_of=redelivered, event_id=redelivered.event_id)
    fresh_copy = _delivery(endpoint, days_old=1, redelivery_of=old_copy, event_id=redelivered.event_id)
    # an old delivery whose redeliveries are all old goes with them
    gone = _delivery(endpoint, days_old=60, status=DeliveryStatus.FAILED)
    gone_copy = _delivery(endpoint, days_old=59, redelivery_of=gone, event_id=gone.event_id)

    removed = retention.prune_deliveries(older_than=timezone.now() - timedelta(days=30), batch_size=2)

    remaining = set(WebhookDelivery.objects.values_list("pk", flat=True))
    assert remaining == {pending.pk, recent.pk, redelivered.pk, old_copy.pk, fresh_copy.pk}
    assert removed == len(old) + 2
    assert not WebhookDelivery.objects.filter(pk=gone_copy.pk).exists()


def test_the_beat_task_keeps_the_retention_setting(tenant, settings):
    endpoint = endpoint_of(tenant)
    older = _delivery(endpoint, days_old=31)
    younger = _delivery(endpoint, days_old=29)
    settings.BERTH_WEBHOOK_DELIVERY_RETENTION_DAYS = 0  # keep forever
    assert tasks.prune_deliveries() == 0
    assert WebhookDelivery.objects.count() == 2
    settings.BERTH_WEBHOOK_DELIVERY_RETENTION_DAYS = 30
    assert tasks.prune_deliveries() == 1
    assert list(WebhookDelivery.objects.values_list("pk", flat=True)) == [younger.pk]
    assert not WebhookDelivery.objects.filter(pk=older.pk).exists()


def test_pruning_is_scheduled_daily(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["prune-webhook-deliveries"]
    assert entry["task"] == "apps.webhooks.tasks.prune_deliveries"
    assert entry["schedule"] == 24 * 3600
