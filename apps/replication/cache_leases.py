"""Single flight across processes: one request fetches a piece of content from an
upstream, the others wait for it and then serve it locally.

A lease is a row (UpstreamFetchLease) whose insert only one request wins, on
SQLite as on PostgreSQL; it expires unless its holder extends it, so a holder
that died (a killed worker) holds nothing for long. Every statement runs in a
transaction of its own: a lease must be seen by the other processes at once."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.registry.exceptions import UpstreamFetchBusy

from .models import UpstreamFetchLease

LEASE_SECONDS = 30
# Waiters look again after this long, growing to _POLL_MAX_SECONDS.
_POLL_FIRST_SECONDS = 0.05
_POLL_MAX_SECONDS = 0.5


def acquire(key: str) -> str | None:
    """The holder's token when this request now holds the lease ``key``, None when
    another does."""
    token = secrets.token_hex(16)
    now = timezone.now()
    expires = now + timedelta(seconds=LEASE_SECONDS)
    try:
        with transaction.atomic():
            UpstreamFetchLease.objects.create(key=key, holder=token, expires_at=expires)
        return token
    except IntegrityError:
        pass
    # Taken over only when expired: its holder stopped extending it.
    with transaction.atomic():
        taken = UpstreamFetchLease.objects.filter(key=key, expires_at__lt=now).update(holder=token, expires_at=expires)
    return token if taken else None


def extend(key: str, token: str) -> bool:
    """Keep holding ``key``; False when the lease was lost (it expired and another took it)."""
    with transaction.atomic():
        return bool(
            UpstreamFetchLease.objects.filter(key=key, holder=token).update(
                expires_at=timezone.now() + timedelta(seconds=LEASE_SECONDS)
            )
        )


def release(key: str, token: str) -> None:
    with transaction.atomic():
        UpstreamFetchLease.objects.filter(key=key, holder=token).delete()


def _held(key: str) -> bool:
    return UpstreamFetchLease.objects.filter(key=key, expires_at__gte=timezone.now()).exists()


def single_flight(key: str, *, present: Callable[[], bool], wait_seconds: float) -> str | None:
    """Hold ``key`` to fetch, or wait for the request that holds it: the token when
    this request must fetch, None once ``present()`` says the content is here.
    Raises UpstreamFetchBusy when neither happens within ``wait_seconds``."""
    deadline = time.monotonic() + wait_seconds
    pause = _POLL_FIRST_SECONDS
    while True:
        if present():
            return None
        token = acquire(key)
        if token is not None:
            # The holder before may have stored it just before it let go.
            if present():
                release(key, token)
                return None
            return token
        while _held(key):
            if present():
                return None
            if time.monotonic() > deadline:
                raise UpstreamFetchBusy(
                    f"another request is fetching this content from the upstream and has not finished within "
                    f"{wait_seconds:.0f}s; try again"
                )
            time.sleep(pause)
            pause = min(pause * 2, _POLL_MAX_SECONDS)
