"""Pull limits: how many pulls a caller may make, as Amazon ECR Public limits its
unauthenticated pulls per source address and its authenticated ones per principal.

A pull is a manifest request, counted whatever it answers: a manifest GET or
HEAD (a client's HEAD of a tag costs the registry a lookup as a GET does) and a
referrers GET, the ECR action BatchGetImage. The layers an image pull then
fetches are not counted: a limit on requests that counted them would cut a
many-layered image's pull short halfway (a docker pull of 12 layers makes 15
requests at once), and an image pull is what ECR Public limits.

Each bucket is a token bucket kept as GCRA (the generic cell rate algorithm):
one number per bucket, the theoretical arrival time (``tat``) of the next
request. A bucket holds ``burst`` requests and refills at ``rate`` per second; a
request is allowed when the bucket is not empty. Without REDIS_URL the numbers
live in the process's memory, where each web worker counts on its own. With it,
they live in Redis, every process shares them, and each process decides on its
own view of them, synced every SYNC_INTERVAL_SECONDS by a thread of its own (see
RedisBuckets and docs/pull-limits.md).

A Redis that fails lets the pulls it would decide through (a registry that cannot
count must still serve) and logs a warning at most once a minute; for a few
seconds after a failure Redis is not asked for a bucket this process has not
seen, so that a Redis that hangs costs no request its timeout."""

from __future__ import annotations

import functools
import logging
import math
import os
import threading
import time
from typing import NamedTuple

import redis
from django.conf import settings

from apps.iam.callers import Caller
from apps.kernel.requests import address_group

logger = logging.getLogger(__name__)

MANIFEST_PULL = "ecr:BatchGetImage"

REDIS_KEY_PREFIX = "berth:pull-limit:"
REDIS_TIMEOUT_SECONDS = 0.25
REDIS_RETRY_AFTER_FAILURE_SECONDS = 5.0
WARNING_INTERVAL_SECONDS = 60.0
# The memory backend forgets buckets that have refilled once it holds this many.
MEMORY_PRUNE_THRESHOLD = 10_000

_MICROSECONDS = 1_000_000


class Quota(NamedTuple):
    """A bucket's state after one request: ``allowed`` or not, the bucket's size
    (``limit``), requests left now (``remaining``), seconds until it is full again
    (``reset``) and, when refused, until the next request is allowed (``retry_after``).
    A named tuple: one is made on every pull, and a tuple is the cheapest to make."""

    allowed: bool
    limit: int
    remaining: int
    reset: float
    retry_after: float = 0.0

    def headers(self) -> dict[str, str]:
        """The IETF RateLimit header fields (draft-ietf-httpapi-ratelimit-headers,
        the separate-field form), seconds rounded up; Retry-After on a refusal."""
        headers = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(math.ceil(self.reset)),
        }
        if not self.allowed:
            headers["Retry-After"] = str(max(1, math.ceil(self.retry_after)))
        return headers


class Limit(NamedTuple):
    burst: int  # requests at once
    interval_us: int  # microseconds per request, sustained


@functools.lru_cache(maxsize=16)
def _limit(rate: float, burst: int) -> Limit | None:
    if rate <= 0 or burst <= 0:
        return None
    return Limit(burst, max(1, round(_MICROSECONDS / rate)))


def limit_of(rate: float, burst: int) -> Limit:
    """The limit of ``rate`` requests per second sustained, ``burst`` at once (both above 0)."""
    limit = _limit(rate, burst)
    if limit is None:
        raise ValueError("a limit needs a rate and a burst above 0")
    return limit


def counts_as_pull(method: str, action: str) -> bool:
    return action == MANIFEST_PULL


def take(caller: Caller, client_ip: str) -> Quota | None:
    """Count one pull of ``caller`` from ``client_ip`` (an anonymous caller's
    bucket is its address's, a signed-in one's its principal's); None when its
    kind of pull is not limited."""
    if caller.is_anonymous:
        limit = _limit(settings.BERTH_PULL_RATE_ANONYMOUS, settings.BERTH_PULL_BURST_ANONYMOUS)
        key = None if limit is None else "address:" + address_group(client_ip)
    else:
        limit = _limit(settings.BERTH_PULL_RATE_AUTHENTICATED, settings.BERTH_PULL_BURST_AUTHENTICATED)
        key = None if limit is None else "principal:" + caller.arn
    if key is None:
        return None
    return _backend().take(key, limit)


