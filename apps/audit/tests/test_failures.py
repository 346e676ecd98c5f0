"""Failed requests from outside an account: the first few per source, operation and
error code in each window are recorded one by one, the rest counted into one
aggregate event per window, so an outsider's loop cannot fill the account's trail
while its owner still sees that someone is probing, from where and how often."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import connection, connections
from django.utils import timezone

from apps.audit import chain, recorder, selectors, services
from apps.audit.events import AGGREGATE, ANONYMOUS_ACTOR, Actor
from apps.audit.models import Event, FailureWindow
from apps.audit.recorder import Recorder
from apps.audit.rows import EventRow
from apps.repositories import services as repository_services

from .conftest import make_draft, user_actor

LIMIT = 20
HOUR = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
OUTSIDER = "198.51.100.7"


@pytest.fixture
def limits(settings):
    settings.BERTH_AUDIT_FAILURES_PER_SOURCE = LIMIT
    settings.BERTH_AUDIT_FAILURE_WINDOW_SECONDS = 3600
    return settings


def refused(account_id: str, *, actor=ANONYMOUS_ACTOR, source_ip: str = OUTSIDER, when: datetime = HOUR, **fields):
    """A failed request's event (AccessDenied unless ``error_code`` says otherwise)."""
    fields = {"error_code": "AccessDenied", "error_message": "not authorized", **fields}
    return make_draft(account_id=account_id, actor=actor, source_ip=source_ip, event_time=when, **fields)


def write(drafts) -> int:
    """What the audit writer does with a batch of spooled events."""
    return recorder.recorder._write([EventRow.from_draft(draft) for draft in drafts])


def report(at: datetime) -> list[Event]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(timezone, "now", lambda: at)
        recorder.recorder.report_failures()
    return aggregates()


def aggregates(**filters) -> list[Event]:
    return [
        event for event in Event.objects.filter(**filters).order_by("sequence") if AGGREGATE in event.response_elements
    ]


def one_by_one(**filters) -> int:
    return sum(1 for event in Event.objects.filter(**filters) if AGGREGATE not in event.response_elements)


# -- over HTTP, through the spool ----------------------------------------------------------

REQUESTS = 10_000
SECOND_ADDRESS_REQUESTS = 30


@pytest.mark.django_db
def test_ten_thousand_refused_anonymous_requests_make_a_bounded_trail(tenant, registry_client, settings, tmp_path):
    settings.BERTH_AUDIT_SYNCHRONOUS = False
    settings.BERTH_AUDIT_WRITER = "process"
    settings.BERTH_AUDIT_SPOOL_DIR = tmp_path / "spool"
    settings.BERTH_AUDIT_SPOOL_WRITE_SECONDS = 3600
    settings.BERTH_AUDIT_FAILURES_PER_SOURCE = LIMIT
    # One window holds the whole test, however long it runs, wherever the hour turns.
    settings.BERTH_AUDIT_FAILURE_WINDOW_SECONDS = 1 << 32
    repository_services.create_repository(actor=Actor.system("test"), account=tenant.account, name="private/app")
    name = f"{tenant.id}/private/app"
    outsider = registry_client(None)
    token = outsider.token(f"repository:{name}:pull")  # anonymous: granted nothing
    path = f"/v2/{name}/manifests/latest"
    recorder.recorder.spool.close()  # a file of this test's spool directory from here on
    try:
        for address, count in (("192.0.2.66", REQUESTS), ("2001:db8:7:1::9", SECOND_ADDRESS_REQUESTS)):
            for _ in range(count):
                response = outsider.client.get(path, HTTP_AUTHORIZATION=f"Bearer {token}", REMOTE_ADDR=address)
                assert response.status_code == 401
        recorder.recorder.flush()
    finally:
        recorder.recorder.spool.close()

    # The refused requests' events (the repository's creation is an event of its own).
    trail = Event.objects.filter(recipient_account_id=tenant.id).exclude(event_name="CreateRepository")
    assert trail.count() == 2 * LIMIT  # the rest is counted, until the window is over
    end = FailureWindow.objects.get(source="192.0.2.66").window_end
    [first, second] = report(end + services.FAILURE_REPORT_DELAY)

    assert trail.count() == 2 * LIMIT + 2
    assert one_by_one(source_ip="192.0.2.66") == LIMIT
    assert one_by_one(source_ip="2001:db8:7:1::9") == LIMIT
    assert (first.source_ip, second.source_ip) == ("192.0.2.66", "2001:db8:7:1::/64")
    assert first.response_elements[AGGREGATE]["count"] == REQUESTS - LIMIT
    assert second.response_elements[AGGREGATE]["count"] == SECOND_ADDRESS_REQUESTS - LIMIT
    assert (first.event_name, first.error_code, first.actor_type) == ("BatchGetImage", "AccessDenied", "Anonymous")
    assert (first.recipient_account_id, first.repository) == (tenant.id, "private/app")
    assert first.response_elements[AGGREGATE]["recordedOneByOne"] == LIMIT
    assert second.response_elements[AGGREGATE]["sourceIPAddresses"] == ["2001:db8:7:1::9"]
    call_command("verify_audit_chain")  # raises CommandError (exit 1) on a broken chain
    assert chain.verify().count == Event.objects.count()


