"""Pull limits: how many pulls a caller may make, as Amazon ECR Public limits its
unauthenticated pulls per source address and its authenticated ones per principal.

A pull is a request, counted whatever it answers: a manifest GET or HEAD (a
client's HEAD of a tag costs the registry a lookup as a GET does), a referrers
GET and a blob GET. A blob HEAD is not counted: pushes probe every layer with
one, and it moves no content.

Each bucket is a token bucket kept as GCRA (the generic cell rate algorithm):
one number per bucket, the theoretical arrival time (``tat``) of the next
request. A bucket holds ``burst`` requests and refills at ``rate`` per second; a
request is allowed when the bucket is not empty. The numbers live in Redis when
REDIS_URL is set (one Lua script, one round trip, Redis's clock: every process
shares them) and in the process's memory otherwise, where each web worker counts
on its own (see docs/pull-limits.md).

A Redis that fails lets the pull through (a registry that cannot count must
still serve) and logs a warning at most once a minute; for a few seconds after a
failure Redis is not asked at all, so that a Redis that hangs costs no request
its timeout."""

from __future__ import annotations

import functools
import logging
import math
import threading
import time
from typing import NamedTuple

import redis
from django.conf import settings

from apps.iam.callers import Caller
from apps.kernel.requests import address_group

logger = logging.getLogger(__name__)

MANIFEST_PULL = "ecr:BatchGetImage"
BLOB_PULL = "ecr:GetDownloadUrlForLayer"

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
    return action == MANIFEST_PULL or (action == BLOB_PULL and method == "GET")


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


# KEYS[1]: the bucket; ARGV: interval (µs per request), burst. Redis's own clock,
# so that every process agrees on it. The tat is written with %.0f: Lua's own
# number formatting keeps 14 digits, fewer than a time in microseconds has.
_GCRA_LUA = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - burst * interval
if now < allow_at then
  return {0, 0, string.format('%.0f', tat - now), string.format('%.0f', allow_at - now)}
end
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000))
return {1, math.floor((now - allow_at) / interval), string.format('%.0f', new_tat - now), '0'}
"""


class RedisBuckets:
    def __init__(self, url: str) -> None:
        self._client = redis.Redis.from_url(
            url, socket_timeout=REDIS_TIMEOUT_SECONDS, socket_connect_timeout=REDIS_TIMEOUT_SECONDS
        )
        self._script = self._client.register_script(_GCRA_LUA)
        self._skip_until = 0.0
        self._warned_at = -math.inf

    def take(self, key: str, limit: Limit) -> Quota | None:
        if time.monotonic() < self._skip_until:
            return None
        try:
            allowed, remaining, reset_us, retry_us = self._script(
                keys=[REDIS_KEY_PREFIX + key], args=[limit.interval_us, limit.burst]
            )
        except (redis.RedisError, OSError) as exc:
            self._failed(exc)
            return None
        return Quota(
            bool(allowed),
            limit.burst,
            int(remaining),
            int(reset_us) / _MICROSECONDS,
            int(retry_us) / _MICROSECONDS,
        )

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