# -- GCRA ----------------------------------------------------------------------------


def _decide(tat_us: int | None, now_us: int, limit: Limit) -> tuple[Quota, int | None]:
    """The quota of a request at ``now_us`` given the bucket's stored ``tat_us``,
    and the tat to store (None: leave it). The Lua script does the same."""
    interval = limit.interval_us
    tat = now_us if tat_us is None or tat_us < now_us else tat_us
    new_tat = tat + interval
    allow_at = new_tat - limit.burst * interval
    if now_us < allow_at:
        return Quota(False, limit.burst, 0, (tat - now_us) / _MICROSECONDS, (allow_at - now_us) / _MICROSECONDS), None
    remaining = (now_us - allow_at) // interval
    return Quota(True, limit.burst, remaining, (new_tat - now_us) / _MICROSECONDS), new_tat


class MemoryBuckets:
    """The buckets of this process (the embedded default, without Redis)."""

    def __init__(self) -> None:
        self._tats: dict[str, int] = {}
        self._lock = threading.Lock()

    def take(self, key: str, limit: Limit) -> Quota:
        now = time.monotonic_ns() // 1000
        with self._lock:
            quota, new_tat = _decide(self._tats.get(key), now, limit)
            if new_tat is not None:
                if len(self._tats) >= MEMORY_PRUNE_THRESHOLD:
                    self._tats = {k: tat for k, tat in self._tats.items() if tat > now}
                self._tats[key] = new_tat
        return quota

    def clear(self) -> None:
        with self._lock:
            self._tats.clear()


# KEYS[1]: the bucket; ARGV: interval (µs per request), burst, requests to add,
# how long ago (µs) the first of them came: an idle bucket counts them from then, not
# from the sync. Adds them whether or not the bucket had room (the processes that count them have
# served them already), but never puts the bucket more than one whole bucket behind,
# and answers how far ahead of now the bucket's tat is, in microseconds. Redis's own
# clock, so that every process agrees on it; the tat is written with %.0f, as Lua's
# own number formatting keeps 14 digits, fewer than a time in microseconds has.
_GCRA_LUA = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local taken = tonumber(ARGV[3])
local since = now - tonumber(ARGV[4])
local tat = tonumber(redis.call('GET', KEYS[1]) or since)
if taken > 0 then
  if tat < since then tat = since end
  tat = math.min(tat + taken * interval, now + 2 * burst * interval)
  if tat > now then
    redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX', math.ceil((tat - now) / 1000) + 1)
  end
