"""What a delivery sends: a CloudEvents 1.0 event in the structured JSON mode,
signed with the endpoint's secret (docs/webhooks.md says how to verify)."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import uuid

from django.conf import settings

from apps.events import names

# The domain events webhooks deliver: what an account's integrations care about.
DELIVERED_EVENTS = (
    names.IMAGE_PUSHED,
    names.IMAGE_DELETED,
    names.TAG_MOVED,
    names.TAG_DELETED,
    names.IMAGE_SCAN_COMPLETED,
    names.IMAGES_REMATCHED,
    names.IMAGE_REPLICATION_CHANGED,
    names.ALIAS_REQUEST_DECIDED,
)
CONTENT_TYPE = "application/cloudevents+json"
SIGNATURE_HEADER = "Berth-Signature"
# CloudEvent ids are name-based UUIDs in this namespace: the same event for the same
# endpoint always has the same id, which receivers dedupe on.
_ID_NAMESPACE = uuid.UUID("6f1d3a52-5b0e-4d5e-9c55-7f8a4c1e2b90")


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def event_key(event_id: int, occurred_at) -> str:
    return f"{event_id}@{occurred_at.isoformat()}"


def build(*, event_key: str, endpoint_id, account_id: str, name: str, occurred_at, payload: dict) -> dict:
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid5(_ID_NAMESPACE, f"{event_key}/{endpoint_id}")),
        "source": f"berth/{settings.BERTH_REGION}/{account_id}",
        "type": f"berth.{name}",
        "time": occurred_at.isoformat().replace("+00:00", "Z"),
        "datacontenttype": "application/json",
        "data": payload,
    }


def body(cloud_event: dict) -> bytes:
    return json.dumps(cloud_event, separators=(",", ":"), sort_keys=True).encode()


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The Berth-Signature header: ``t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str, header: str, body: bytes, *, now: int, tolerance: int = 300) -> bool:
    """What a receiver does (docs/webhooks.md): the signature matches and is recent."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = signature(secret, timestamp, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, fields.get("v1", ""))
