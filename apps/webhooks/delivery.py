"""One try of one delivery, and when the next is due.

A try claims the row first (its attempt number goes up and its next_attempt_at
becomes a lease), commits, then makes the request, so no database lock is held
across a slow receiver. A task names the attempt it is for: a second task for the
same attempt (the sweep and a countdown both due) finds the row already claimed
and sends nothing. A 2xx answer is SUCCEEDED; anything else (another status, a
refused address, a timeout) is tried again after an exponential back-off with
jitter, up to BERTH_WEBHOOK_MAX_ATTEMPTS tries, then FAILED. Redirects are not
followed: a 3xx is a failed try."""

from __future__ import annotations

import importlib.metadata
import logging
import random
import time
from dataclasses import dataclass
from datetime import timedelta

import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.kernel import sealing
from apps.kernel.outbound import AddressDenied

from . import addresses, cloudevents
from .models import RESPONSE_EXCERPT_BYTES, DeliveryStatus, WebhookDelivery

logger = logging.getLogger(__name__)

# A try in flight longer than its timeout and this is presumed lost with its worker.
LEASE_SLACK_SECONDS = 60


def _user_agent() -> str:
    try:
        version = importlib.metadata.version("berth")
    except importlib.metadata.PackageNotFoundError:
        version = "dev"
    return f"Berth-Webhooks/{version}"


def backoff_seconds(attempts: int) -> float:
    """Seconds before the try after ``attempts`` failed ones: BASE doubling each
    time, at most MAX, half of it random so that endpoints failing together do
    not come back together."""
    ceiling = min(
        settings.BERTH_WEBHOOK_RETRY_MAX_SECONDS, settings.BERTH_WEBHOOK_RETRY_BASE_SECONDS * 2 ** (attempts - 1)
    )
    return ceiling / 2 + random.uniform(0, ceiling / 2)


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    latency_ms: int | None
    excerpt: str
    error: str

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _claim(delivery_id, attempt: int) -> WebhookDelivery | None:
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update()
            .select_related("endpoint")
            .filter(pk=delivery_id, status=DeliveryStatus.PENDING, attempts=attempt - 1)
            .first()
        )
        if delivery is None:
            return None
        now = timezone.now()
        ended = None
        if not delivery.endpoint.active:
            ended = "the webhook was deactivated before this delivery went"
        elif attempt > settings.BERTH_WEBHOOK_MAX_ATTEMPTS:
            # The last try's worker died before it recorded an answer.
            ended = delivery.last_error or "the last try was lost with its worker"
        if ended is not None:
            delivery.status = DeliveryStatus.FAILED
            delivery.last_error = ended
            delivery.completed_at = now
            delivery.next_attempt_at = None
            delivery.save()
            return None
        delivery.attempts = attempt
        delivery.last_attempt_at = now
        delivery.next_attempt_at = now + timedelta(seconds=settings.BERTH_WEBHOOK_TIMEOUT_SECONDS + LEASE_SLACK_SECONDS)
        delivery.save(update_fields=["attempts", "last_attempt_at", "next_attempt_at"])
        return delivery


def send(delivery: WebhookDelivery) -> Outcome:
    """POST the delivery's CloudEvent to its endpoint, signed now."""
    body = cloudevents.body(delivery.cloud_event)
    secret = sealing.unseal(delivery.endpoint.sealed_secret)
    headers = {
        "Content-Type": cloudevents.CONTENT_TYPE,
        cloudevents.SIGNATURE_HEADER: cloudevents.signature(secret, int(time.time()), body),
        "User-Agent": _user_agent(),
    }
    session = requests.Session()
    # Proxies from the environment would connect to the proxy, not the receiver, past the guard.
    session.trust_env = False
    guarded = addresses.adapter()
    session.mount("http://", guarded)
    session.mount("https://", guarded)
    started = time.monotonic()
    try:
        with session.post(
            delivery.endpoint.url,
            data=body,
            headers=headers,
            timeout=settings.BERTH_WEBHOOK_TIMEOUT_SECONDS,
            allow_redirects=False,
            stream=True,
        ) as response:
            latency = round((time.monotonic() - started) * 1000)
            excerpt = response.raw.read(RESPONSE_EXCERPT_BYTES, decode_content=True) or b""
            text = excerpt.decode("utf-8", errors="replace").replace("\x00", "")
            error = "" if 200 <= response.status_code < 300 else f"the endpoint answered {response.status_code}"
            return Outcome(response.status_code, latency, text, error)
    except AddressDenied as refusal:
        return Outcome(None, None, "", str(refusal))
    except requests.RequestException as exc:
        return Outcome(None, round((time.monotonic() - started) * 1000), "", f"{type(exc).__name__}: {exc}"[:1000])
    finally:
        session.close()


def _record(delivery: WebhookDelivery, outcome: Outcome) -> float | None:
    now = timezone.now()
    retry_in = None
    fields = {
        "last_status_code": outcome.status_code,
        "latency_ms": outcome.latency_ms,
        "response_excerpt": outcome.excerpt,
        "last_error": outcome.error,
    }
    if outcome.succeeded:
        fields.update(status=DeliveryStatus.SUCCEEDED, completed_at=now, next_attempt_at=None)
    elif delivery.attempts >= settings.BERTH_WEBHOOK_MAX_ATTEMPTS:
        fields.update(status=DeliveryStatus.FAILED, completed_at=now, next_attempt_at=None)
    else:
        retry_in = backoff_seconds(delivery.attempts)
        fields.update(next_attempt_at=now + timedelta(seconds=retry_in))
    # Only the claim's own row, still PENDING: a deleted endpoint took its deliveries with it.
    WebhookDelivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.PENDING).update(**fields)
    return retry_in


def attempt(delivery_id, attempt: int) -> float | None:
    """Try ``delivery_id`` for the ``attempt``-th time (nothing if that try was
    already made); the seconds until the next try, None when there is none."""
    delivery = _claim(delivery_id, attempt)
    if delivery is None:
        return None
    outcome = send(delivery)
    if not outcome.succeeded:
        logger.info("webhook delivery %s, try %s: %s", delivery.pk, attempt, outcome.error)
    return _record(delivery, outcome)


def due_deliveries(limit: int = 1000) -> list[tuple[str, int]]:
    """(delivery id, next attempt number) of PENDING deliveries whose try is due
    (a task lost with a broker, or a worker that died mid-try)."""
    rows = WebhookDelivery.objects.filter(
        status=DeliveryStatus.PENDING, next_attempt_at__lte=timezone.now()
    ).values_list("pk", "attempts")[:limit]
    return [(str(pk), attempts + 1) for pk, attempts in rows]