end
if tat < now then tat = now end
return string.format('%.0f', tat - now)
"""

SYNC_INTERVAL_SECONDS = 0.05


class _Shared:
    """This process's view of one bucket kept in Redis: its tat on this process's
    clock, and the pulls counted here since the last sync."""

    __slots__ = ("limit", "tat", "unsent", "first_unsent", "used")

    def __init__(self, limit: Limit, tat: int) -> None:
        self.limit, self.tat, self.unsent, self.first_unsent, self.used = limit, tat, 0, 0, True


class RedisBuckets:
    """Buckets every process shares, in Redis, decided without a round trip: each
    process decides on its own view of a bucket, and a thread of its own sends what
    it counted and reads back what every process did, in one round trip for all
    buckets, every SYNC_INTERVAL_SECONDS. A bucket this process has not seen is
    read from Redis first (one round trip for a caller's first pull here). Between
    syncs, processes may together let a caller past its limit by what each saw
    left (docs/pull-limits.md). A round trip per pull cost a manifest GET 20 % of
    its requests per second on one connection (bench/README.md)."""

    def __init__(self, url: str) -> None:
        self._client = redis.Redis.from_url(
            url, socket_timeout=REDIS_TIMEOUT_SECONDS, socket_connect_timeout=REDIS_TIMEOUT_SECONDS
        )
        self._script = self._client.register_script(_GCRA_LUA)
        self._buckets: dict[str, _Shared] = {}
        self._lock = threading.Lock()
        self._syncer_pid = 0
        self._closed = threading.Event()
        self._skip_until = 0.0
        self._warned_at = -math.inf

    def take(self, key: str, limit: Limit) -> Quota | None:
        if self._syncer_pid != os.getpid():
            self._start_syncer()
        now = time.monotonic_ns() // 1000
        bucket = self._buckets.get(key)
        if bucket is None:
            if time.monotonic() < self._skip_until:
                return None
            try:
                ahead = int(self._script(keys=[REDIS_KEY_PREFIX + key], args=[limit.interval_us, limit.burst, 0, 0]))
            except (redis.RedisError, OSError) as exc:
                self._failed(exc)
                return None
            bucket = self._buckets.setdefault(key, _Shared(limit, now + ahead))
        with self._lock:
            bucket.limit, bucket.used = limit, True
            quota, new_tat = _decide(bucket.tat, now, limit)
            if new_tat is not None:
                bucket.tat = new_tat
                if not bucket.unsent:
                    bucket.first_unsent = now
                bucket.unsent += 1
        return quota

    def sync(self) -> None:
        """Send what this process counted and read back every bucket it used."""
        with self._lock:
            now = time.monotonic_ns() // 1000
            for key in [key for key, bucket in self._buckets.items() if not bucket.used and bucket.tat <= now]:
                del self._buckets[key]  # full again, and nobody here pulls
            sent = [
                (key, bucket, bucket.unsent, now - bucket.first_unsent if bucket.unsent else 0)
                for key, bucket in self._buckets.items()
                if bucket.used
            ]
            for _, bucket, _, _ in sent:
                bucket.unsent, bucket.used = 0, False
        if not sent:
            return
        try:
            pipeline = self._client.pipeline(transaction=False)
            for key, bucket, unsent, age in sent:
                self._script(
                    keys=[REDIS_KEY_PREFIX + key],
                    args=[bucket.limit.interval_us, bucket.limit.burst, unsent, age],
                    client=pipeline,
                )
            answers = pipeline.execute()
        except (redis.RedisError, OSError) as exc:
            self._failed(exc)
            with self._lock:  # sent at the next sync
                for _, bucket, unsent, age in sent:
                    if unsent:
                        bucket.first_unsent = min(bucket.first_unsent, now - age) if bucket.unsent else now - age
                    bucket.unsent += unsent
            return
        now = time.monotonic_ns() // 1000
        with self._lock:
            for (_, bucket, _, _), ahead in zip(sent, answers, strict=True):
                # What this process counted since: in its own view, not yet in Redis's.
                bucket.tat = now + int(ahead) + bucket.unsent * bucket.limit.interval_us

    def _start_syncer(self) -> None:
        with self._lock:
            if self._syncer_pid == os.getpid():
                return
            # A forked worker inherits no thread and no view: its own of both.
            self._buckets = {}
            self._syncer_pid = os.getpid()
            threading.Thread(target=self._sync_forever, name="pull-limits-sync", daemon=True).start()

    def close(self) -> None:
        """Stop syncing (a test's buckets; a server's live as long as its process)."""
        self._closed.set()

    def _sync_forever(self) -> None:
        while not self._closed.wait(SYNC_INTERVAL_SECONDS):
            try:
                self.sync()
            except Exception:  # the thread must outlive any one failure
                logger.exception("pull limits: sync with Redis failed")

    def _failed(self, exc: Exception) -> None:
        now = time.monotonic()
        self._skip_until = now + REDIS_RETRY_AFTER_FAILURE_SECONDS
        if now - self._warned_at >= WARNING_INTERVAL_SECONDS:
            self._warned_at = now
            logger.warning("pull limits not counted: Redis failed (%s); pulls go through unlimited meanwhile", exc)


_backends: dict[str, MemoryBuckets | RedisBuckets] = {}


def _backend() -> MemoryBuckets | RedisBuckets:
    url = settings.REDIS_URL
    backend = _backends.get(url)
    if backend is None:
        backend = _backends.setdefault(url, RedisBuckets(url) if url else MemoryBuckets())
    return backend
