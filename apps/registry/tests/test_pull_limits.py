"""Pull limits (apps.registry.limits): the bucket on both backends, and the 429
envelope with its headers through /v2/."""

from __future__ import annotations

import os
import time
import uuid

import pytest
import redis

from apps.audit.events import Actor
from apps.audit.models import Event
from apps.iam.callers import Caller
from apps.registry import limits
from apps.repositories.services import create_repository

from .test_v2_api import MODERN

REDIS_URL = os.environ.get("REDIS_URL", "")


def _forget_buckets() -> None:
    for backend in limits._backends.values():
        if isinstance(backend, limits.RedisBuckets):
            backend.close()
    limits._backends.clear()
    if REDIS_URL:
        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(match=limits.REDIS_KEY_PREFIX + "*"):
            client.delete(key)


@pytest.fixture(autouse=True)
def _fresh_buckets():
    _forget_buckets()
    yield
    _forget_buckets()


def _memory() -> limits.MemoryBuckets:
    return limits.MemoryBuckets()


def _redis() -> limits.RedisBuckets:
    if not REDIS_URL:
        if os.environ.get("BERTH_TEST_POSTGRES_PASS"):
            pytest.skip("needs REDIS_URL: the PostgreSQL + Redis pass of scripts/test runs it")
        if os.environ.get("CI"):
            pytest.fail("CI runs the Redis backend's tests: set REDIS_URL")
        pytest.skip("needs REDIS_URL")
    return limits.RedisBuckets(REDIS_URL)


@pytest.fixture(params=["memory", "redis"])
def buckets(request):
    if request.param == "memory":
        yield _memory()
        return
    backend = _redis()
    yield backend
    backend.close()


def _key() -> str:
    return f"test:{uuid.uuid4().hex}"


def test_burst_then_refused_with_the_time_to_wait(buckets):
    limit = limits.limit_of(1, 3)
    key = _key()
    taken = [buckets.take(key, limit) for _ in range(4)]
    assert [quota.allowed for quota in taken] == [True, True, True, False]
    assert [quota.remaining for quota in taken] == [2, 1, 0, 0]
    assert all(quota.limit == 3 for quota in taken)
    refused = taken[3]
    assert 0.9 < refused.retry_after <= 1.0
    assert 2.9 < refused.reset <= 3.0
    assert refused.headers() == {
        "RateLimit-Limit": "3",
        "RateLimit-Remaining": "0",
        "RateLimit-Reset": "3",
        "Retry-After": "1",
    }
    assert "Retry-After" not in taken[0].headers()


def test_refills_at_the_rate(buckets):
    limit = limits.limit_of(20, 2)  # a request every 50 ms
    key = _key()
    assert [buckets.take(key, limit).allowed for _ in range(3)] == [True, True, False]
    time.sleep(0.06)
    assert buckets.take(key, limit).allowed
    assert not buckets.take(key, limit).allowed


def test_keys_are_separate(buckets):
    limit = limits.limit_of(1, 1)
    first, second = _key(), _key()
    assert buckets.take(first, limit).allowed
    assert not buckets.take(first, limit).allowed
    assert buckets.take(second, limit).allowed


def test_processes_share_buckets_in_redis():
    """Two processes' views of one bucket: what one counted reaches the other at the next sync."""
    first, second = _redis(), _redis()
    try:
        limit = limits.limit_of(0.5, 3)
        key = _key()
        assert [first.take(key, limit).allowed for _ in range(3)] == [True, True, True]
        first.sync()
        refused = second.take(key, limit)  # its first sight of the bucket reads Redis
        assert not refused.allowed and 1.5 < refused.retry_after <= 2.0
        assert second.take(_key(), limit).allowed
        # And back: a pull the second counted is one the first sees after both sync.
        other = _key()
        assert first.take(other, limit).allowed
        assert second.take(other, limit).allowed
        second.sync()
        first.sync()
        quota = first.take(other, limit)
        assert quota.allowed and quota.remaining == 0
    finally:
        first.close()
        second.close()


def test_refusals_do_not_consume():
    """A refused request leaves the bucket as it was: hammering does not push the next allowed request further out."""
    limit = limits.limit_of(1, 1)
    quota, tat = limits._decide(None, 0, limit)
    assert quota.allowed and tat == 1_000_000
    for now in (1, 500_000, 999_999):
        quota, stored = limits._decide(tat, now, limit)
        assert not quota.allowed and stored is None
    quota, _ = limits._decide(tat, 1_000_000, limit)
    assert quota.allowed


