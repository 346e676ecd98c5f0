"""The console's audit trail: the account's events newest first, page by page, the
filters, one event's record and place in the chain, the chain's verification
(queued by "Verify now"), another account's events never shown, the permission,
and the query budget."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from apps.audit import services as audit_services
from apps.audit import verification
from apps.audit.events import Actor, ActorType, EventDraft
from apps.audit.models import Event
from apps.iam import services as iam_services

pytestmark = pytest.mark.django_db

START = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def within_budget(within_budget, settings):
    """The page's queries as in production, where a read's audit event is spooled
    (no query); the tests write it synchronously (see test_webhook_pages)."""

    def get(client, url: str, **kwargs):
        settings.BERTH_AUDIT_READ_EVENTS = False
        try:
            return within_budget(client, url, **kwargs)
        finally:
            settings.BERTH_AUDIT_READ_EVENTS = True

    return get


def user_actor(tenant, name: str = "ci") -> Actor:
    return Actor(
        type=ActorType.IAM_USER,
        arn=f"arn:berth:iam::{tenant.id}:user/{name}",
        account_id=tenant.id,
        username=name,
        access_key_id=f"BKIA{name.upper():0<16}",
    )


def draft(tenant, n: int, **fields) -> EventDraft:
    values = {
        "event_name": "PutImage",
        "event_source": "ecr",
        "actor": user_actor(tenant),
        "source_ip": "203.0.113.7",
        "user_agent": "docker/27",
        "request_id": f"req-{n}",
        "read_only": False,
        "recipient_account_id": tenant.id,
        "repository": "team/app",
        "request_parameters": {"repositoryName": "team/app", "imageTag": f"v{n}"},
        "event_time": START + timedelta(minutes=n),
    }
    values.update(fields)
    return EventDraft(**values)


def record(drafts) -> list[Event]:
    return audit_services.record_many(list(drafts))


def text(response) -> str:
    return response.content.decode()


def shown_ids(page: str) -> list[str]:
    return re.findall(r'<tr data-event="([0-9a-f-]+)"', page)


@pytest.fixture
def trail(tenant, other_tenant):
    """70 events of the tenant (writes, pulls, a refusal, a staff user's, a role's)
    and some of another account's, interleaved on the one chain."""
    events = []
    for n in range(70):
        if n % 10 == 3:
            events.append(
                draft(tenant, n, event_name="BatchGetImage", read_only=True, actor=user_actor(tenant, "puller"))
            )
        elif n % 10 == 7:
            events.append(
                draft(
                    tenant,
                    n,
                    event_name="DeleteRepository",
                    error_code="RepositoryNotEmptyException",
                    repository="team/db",
                )
            )
        else:
            events.append(draft(tenant, n))
        events.append(
            draft(
                other_tenant, n, event_name="SecretThing", repository="their/app", actor=user_actor(other_tenant, "eve")
            )
        )
    return record(events)


# --- the list -------------------------------------------------------------------------


def test_the_first_page_shows_the_newest_events_within_budget(root_client, tenant, trail, within_budget):
    page = text(within_budget(root_client, "/console/audit"))
    mine = sorted((e for e in trail if e.recipient_account_id == tenant.id), key=lambda e: e.event_time, reverse=True)
    assert shown_ids(page) == [str(e.event_id) for e in mine[:50]]
    assert "SecretThing" not in page and "their/app" not in page
    assert "RepositoryNotEmptyException" in page and "203.0.113.7" in page and "team/app" in page
    assert page.count('class="chain-ok"') == 50  # each row's hash recomputed and linked
    assert 'id="older-page"' in page


def test_the_older_page_continues_where_the_first_ended(root_client, tenant, trail, within_budget):
    first = text(root_client.get("/console/audit?event_name=PutImage"))
    older = re.search(r'href="(/console/audit\?[^"]+)" id="older-page"', first).group(1).replace("&amp;", "&")
    assert "event_name=PutImage" in older
    second = text(within_budget(root_client, older))
    puts = [e for e in trail if e.recipient_account_id == tenant.id and e.event_name == "PutImage"]
    assert len(shown_ids(first)) + len(shown_ids(second)) == len(puts) == 56
    assert not set(shown_ids(first)) & set(shown_ids(second))
    assert 'id="newest-page"' in second and 'id="older-page"' not in second


