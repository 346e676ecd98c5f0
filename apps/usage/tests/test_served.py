"""Bytes served: real blob and manifest GETs counted in memory
(apps.registry.traffic), published as blobs.served and added once per batch."""

from __future__ import annotations

import time
import uuid

import pytest
from django.db import DatabaseError
from django.utils import timezone

from apps.audit.events import Actor
from apps.events.models import DomainEvent
from apps.events.names import BLOBS_SERVED
from apps.registry import traffic
from apps.repositories import services as repository_services
from apps.usage import services, subscribers
from apps.usage.models import ServedBytes

from .conftest import OCI_MANIFEST, config_of, digest_of, push

pytestmark = pytest.mark.django_db

LAYER = b"L" * 10_000


@pytest.fixture
def public_site(tenant, registry_client):
    """tenant's public `site`: a 10,000-byte layer; returns its manifest's bytes."""
    repository_services.create_repository(
        actor=Actor.system("test"), account=tenant.account, name="site", visibility="public"
    )
    return push(registry_client(tenant), f"{tenant.id}/site", "v1", config_of("site"), [LAYER])


def _pull(client, name: str, manifest: bytes, *, headers: dict | None = None) -> None:
    token = client.token(f"repository:{name}:pull")
    response = client.request("GET", f"/v2/{name}/manifests/v1", token=token, headers={"Accept": OCI_MANIFEST})
    assert response.status_code == 200 and response.content == manifest
    response = client.request("GET", f"/v2/{name}/blobs/{digest_of(LAYER)}", token=token, headers=headers)
    assert response.status_code in (200, 206)
    b"".join(response.streaming_content)


def _rows(tenant) -> dict[bool, tuple[int, int]]:
    return {
        row.anonymous: (row.bytes, row.requests)
        for row in ServedBytes.objects.filter(account_id=tenant.id, repository="site")
    }


def test_anonymous_and_signed_in_pulls_are_counted_apart(tenant, registry_client, public_site, committed):
    _pull(registry_client(None), f"{tenant.alias}/site", public_site)
    _pull(registry_client(None), f"{tenant.alias}/site", public_site)
    _pull(registry_client(tenant), f"{tenant.id}/site", public_site, headers={"Range": "bytes=100-1099"})
    with committed():
        assert traffic.flush() == 2
    assert _rows(tenant) == {
        True: (2 * (len(public_site) + len(LAYER)), 4),
        False: (len(public_site) + 1000, 2),  # the range's length, not the blob's
    }
    row = ServedBytes.objects.get(account_id=tenant.id, anonymous=True)
    assert row.day == timezone.now().date()
    assert traffic.pending() == {}


def test_a_head_request_serves_no_bytes(tenant, registry_client, public_site):
    client = registry_client(tenant)
    token = client.token(f"repository:{tenant.id}/site:pull")
    assert client.request("HEAD", f"/v2/{tenant.id}/site/manifests/v1", token=token).status_code == 200
    assert client.request("HEAD", f"/v2/{tenant.id}/site/blobs/{digest_of(LAYER)}", token=token).status_code == 200
    assert traffic.pending() == {}


def test_a_redirect_to_the_store_counts_the_whole_blob(tenant, registry_client, public_site, monkeypatch):
    from apps.registry.storage import get_blob_store

    store = get_blob_store()
    monkeypatch.setattr(
        type(store), "redirect_url", lambda self, digest, encryption=None: f"https://s3.example/{digest}"
    )
    client = registry_client(None)
    name = f"{tenant.alias}/site"
    response = client.request(
        "GET", f"/v2/{name}/blobs/{digest_of(LAYER)}", token=client.token(f"repository:{name}:pull")
    )
    assert response.status_code == 307
    (tally,) = traffic.pending().values()
    assert tally[:2] == [len(LAYER), 1]


def test_a_get_past_the_interval_flushes_by_itself(tenant, registry_client, public_site, committed, monkeypatch):
    _pull(registry_client(None), f"{tenant.alias}/site", public_site)
    assert not ServedBytes.objects.exists()
    monkeypatch.setattr(traffic, "_due", time.time() - 1)
    with committed():
        _pull(registry_client(None), f"{tenant.alias}/site", public_site)
    # The second pull's manifest GET published what was counted, itself included; its blob GET waits.
    assert _rows(tenant) == {True: (2 * len(public_site) + len(LAYER), 3)}
    assert [tally[:2] for tally in traffic.pending().values()] == [[len(LAYER), 1]]


def test_a_redelivered_batch_is_not_counted_twice(tenant, registry_client, public_site):
    _pull(registry_client(None), f"{tenant.alias}/site", public_site)
    traffic.flush()  # published in the test's transaction, which never commits: not delivered
    event = DomainEvent.objects.get(name=BLOBS_SERVED)
    subscribers.add_served_bytes(event)
    subscribers.add_served_bytes(event)
    assert _rows(tenant) == {True: (len(public_site) + len(LAYER), 2)}
    # A new batch of the same counts is new traffic.
    services.add_served_bytes(batch_id=str(uuid.uuid4()), served=event.payload["served"])
    assert _rows(tenant) == {True: (2 * (len(public_site) + len(LAYER)), 4)}


def test_a_flush_the_database_refuses_keeps_its_tallies(tenant, registry_client, public_site, monkeypatch):
    _pull(registry_client(None), f"{tenant.alias}/site", public_site)
    counted = traffic.pending()

    def refuse(tallies):
        raise DatabaseError("database is locked")

    monkeypatch.setattr(traffic, "_publish", refuse)
    assert traffic.flush() == 0
    assert traffic.pending() == counted
    monkeypatch.undo()
    assert traffic.flush() == 1
    assert traffic.pending() == {}


def test_tallies_of_many_repositories_go_in_events_of_at_most_a_thousand(tenant, monkeypatch):
    monkeypatch.setattr(traffic, "EVENT_TALLIES", 2)

    class Repo:
        def __init__(self, pk):
            self.pk, self.account_id, self.name = pk, tenant.id, f"r{pk}"

    for pk in range(5):
        traffic.served(Repo(pk), anonymous=False, size=10)
    assert traffic.flush() == 5
    events = DomainEvent.objects.filter(name=BLOBS_SERVED)
    assert sorted(len(event.payload["served"]) for event in events) == [1, 2, 2]
    assert len({event.payload["batchId"] for event in events}) == 3
    assert {row["day"] for event in events for row in event.payload["served"]} == {timezone.now().date().isoformat()}