# -- the windows -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_each_source_operation_and_error_is_counted_apart(tenant, limits):
    batch = [refused(tenant.id, when=HOUR + timedelta(seconds=n)) for n in range(50)]
    batch += [refused(tenant.id, source_ip="203.0.113.5", when=HOUR + timedelta(seconds=n)) for n in range(30)]
    batch += [refused(tenant.id, event_name="GetDownloadUrlForLayer") for _ in range(25)]
    batch += [refused(tenant.id, error_code="MANIFEST_UNKNOWN") for _ in range(25)]

    assert write(batch) == 4 * LIMIT

    aggregated = report(HOUR + timedelta(hours=1, minutes=1))
    counts = {
        (event.source_ip, event.event_name, event.error_code): event.response_elements[AGGREGATE]["count"]
        for event in aggregated
    }
    assert counts == {
        (OUTSIDER, "BatchGetImage", "AccessDenied"): 30,
        ("203.0.113.5", "BatchGetImage", "AccessDenied"): 10,
        (OUTSIDER, "GetDownloadUrlForLayer", "AccessDenied"): 5,
        (OUTSIDER, "BatchGetImage", "MANIFEST_UNKNOWN"): 5,
    }
    [first] = [
        event
        for event in aggregated
        if event.source_ip == OUTSIDER and event.event_name == "BatchGetImage" and event.error_code == "AccessDenied"
    ]
    details = first.response_elements[AGGREGATE]
    assert (details["firstEventTime"], details["lastEventTime"]) == (
        "2026-05-04T10:00:20.000000Z",
        "2026-05-04T10:00:49.000000Z",
    )
    assert (details["windowStart"], details["windowEnd"]) == (
        "2026-05-04T10:00:00.000000Z",
        "2026-05-04T11:00:00.000000Z",
    )
    assert first.event_time == HOUR + timedelta(seconds=49)
    assert chain.verify().intact


@pytest.mark.django_db
def test_a_window_reports_once_it_is_over_and_the_next_starts_over(tenant, limits):
    write([refused(tenant.id, when=HOUR + timedelta(minutes=n)) for n in range(60)])
    write([refused(tenant.id, when=HOUR + timedelta(hours=1, minutes=n)) for n in range(30)])
    assert one_by_one() == 2 * LIMIT

    assert report(HOUR + timedelta(minutes=59)) == []  # not over yet
    [first] = report(HOUR + timedelta(hours=1) + services.FAILURE_REPORT_DELAY)
    assert first.response_elements[AGGREGATE]["count"] == 40
    [_, second] = report(HOUR + timedelta(hours=2) + services.FAILURE_REPORT_DELAY)
    assert second.response_elements[AGGREGATE]["count"] == 10
    assert report(HOUR + timedelta(hours=3)) == [first, second]  # nothing more to report


