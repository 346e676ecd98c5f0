"""The daily storage snapshot: one row per repository and one per account per day;
taken again the same day, it replaces that day's rows."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from apps.audit.events import Actor
from apps.audit.models import Event
from apps.registry import selectors as registry_selectors
from apps.repositories.models import Repository
from apps.usage import services, tasks
from apps.usage.models import AccountSnapshot, AppliedBatch, RepositorySnapshot, ServedBytes

from .conftest import config_of, push

pytestmark = pytest.mark.django_db

DAY = date(2026, 12, 1)


def test_the_snapshot_keeps_each_repository_and_account_figure(tenant, other_tenant, shared_estate):
    assert services.take_snapshot(actor=Actor.system("usage"), day=DAY) == 2
    rows = {row.repository: row for row in RepositorySnapshot.objects.filter(account_id=tenant.id, day=DAY)}
    assert set(rows) == {"a", "b"}
    live = registry_selectors.stored_bytes([rows["a"].repository_id])[rows["a"].repository_id]
    assert (rows["a"].referenced_bytes, rows["a"].exclusive_bytes, rows["a"].image_count) == (
        live.referenced,
        live.exclusive,
        1,
    )
    account = AccountSnapshot.objects.get(account_id=tenant.id, day=DAY)
    totals = registry_selectors.account_stored_bytes(tenant.id)
    assert (account.referenced_bytes, account.exclusive_bytes, account.repository_count) == (
        totals.referenced,
        totals.exclusive,
        2,
    )
    event = Event.objects.get(event_name="TakeUsageSnapshot", recipient_account_id=tenant.id)
    assert event.event_source == "berth"


def test_taking_the_days_snapshot_again_replaces_its_rows(tenant, registry_client, shared_estate):
    services.take_snapshot(actor=Actor.system("usage"), day=DAY)
    before = AccountSnapshot.objects.get(account_id=tenant.id, day=DAY).referenced_bytes
    push(registry_client(tenant), f"{tenant.id}/a", "v2", config_of("a2"), [b"n" * 900])
    Repository.objects.filter(account_id=tenant.id, name="b").delete()

    services.take_snapshot(actor=Actor.system("usage"), day=DAY)
    assert list(
        RepositorySnapshot.objects.filter(account_id=tenant.id, day=DAY).values_list("repository", flat=True)
    ) == ["a"]
    assert RepositorySnapshot.objects.get(account_id=tenant.id, day=DAY).image_count == 2
    assert AccountSnapshot.objects.filter(account_id=tenant.id, day=DAY).count() == 1
    after = AccountSnapshot.objects.get(account_id=tenant.id, day=DAY)
    assert after.referenced_bytes == registry_selectors.account_stored_bytes(tenant.id).referenced != before


def test_an_account_whose_last_repository_went_records_the_drop_to_nothing_once(tenant, shared_estate):
    services.take_snapshot(actor=Actor.system("usage"), day=DAY)
    Repository.objects.filter(account_id=tenant.id).delete()
    services.take_snapshot(actor=Actor.system("usage"), day=DAY + timedelta(days=1))
    services.take_snapshot(actor=Actor.system("usage"), day=DAY + timedelta(days=2))
    days = list(
        AccountSnapshot.objects.filter(account_id=tenant.id).order_by("day").values_list("day", "referenced_bytes")
    )
    assert [day for day, _ in days] == [DAY, DAY + timedelta(days=1)]
    assert days[1][1] == 0


def test_the_task_and_the_command_take_todays_and_prune_what_is_past_retention(tenant, shared_estate, settings):
    settings.BERTH_USAGE_RETENTION_DAYS = 30
    old = timezone.now().date() - timedelta(days=40)
    AccountSnapshot.objects.create(
        account_id=tenant.id, day=old, referenced_bytes=1, exclusive_bytes=1, image_count=0, repository_count=0,
        taken_at="2026-01-01T00:00:00Z",
    )  # fmt: skip
    ServedBytes.objects.create(account_id=tenant.id, day=old, repository_id=1, repository="a", anonymous=True, bytes=5)
    assert tasks.take_snapshot() == 2
    assert not AccountSnapshot.objects.filter(day=old).exists()
    assert not ServedBytes.objects.exists()
    call_command("usage_snapshot")
    assert AccountSnapshot.objects.filter(account_id=tenant.id, day=timezone.now().date()).count() == 1


def test_retention_zero_keeps_everything_but_old_batch_notes(tenant, settings):
    settings.BERTH_USAGE_RETENTION_DAYS = 0
    ServedBytes.objects.create(
        account_id=tenant.id, day=date(2000, 1, 1), repository_id=1, repository="a", anonymous=False, bytes=5
    )
    AppliedBatch.objects.create(
        batch_id="00000000-0000-0000-0000-000000000001", applied_at=timezone.now() - timedelta(days=8)
    )
    AppliedBatch.objects.create(batch_id="00000000-0000-0000-0000-000000000002", applied_at=timezone.now())
    assert services.prune() == {"batches": 1}
    assert ServedBytes.objects.count() == 1
    assert AppliedBatch.objects.count() == 1
