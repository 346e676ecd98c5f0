"""The hash chain: appending, verifying, and what verification finds after tampering or pruning."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction
from django.utils import timezone

from apps.audit import chain, services
from apps.audit.models import GENESIS_HASH, ChainHead, Event, PruneRecord
from apps.audit.rows import EventRow

from .conftest import make_draft

pytestmark = pytest.mark.django_db


def verify_output() -> str:
    out = StringIO()
    call_command("verify_audit_chain", stdout=out)
    return out.getvalue().strip()


def verify_failure() -> str:
    with pytest.raises(CommandError) as failure:
        call_command("verify_audit_chain", stdout=StringIO())
    assert failure.value.returncode == 1
    return str(failure.value)


def record_events(count: int, **fields) -> list[Event]:
    return services.record_many([make_draft(**fields) for _ in range(count)])


def test_record_appends_in_the_callers_transaction_and_links_to_the_previous_event():
    draft = make_draft(event_name="PutImage", read_only=False, request_parameters={"imageTag": "v1"})
    with transaction.atomic():
        first = services.record(draft, response_elements={"image": {"imageId": {"imageDigest": "sha256:" + "a" * 64}}})
    with transaction.atomic():
        second = services.record(make_draft(), error_code="ImageNotFoundException", error_message="no such image")

    assert draft.recorded
    stored = Event.objects.order_by("sequence")
    assert [event.sequence for event in stored] == [1, 2]
    assert stored[0].previous_hash == GENESIS_HASH
    assert stored[1].previous_hash == stored[0].hash == first.hash
    assert (stored[0].image_digest, stored[0].image_tag) == ("sha256:" + "a" * 64, "v1")
    assert (stored[1].error_code, stored[1].error_message) == ("ImageNotFoundException", "no such image")
    head = ChainHead.objects.get()
    assert (head.last_sequence, head.last_hash) == (2, second.hash)
    assert verify_output() == "audit chain intact: 2 events, sequence 1..2"


@pytest.mark.django_db(transaction=True)
def test_record_outside_a_transaction_is_refused_and_writes_nothing():
    draft = make_draft()
    with pytest.raises(services.RecordOutsideTransaction):
        services.record(draft)
    assert not draft.recorded
    assert not Event.objects.exists()


def test_an_event_rolled_back_with_its_change_leaves_no_trace_in_the_chain():
    record_events(1)
    with pytest.raises(RuntimeError), transaction.atomic():
        services.record(make_draft(event_name="DeleteRepository", read_only=False))
        raise RuntimeError("the change failed")
    record_events(1)

    assert list(Event.objects.order_by("sequence").values_list("sequence", "event_name")) == [
        (1, "BatchGetImage"),
        (2, "BatchGetImage"),
    ]
    assert verify_output() == "audit chain intact: 2 events, sequence 1..2"


def test_stored_values_hash_the_same_after_the_database_round_trip():
    awkward = {
        "whole": 2.0,
        "big": 1e20,
        "small": 1.5e-7,
        "nan": float("nan"),
        "text": "nul\x00 and \ud800 surrogate",
        "nested": [{"imageDigest": "sha256:" + "b" * 64}],
        7: "int key",
    }
    [event] = record_events(1, request_parameters=awkward, user_agent="ua\x00" + "x" * 5000, repository="r" * 900)

    stored = Event.objects.get(pk=event.pk)
    assert chain.event_hash(stored) == stored.hash
    assert stored.request_parameters["whole"] == 2 and stored.request_parameters["nan"] == "nan"
    assert "\x00" not in stored.user_agent and len(stored.user_agent) == 1024
    assert len(stored.repository) == 256
    assert stored.image_digest == "sha256:" + "b" * 64


def test_verify_names_the_first_event_altered_by_a_raw_update():
    events = record_events(5)
    Event.objects.filter(sequence=3).update(source_ip="203.0.113.66")

    message = verify_failure()
    assert message == (
        f"audit chain broken at sequence 3 (event {events[2].event_id}): altered event: "
        "its stored fields no longer hash to its recorded hash"
    )


def test_verify_finds_an_altered_event_whose_hash_was_recomputed_by_its_broken_link():
    events = record_events(4)
    tampered = Event.objects.get(sequence=2)
    tampered.error_code = ""
    tampered.repository = "elsewhere"
    tampered.hash = chain.event_hash(tampered)
    tampered.save()

    assert verify_failure().startswith(f"audit chain broken at sequence 3 (event {events[2].event_id}): broken link")


def test_verify_walks_the_chain_a_chunk_at_a_time(monkeypatch):
    monkeypatch.setattr(chain, "VERIFY_CHUNK_SIZE", 3)
    events = record_events(10)
    assert verify_output() == "audit chain intact: 10 events, sequence 1..10"
    Event.objects.filter(sequence=8).update(event_name="DeleteRepository")
    assert verify_failure().startswith(f"audit chain broken at sequence 8 (event {events[7].event_id}): altered event")


def test_verify_finds_a_deleted_event():
    events = record_events(5)
    Event.objects.filter(sequence=2).delete()

    assert verify_failure().startswith(
        f"audit chain broken at sequence 3 (event {events[2].event_id}): missing events: expected sequence 2 next"
    )


def test_verify_finds_the_newest_events_deleted():
    record_events(5)
    Event.objects.filter(sequence__gte=4).delete()

    assert "missing events: the chain head records sequence 5, but the events stop at 3" in verify_failure()


def test_prune_removes_a_prefix_and_the_chain_still_verifies():
    now = timezone.now()
    old = record_events(7, event_time=now - timedelta(days=400))
    record_events(3, event_time=now - timedelta(days=1))

    removed = services.prune(older_than=now - timedelta(days=365), chunk_size=3)

    assert removed == 7
    assert list(Event.objects.order_by("sequence").values_list("sequence", flat=True)) == [8, 9, 10]
    prune = PruneRecord.objects.get()
    assert (prune.through_sequence, prune.last_removed_hash, prune.removed_count) == (7, old[-1].hash, 7)
    assert verify_output() == "audit chain intact: 3 events, sequence 8..10"
    record_events(1)
    assert verify_output() == "audit chain intact: 4 events, sequence 8..11"
    assert services.prune(older_than=now - timedelta(days=365)) == 0


def test_prune_keeps_everything_after_the_first_recent_event():
    now = timezone.now()
    record_events(2, event_time=now - timedelta(days=400))
    record_events(1, event_time=now)
    # recorded later, but about an older moment (a buffered event): kept, the chain stays a suffix
    record_events(1, event_time=now - timedelta(days=400))

    assert services.prune(older_than=now - timedelta(days=365)) == 2
    assert list(Event.objects.order_by("sequence").values_list("sequence", flat=True)) == [3, 4]
    assert verify_output() == "audit chain intact: 2 events, sequence 3..4"


def test_prune_of_every_event_leaves_a_chain_that_continues():
    record_events(3, event_time=timezone.now() - timedelta(days=2))
    assert services.prune(older_than=timezone.now()) == 3
    assert verify_output() == "audit chain intact: 0 events"
    [event] = record_events(1)
    assert event.sequence == 4
    assert verify_output() == "audit chain intact: 1 events, sequence 4..4"


def test_a_missing_head_row_is_rebuilt_from_the_last_event():
    events = record_events(2)
    ChainHead.objects.all().delete()

    [third] = record_events(1)

    assert (third.sequence, third.previous_hash) == (3, events[-1].hash)
    assert verify_output() == "audit chain intact: 3 events, sequence 1..3"


def test_the_prune_task_honours_the_retention_setting(settings):
    from apps.audit.tasks import prune_events

    record_events(2, event_time=timezone.now() - timedelta(days=40))
    settings.BERTH_AUDIT_RETENTION_DAYS = 0
    assert prune_events() == 0
    settings.BERTH_AUDIT_RETENTION_DAYS = 30
    assert prune_events() == 2


def test_the_admin_shows_events_and_changes_none(admin_client, settings):
    # the pages' assets without a collectstatic manifest
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    [event] = record_events(1, repository="team/admin-visible")

    listing = admin_client.get("/admin/audit/event/", {"q": "team/admin-visible"})
    assert listing.status_code == 200 and b"team/admin-visible" in listing.content
    assert admin_client.get(f"/admin/audit/event/{event.pk}/change/").status_code == 200
    assert admin_client.get("/admin/audit/event/add/").status_code == 403
    assert admin_client.post(f"/admin/audit/event/{event.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Event.objects.filter(pk=event.pk).exists()


def test_a_batch_goes_into_sqlite_in_statements_of_up_to_500_rows():
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("SQLite's multi-row INSERTs (PostgreSQL takes a batch with COPY)")
    connection.ensure_connection()
    statements = []
    connection.connection.set_trace_callback(statements.append)
    try:
        services.append_rows([EventRow.from_draft(make_draft()) for _ in range(1201)])
    finally:
        connection.connection.set_trace_callback(None)
    inserts = [statement for statement in statements if statement.startswith('INSERT INTO "audit_event"')]
    # Django's bulk_batch_size would allow 38 rows of 26 values (999 parameters)
    assert [statement.count("), (") + 1 for statement in inserts] == [500, 500, 201]
    assert Event.objects.count() == 1201 and chain.verify().intact