@pytest.mark.django_db
def test_a_late_failure_is_counted_and_reported_by_a_further_aggregate(tenant, limits):
    write([refused(tenant.id, when=HOUR + timedelta(minutes=n)) for n in range(LIMIT + 5)])
    [first] = report(HOUR + timedelta(hours=2))
    write([refused(tenant.id, when=HOUR + timedelta(minutes=59))])  # a spool ingested late

    [_, late] = report(HOUR + timedelta(hours=2, seconds=1))

    assert (first.response_elements[AGGREGATE]["count"], late.response_elements[AGGREGATE]["count"]) == (5, 1)
    assert one_by_one() == LIMIT
    window = FailureWindow.objects.get()
    assert (window.recorded, window.counted, window.reported) == (LIMIT, 6, 6)


@pytest.mark.django_db
def test_no_failures_one_by_one_counts_them_all(tenant, limits):
    limits.BERTH_AUDIT_FAILURES_PER_SOURCE = 0
    assert write([refused(tenant.id) for _ in range(7)]) == 0
    [aggregate] = report(HOUR + timedelta(hours=2))
    assert aggregate.response_elements[AGGREGATE]["count"] == 7


# -- whose failures ------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_accounts_own_principals_stay_one_by_one(tenant, limits):
    ci = user_actor(tenant.id, "ci")
    assert write([refused(tenant.id, actor=ci) for _ in range(3 * LIMIT)]) == 3 * LIMIT
    # and its own failures that concern no account (an AssumeRole refused), too
    assert write([refused("", actor=ci, event_name="AssumeRole") for _ in range(3 * LIMIT)]) == 3 * LIMIT
    assert not FailureWindow.objects.exists()


@pytest.mark.django_db
def test_anonymous_failures_that_concern_no_account_are_counted_too(limits):
    assert write([refused("", event_name="DescribeRepositories") for _ in range(LIMIT + 3)]) == LIMIT
    [aggregate] = report(HOUR + timedelta(hours=2))
    assert aggregate.response_elements[AGGREGATE]["count"] == 3


@pytest.mark.django_db
def test_another_accounts_principals_are_counted_per_account_and_seen_by_it(tenant, make_tenant, limits):
    mallory, trudy = make_tenant("mallory"), make_tenant("trudy")
    batch = [
        refused(tenant.id, actor=user_actor(mallory.id, f"probe{n % 3}"), repository=f"guess{n % 12}")
        for n in range(LIMIT + 40)
    ]
    batch += [refused(tenant.id, actor=user_actor(trudy.id, "scan")) for _ in range(LIMIT + 1)]
    assert write(batch) == 2 * LIMIT

    report(HOUR + timedelta(hours=2))
    [of_mallory] = aggregates(actor_account_id=mallory.id)
    [of_trudy] = aggregates(actor_account_id=trudy.id)
    details = of_mallory.response_elements[AGGREGATE]
    assert details["count"] == 40
    assert details["principals"] == [f"arn:berth:iam::{mallory.id}:user/probe{n}" for n in (2, 0, 1)]
    assert len(details["repositories"]) == services.DETAIL_VALUES_KEPT  # of the 12 guessed, the first ten
    assert of_mallory.repository == ""  # more than one
    assert of_trudy.response_elements[AGGREGATE]["count"] == 1 and of_trudy.repository == "team/app"
    # each account sees its own callers' aggregate; the target sees both
    assert set(selectors.visible_events(mallory.account.pk).filter(pk__in=[of_mallory.pk, of_trudy.pk])) == {of_mallory}
    assert set(selectors.visible_events(trudy.account.pk).filter(pk__in=[of_mallory.pk, of_trudy.pk])) == {of_trudy}
    assert set(selectors.visible_events(tenant.account.pk).filter(pk__in=[of_mallory.pk, of_trudy.pk])) == {
        of_mallory,
        of_trudy,
    }


@pytest.mark.django_db
def test_an_ipv6_caller_is_counted_by_its_64(tenant, limits):
    write([refused(tenant.id, source_ip=f"2001:db8:1:2::{n:x}") for n in range(1, LIMIT + 15)])
    write([refused(tenant.id, source_ip="2001:db8:1:3::1") for _ in range(2)])  # another /64
    [aggregate] = report(HOUR + timedelta(hours=2))
    assert aggregate.source_ip == "2001:db8:1:2::/64"
    assert aggregate.response_elements[AGGREGATE]["count"] == 14
    assert aggregate.response_elements[AGGREGATE]["sourceIPAddresses"] == [
        f"2001:db8:1:2::{n:x}" for n in range(LIMIT + 1, LIMIT + 1 + services.DETAIL_VALUES_KEPT)
    ]
    assert one_by_one(source_ip="2001:db8:1:3::1") == 2