def test_full_after_idle():
    limit = limits.limit_of(2, 4)
    tat = None
    for now in range(4):
        _, tat = limits._decide(tat, now, limit)
    quota, _ = limits._decide(tat, 10_000_000, limit)  # 10 s later: full again
    assert quota.allowed and quota.remaining == 3


def test_redis_failure_lets_pulls_through_and_warns_once(caplog):
    backend = limits.RedisBuckets("redis://127.0.0.1:1/0")  # nothing listens on port 1
    backend.close()
    limit = limits.limit_of(1, 1)
    with caplog.at_level("WARNING", logger="apps.registry.limits"):
        assert backend.take(_key(), limit) is None
        backend._skip_until = 0  # as if the pause after a failure were over
        assert backend.take(_key(), limit) is None
    assert len([r for r in caplog.records if "Redis failed" in r.getMessage()]) == 1


def _anonymous() -> Caller:
    return Caller()


def test_anonymous_by_address_signed_in_by_principal(settings, tenant):
    settings.BERTH_PULL_RATE_ANONYMOUS, settings.BERTH_PULL_BURST_ANONYMOUS = 1, 1
    settings.BERTH_PULL_RATE_AUTHENTICATED, settings.BERTH_PULL_BURST_AUTHENTICATED = 1, 2
    anonymous = _anonymous()
    assert limits.take(anonymous, "192.0.2.1").allowed
    assert not limits.take(anonymous, "192.0.2.1").allowed
    assert limits.take(anonymous, "192.0.2.2").allowed
    # One IPv6 subscriber's /64 is one address.
    assert limits.take(anonymous, "2001:db8::1").allowed
    assert not limits.take(anonymous, "2001:db8::2").allowed
    alice = Caller(account_id=tenant.id, username=tenant.username, is_root=True)
    other = Caller(account_id=tenant.id, username="bob", user_id=12345)
    # A principal's pulls count wherever they come from, and apart from anonymous ones.
    assert [limits.take(alice, ip).allowed for ip in ("192.0.2.1", "192.0.2.9", "192.0.2.1")] == [True, True, False]
    assert limits.take(other, "192.0.2.1").allowed


def test_zero_disables(settings, tenant):
    settings.BERTH_PULL_RATE_ANONYMOUS, settings.BERTH_PULL_BURST_ANONYMOUS = 0, 1
    settings.BERTH_PULL_RATE_AUTHENTICATED, settings.BERTH_PULL_BURST_AUTHENTICATED = 1, 0
    assert all(limits.take(_anonymous(), "192.0.2.1") is None for _ in range(5))
    alice = Caller(account_id=tenant.id, username=tenant.username, is_root=True)
    assert limits.take(alice, "192.0.2.1") is None


# -- through /v2/ ---------------------------------------------------------------------


@pytest.fixture
def public_image(tenant, alice):
    create_repository(actor=Actor.system("test"), account=tenant.account, name="tools/cli", visibility="public")
    digest, manifest = alice.push_image(f"{tenant.id}/tools/cli", "1.0")
    return f"{tenant.alias}/tools/cli", digest, manifest


def _pull(client, path: str, token: str, address: str, method: str = "GET"):
    return client.client.generic(
        method, path, HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_ACCEPT=MODERN["Accept"], REMOTE_ADDR=address
    )


