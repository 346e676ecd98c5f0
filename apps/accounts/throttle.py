"""The one throttle of every place a secret is checked: the website's and the staff
console's sign-in, `/token`, the API's key minting (all through a user name and
password), access keys, temporary credentials and login passwords; and sign-up.

Failures are counted per subject (a case-folded user name, an access key id) and
client address, and per subject from every address together, in Django's cache
(Redis when REDIS_URL is set, files otherwise: shared by every process either way).
Once a count reaches its allowance the subject is locked for
BERTH_LOGIN_LOCKOUT_SECONDS from that address (or, past the higher per-subject
ceiling, from everywhere), and each further failure doubles the lock, up to
BERTH_LOGIN_LOCKOUT_MAX_SECONDS. While locked nothing is checked, so even the
right secret is refused, and refused attempts are not counted: a guesser on one
address gets one guess per lock, and a stranger on a shared address cannot lock a
user out from the user's own address before the per-subject ceiling. A count is
forgotten BERTH_LOGIN_FAILURE_WINDOW seconds after its last lock ends (or after its
last failure, below the allowance); a success from an address forgets that
address's count."""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from django.conf import settings
from django.core.cache import cache

from apps.kernel.requests import address_group

T = TypeVar("T")


class Throttled(Exception):
    def __init__(self, retry_after: int, *, what: str = "failed sign-ins") -> None:
        self.retry_after = retry_after
        super().__init__(f"Too many {what}; try again in {retry_after} seconds.")


@dataclass(frozen=True)
class _Limits:
    allowed: int
    window: int
    lockout: int
    max_lockout: int

    def lock_seconds(self, failures: int) -> int:
        """How long the ``failures``-th failure locks (0: still within the allowance)."""
        if failures < self.allowed:
            return 0
        doublings = min(failures - self.allowed, 32)  # 2**32 lockouts is past any cap
        return min(self.lockout * 2**doublings, self.max_lockout)


def _per_address_limits() -> _Limits:
    return _Limits(
        settings.BERTH_LOGIN_FAILURES_ALLOWED,
        settings.BERTH_LOGIN_FAILURE_WINDOW,
        settings.BERTH_LOGIN_LOCKOUT_SECONDS,
        settings.BERTH_LOGIN_LOCKOUT_MAX_SECONDS,
    )


def _per_subject_limits() -> _Limits:
    return _Limits(
        settings.BERTH_LOGIN_FAILURES_ALLOWED_PER_USER,
        settings.BERTH_LOGIN_FAILURE_WINDOW,
        settings.BERTH_LOGIN_LOCKOUT_SECONDS,
        settings.BERTH_LOGIN_LOCKOUT_MAX_SECONDS,
    )


def _sign_up_limits() -> _Limits:
    return _Limits(
        settings.BERTH_SIGNUPS_ALLOWED_PER_ADDRESS,
        settings.BERTH_SIGNUP_WINDOW,
        settings.BERTH_SIGNUP_WINDOW,
        settings.BERTH_LOGIN_LOCKOUT_MAX_SECONDS,
    )


def user_subject(username: str) -> str:
    """What a sign-in by user name counts against: `Ada@Example.com` and
    `ada@example.com` are one subject (sign-in finds either's user)."""
    return f"user:{username.strip().casefold()}"


@dataclass(frozen=True)
class _Counter:
    key: str
    limits: _Limits

    @property
    def lock_key(self) -> str:
        return f"{self.key}:locked-until"

    def count_failure(self, now: float) -> None:
        cache.add(self.key, 0, self.limits.window)
        try:
            failures = cache.incr(self.key)
        except ValueError:  # expired between the two calls
            cache.set(self.key, 1, self.limits.window)
            failures = 1
        lock = self.limits.lock_seconds(failures)
        # The count outlives the lock by the window, so the next failure after it doubles it.
        cache.touch(self.key, lock + self.limits.window)
        if lock:
            cache.set(self.lock_key, now + lock, lock)


def _key(*parts: str) -> str:
    return "throttle:" + hashlib.sha256("\0".join(parts).encode()).hexdigest()


def _counters(subject: str, client_ip: str, *, per_subject: bool) -> list[_Counter]:
    counters = [_Counter(_key("address", subject, address_group(client_ip)), _per_address_limits())]
    if per_subject:
        counters.append(_Counter(_key("subject", subject), _per_subject_limits()))
    return counters


def _refuse_when_locked(counters: list[_Counter], now: float, *, what: str) -> None:
    locked_until = cache.get_many([counter.lock_key for counter in counters]).values()
    latest = max(locked_until, default=0)
    if latest > now:
        raise Throttled(max(1, math.ceil(latest - now)), what=what)


def refuse_when_locked(subject: str, client_ip: str, *, per_subject: bool = True) -> None:
    """Raises Throttled while ``subject`` is locked from this address (or everywhere)."""
    _refuse_when_locked(_counters(subject, client_ip, per_subject=per_subject), time.time(), what="failed sign-ins")


def count_failure(subject: str, client_ip: str, *, per_subject: bool = True) -> None:
    """One more failure of ``subject`` from this address. ``per_subject=False`` for a
    subject everyone shares (the `berth` user name of login passwords), which must
    never lock everyone out."""
    now = time.time()
    for counter in _counters(subject, client_ip, per_subject=per_subject):
        counter.count_failure(now)


def check(subject: str, client_ip: str, verify: Callable[[], T | None], *, per_subject: bool = True) -> T | None:
    """``verify()``'s result, unless ``subject`` is locked (raises Throttled without
    calling it); a None result counts as a failure, any other forgets this
    address's failures."""
    counters = _counters(subject, client_ip, per_subject=per_subject)
    _refuse_when_locked(counters, time.time(), what="failed sign-ins")
    result = verify()
    if result is None:
        now = time.time()
        for counter in counters:
            counter.count_failure(now)
    else:
        cache.delete(counters[0].key)
    return result


def count_sign_up(client_ip: str) -> None:
    """One more sign-up attempt from this address; raises Throttled (counting
    nothing) once the address has used its allowance."""
    counter = _Counter(_key("sign-up", address_group(client_ip)), _sign_up_limits())
    now = time.time()
    _refuse_when_locked([counter], now, what="sign-ups from your address")
    counter.count_failure(now)


# The settings page's "send the verification link again": once a minute, five times an hour.
VERIFICATION_MAIL_INTERVAL = 60
VERIFICATION_MAILS_PER_HOUR = 5


def count_verification_mail(account_id: str) -> None:
    """One more verification mail for the account; raises Throttled (counting
    nothing) when the last was sent under VERIFICATION_MAIL_INTERVAL seconds ago or
    the hour's VERIFICATION_MAILS_PER_HOUR are used."""
    now = time.time()
    pause_key = _key("verification-mail-pause", account_id)
    counter = _Counter(_key("verification-mail", account_id), _Limits(VERIFICATION_MAILS_PER_HOUR, 3600, 3600, 3600))
    _refuse_when_locked([counter], now, what="verification mails")
    sent_at = cache.get(pause_key)
    if sent_at is not None and now - sent_at < VERIFICATION_MAIL_INTERVAL:
        raise Throttled(max(1, math.ceil(VERIFICATION_MAIL_INTERVAL - (now - sent_at))), what="verification mails")
    cache.set(pause_key, now, VERIFICATION_MAIL_INTERVAL)
    counter.count_failure(now)