def test_a_token_from_another_listing_is_a_readable_error(root_client, trail):
    first = text(root_client.get("/console/audit"))
    token = re.search(r"next=([^&\"]+)", first).group(1)
    response = root_client.get(f"/console/audit?next={token}&repository=team/db")
    assert response.status_code == 400 and "start again from the newest events" in text(response)
    assert root_client.get("/console/audit?next=forged").status_code == 400


@pytest.mark.parametrize(
    "query, expected",
    [
        ("event_name=DeleteRepository", {"DeleteRepository"}),
        ("principal=puller", {"BatchGetImage"}),
        ("repository=team/db", {"DeleteRepository"}),
        ("kind=reads", {"BatchGetImage"}),
        ("kind=writes", {"PutImage", "DeleteRepository"}),
        ("errors=on", {"DeleteRepository"}),
        ("errors=on&kind=reads", set()),
    ],
)
def test_filters(root_client, trail, within_budget, query, expected):
    page = text(within_budget(root_client, f"/console/audit?{query}"))
    names = set(re.findall(r'<strong class="event-name">([A-Za-z]+)</strong>', page))
    assert names == expected
    if not expected:
        assert 'id="no-events"' in page and "No event matches" in page


def test_the_principal_filter_takes_an_arn_and_an_access_key(root_client, tenant, trail):
    for principal in (f"arn:berth:iam::{tenant.id}:user/puller", "BKIAPULLER0000000000"[:20]):
        page = text(root_client.get("/console/audit", {"principal": principal}))
        assert set(re.findall(r'<strong class="event-name">([A-Za-z]+)</strong>', page)) <= {"BatchGetImage"}
    page = text(root_client.get("/console/audit", {"principal": f"arn:berth:iam::{tenant.id}:user/puller"}))
    assert len(shown_ids(page)) == 7


def test_a_time_range(root_client, tenant, trail):
    page = text(root_client.get("/console/audit", {"start": "2026-11-01T12:10", "end": "2026-11-01T12:14"}))
    times = re.findall(r'<time datetime="2026-11-01T12:(\d\d):00\+00:00">', page)
    assert sorted(set(times)) == ["10", "11", "12", "13", "14"]


def test_a_range_ending_before_it_starts_is_a_form_error(root_client, trail):
    response = root_client.get("/console/audit", {"start": "2026-11-02T00:00", "end": "2026-11-01T00:00"})
    assert response.status_code == 400 and "before its start" in text(response)
    response = root_client.get("/console/audit", {"start": "yesterday"})
    assert response.status_code == 400 and "Enter a valid date/time" in text(response)


def test_an_empty_trail(root_client, within_budget):
    page = text(within_budget(root_client, "/console/audit"))
    assert 'id="no-events"' in page and "Not verified yet" in page and 'id="verify-form"' in page


def test_an_iam_user_without_permission_is_refused(client, tenant, trail, within_budget):
    user = iam_services.create_user(account=tenant.account, username="intern", actor=Actor.system("test"))
    client.force_login(user)
    for url in ("/console/audit", f"/console/audit/{trail[0].event_id}"):
        page = text(within_budget(client, url, status=403))
        assert "cloudtrail:LookupEvents" in page
    assert client.post("/console/audit/verify").status_code == 403


def test_reading_the_trail_is_itself_a_lookup_events_event(root_client, tenant):
    root_client.get("/console/audit")
    [event] = Event.objects.filter(event_name="LookupEvents")
    assert event.event_source == "cloudtrail" and event.read_only and event.actor_account_id == tenant.id


# --- one event ------------------------------------------------------------------------