def test_anonymous_pulls_past_the_limit_answer_429(settings, public_image, registry_client):
    settings.BERTH_PULL_RATE_ANONYMOUS, settings.BERTH_PULL_BURST_ANONYMOUS = 0.01, 4
    name, digest, manifest = public_image
    anonymous = registry_client(None)
    token = anonymous.token(f"repository:{name}:pull")
    manifest_path = f"/v2/{name}/manifests/1.0"
    layer_path = f"/v2/{name}/blobs/{manifest['layers'][0]['digest']}"

    head = _pull(anonymous, manifest_path, token, "198.51.100.7", "HEAD")
    assert head.status_code == 200
    assert "RateLimit-Limit" not in head  # 3 of 4 left: more than half, no header fields yet
    # Layers do not count: not a HEAD (a push's probe), not a GET (an image pull's layers).
    assert _pull(anonymous, layer_path, token, "198.51.100.7", "HEAD").status_code == 200
    for _ in range(5):
        layer = _pull(anonymous, layer_path, token, "198.51.100.7")
        assert layer.status_code == 200 and "RateLimit-Remaining" not in layer  # still 3 of 4 left
    second = _pull(anonymous, manifest_path, token, "198.51.100.7")
    assert second.status_code == 200 and "RateLimit-Remaining" not in second  # 2 of 4 left
    got = _pull(anonymous, manifest_path, token, "198.51.100.7")
    assert got.status_code == 200 and got["Docker-Content-Digest"] == digest
    assert (got["RateLimit-Limit"], got["RateLimit-Remaining"]) == ("4", "1")
    assert int(got["RateLimit-Reset"]) > 0
    assert "Retry-After" not in got
    assert _pull(anonymous, manifest_path, token, "198.51.100.7")["RateLimit-Remaining"] == "0"

    refused = _pull(anonymous, manifest_path, token, "198.51.100.7")
    assert refused.status_code == 429
    assert refused.json()["errors"][0]["code"] == "TOOMANYREQUESTS"
    assert refused.json()["errors"][0]["detail"] == {"limit": 4}
    assert refused["RateLimit-Limit"] == "4"
    assert refused["RateLimit-Remaining"] == "0"
    assert int(refused["Retry-After"]) >= 1
    assert int(refused["RateLimit-Reset"]) >= int(refused["Retry-After"])
    head_refused = _pull(anonymous, manifest_path, token, "198.51.100.7", "HEAD")
    assert head_refused.status_code == 429 and head_refused["Retry-After"]

    # Another address has its own bucket.
    other = _pull(anonymous, manifest_path, token, "198.51.100.8")
    assert other.status_code == 200 and "RateLimit-Remaining" not in other

    event = Event.objects.filter(error_code="ThrottlingException").order_by("sequence").first()
    assert event is not None
    assert (event.event_name, event.source_ip) == ("BatchGetImage", "198.51.100.7")


def test_signed_in_pulls_count_per_principal(settings, tenant, alice, public_image):
    settings.BERTH_PULL_RATE_ANONYMOUS, settings.BERTH_PULL_BURST_ANONYMOUS = 0.01, 1
    settings.BERTH_PULL_RATE_AUTHENTICATED, settings.BERTH_PULL_BURST_AUTHENTICATED = 0.01, 2
    name = f"{tenant.id}/tools/cli"
    token = alice.token(f"repository:{name}:pull")
    path = f"/v2/{name}/manifests/1.0"
    # From two addresses: one principal, one bucket.
    answers = [_pull(alice, path, token, address) for address in ("203.0.113.1", "203.0.113.2", "203.0.113.3")]
    assert [answer.status_code for answer in answers] == [200, 200, 429]
    assert answers[2].json()["errors"][0]["code"] == "TOOMANYREQUESTS"
    assert "Retry-After" in answers[2]


def test_pushes_are_not_counted(settings, tenant, alice, repo):
    settings.BERTH_PULL_RATE_AUTHENTICATED, settings.BERTH_PULL_BURST_AUTHENTICATED = 0.01, 1
    digest, _ = alice.push_image(repo, "1.0", layers=3)  # blob HEADs and PUTs: none counted
    response = alice.request("GET", f"/v2/{repo}/manifests/1.0", scope=f"repository:{repo}:pull", headers=MODERN)
    assert response.status_code == 200 and response["Docker-Content-Digest"] == digest
    assert response["RateLimit-Remaining"] == "0"  # the first pull: nothing of the push counted


@pytest.mark.skipif(not REDIS_URL, reason="needs REDIS_URL")
def test_envelope_with_redis_counting(settings, public_image, registry_client):
    """The same refusal when Redis counts (the setting selects the backend)."""
    settings.REDIS_URL = REDIS_URL
    settings.BERTH_PULL_RATE_ANONYMOUS, settings.BERTH_PULL_BURST_ANONYMOUS = 0.01, 1
    name, _, _ = public_image
    anonymous = registry_client(None)
    token = anonymous.token(f"repository:{name}:pull")
    address = f"198.18.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    redis.Redis.from_url(REDIS_URL).delete(f"{limits.REDIS_KEY_PREFIX}address:{address}")
    assert _pull(anonymous, f"/v2/{name}/manifests/1.0", token, address).status_code == 200
    refused = _pull(anonymous, f"/v2/{name}/manifests/1.0", token, address)
    assert refused.status_code == 429 and int(refused["Retry-After"]) >= 1