# -- what it costs and where it shows -------------------------------------------------------


@pytest.mark.django_db
def test_a_batch_without_outsiders_failures_costs_no_query(tenant, django_assert_num_queries):
    rows = [EventRow.from_draft(make_draft(account_id=tenant.id)) for _ in range(100)]
    rows.append(EventRow.from_draft(refused(tenant.id, actor=user_actor(tenant.id, "ci"))))
    with django_assert_num_queries(0):
        assert services.tally_failures(rows) is rows


@pytest.mark.django_db
def test_an_aggregate_shows_in_lookup_events_and_by_the_address_of_its_64(tenant, api_client, limits, settings):
    write([refused(tenant.id, source_ip="2001:db8:9:9::1") for _ in range(LIMIT + 2)])
    report(HOUR + timedelta(hours=2))

    page = api_client(tenant).get("/api/v1/audit/events", {"source_ip": "2001:db8:9:9::1"}).json()
    [aggregate, *individual] = page["events"]
    assert len(individual) == LIMIT and {record["eventType"] for record in individual} == {"AwsApiCall"}
    assert aggregate["eventType"] == "BerthAggregate"
    assert aggregate["responseElements"][AGGREGATE]["count"] == 2
    assert aggregate["sourceIPAddress"] == "2001:db8:9:9::/64"
    assert aggregate["userIdentity"]["type"] == "Anonymous"
    assert aggregate["errorCode"] == "AccessDenied"
    assert aggregate["errorMessage"].startswith("2 more BatchGetImage requests from 2001:db8:9:9::/64 failed")


@pytest.mark.django_db
def test_reported_windows_are_forgotten_a_day_after_they_end(tenant, limits):
    write([refused(tenant.id) for _ in range(LIMIT + 1)])
    write([refused(tenant.id, when=HOUR + timedelta(days=3))])
    report(HOUR + timedelta(hours=2))

    assert services.prune_failure_windows(ended_before=HOUR + timedelta(hours=1) + services.FAILURE_WINDOW_KEPT) == 1
    assert FailureWindow.objects.get().window_start == HOUR + timedelta(days=3)


@pytest.mark.django_db
def test_an_idle_pass_opens_no_transaction(django_assert_num_queries):
    with django_assert_num_queries(1):  # the look for windows that are due
        assert Recorder().report_failures() == 0


# -- two audit writers ------------------------------------------------------------------------

WRITERS = 4
BATCHES = 10
BATCH = 30


@pytest.mark.django_db(transaction=True)
def test_audit_writers_counting_one_source_at_once_count_it_exactly(tenant, limits):
    """Hosts sharing the database, a load balancer spreading one outsider's requests
    over them: their audit writers tally the same windows at once."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks between concurrent transactions: SQLite has one writer at a time")
    start = threading.Barrier(WRITERS)
    failures: list[BaseException] = []

    def writer(number: int) -> None:
        try:
            start.wait()
            for batch in range(BATCHES):
                # each batch touches both addresses, in either order
                addresses = ("192.0.2.1", "192.0.2.2") if (number + batch) % 2 else ("192.0.2.2", "192.0.2.1")
                write(
                    [refused(tenant.id, source_ip=addresses[n % 2], request_parameters={"n": n}) for n in range(BATCH)]
                )
        except BaseException as exc:  # reported by the test's thread
            failures.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(number,)) for number in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert not failures, failures
    aggregated = report(HOUR + timedelta(hours=2))
    per_address = WRITERS * BATCHES * BATCH // 2
    for address in ("192.0.2.1", "192.0.2.2"):
        assert one_by_one(source_ip=address) == LIMIT
        [aggregate] = [event for event in aggregated if event.source_ip == address]
        assert aggregate.response_elements[AGGREGATE]["count"] == per_address - LIMIT
    assert chain.verify().intact