def test_an_event_shows_its_record_and_place_in_the_chain_within_budget(root_client, tenant, trail, within_budget):
    event = next(e for e in trail if e.event_name == "DeleteRepository")
    page = text(within_budget(root_client, f"/console/audit/{event.event_id}"))
    record = json.loads(
        re.search(r'<pre class="json-block" id="event-record">(.*?)</pre>', page, re.S)
        .group(1)
        .replace("&quot;", '"')
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
    )
    assert record["eventID"] == str(event.event_id) and record["errorCode"] == "RepositoryNotEmptyException"
    assert record["berth:sequence"] == event.sequence and record["berth:hash"] == event.hash
    assert record["userIdentity"]["userName"] == "ci"
    assert event.hash in page and event.previous_hash in page
    for check in ("hash-check", "link-check", "next-check"):
        assert re.search(rf'id="{check}"><span class="badge badge--public">Holds', page), check


def test_an_altered_event_shows_as_altered(root_client, tenant, trail):
    event = next(e for e in trail if e.recipient_account_id == tenant.id)
    Event.objects.filter(pk=event.pk).update(source_ip="198.51.100.1")  # tampering behind the chain's back
    page = text(root_client.get(f"/console/audit/{event.event_id}"))
    assert 'id="hash-check"><span class="badge badge--danger">Altered' in page
    listing = text(root_client.get("/console/audit?start=2026-11-01T12:00&end=2026-11-01T12:00"))
    assert "altered" in listing


def test_another_accounts_event_is_never_found(root_client, other_tenant, trail):
    theirs = next(e for e in trail if e.recipient_account_id == other_tenant.id)
    assert root_client.get(f"/console/audit/{theirs.event_id}").status_code == 404
    assert root_client.get("/console/audit/not-an-id").status_code == 404


def test_an_event_the_accounts_principal_caused_elsewhere_is_shown(root_client, tenant, other_tenant):
    [elsewhere] = record([draft(other_tenant, 1, actor=user_actor(tenant, "ci"), event_name="BatchGetImage")])
    assert root_client.get(f"/console/audit/{elsewhere.event_id}").status_code == 200
    assert str(elsewhere.event_id) in text(root_client.get("/console/audit"))


# --- verification -------------------------------------------------------------------------


def test_verify_now_walks_the_chain_and_the_page_shows_the_result(root_client, trail, within_budget, committed):
    with committed():  # the task is queued after the commit (and runs at once: Celery is eager in the tests)
        response = root_client.post("/console/audit/verify")
    assert response.status_code == 302 and response["Location"] == "/console/audit#chain"
    report = verification.latest()
    assert report["intact"] and report["count"] >= len(trail)
    page = text(within_budget(root_client, "/console/audit"))
    assert "Intact" in page and f"{report['count']} events" in page and 'id="verify-form"' in page


def test_a_broken_chain_is_told_with_detail_only_for_the_accounts_own_event(
    root_client, tenant, other_tenant, trail, committed
):
    theirs = next(e for e in trail if e.recipient_account_id == other_tenant.id)
    Event.objects.filter(pk=theirs.pk).update(repository="tampered")
    with committed():
        root_client.post("/console/audit/verify")
    page = text(root_client.get("/console/audit"))
    assert "Broken" in page and f"sequence {theirs.sequence}" in page
    assert "not one of your account's events" in page and str(theirs.event_id) not in page
    Event.objects.filter(pk=theirs.pk).update(repository="their/app")
    mine = next(e for e in trail if e.recipient_account_id == tenant.id)
    Event.objects.filter(pk=mine.pk).update(repository="tampered")
    with committed():
        root_client.post("/console/audit/verify")
    page = text(root_client.get("/console/audit"))
    assert f'href="/console/audit/{mine.event_id}">an event of your account' in page
    assert "altered event" in page


def test_one_verification_at_a_time(root_client, trail, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False  # queued, not run: it stays pending
    assert verification.request_verification()
    response = root_client.post("/console/audit/verify")
    assert response.status_code == 302
    page = text(root_client.get("/console/audit"))
    assert 'id="chain-pending"' in page and 'id="verify-form"' not in page
    assert "already under way" in page
