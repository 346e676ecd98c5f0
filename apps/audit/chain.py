"""The hash chain over events: what an event's hash covers, and the walk that
checks every stored event against it.

``hash = sha256(previous_hash + canonical JSON of the recorded fields)``. The
canonical form is a JSON array of the fields in HASHED_FIELDS order (nested
objects with sorted keys), without whitespace, times in UTC ISO 8601 with
microseconds, so any database gives back the bytes that were hashed. The
sequence number is not hashed: an event's place is fixed by the previous_hash
links, and the walk checks the numbers for gaps."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db.models import Max

from .models import GENESIS_HASH, ChainHead, Event, PruneRecord

HASHED_FIELDS = (
    "event_id",
    "event_time",
    "event_name",
    "event_source",
    "read_only",
    "actor_type",
    "actor_arn",
    "actor_account_id",
    "actor_username",
    "actor_access_key_id",
    "actor_session_name",
    "actor_role_arn",
    "source_ip",
    "user_agent",
    "request_id",
    "recipient_account_id",
    "repository",
    "image_digest",
    "image_tag",
    "request_parameters",
    "response_elements",
    "error_code",
    "error_message",
)
VERIFY_CHUNK_SIZE = 2000


def iso_time(moment: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS.ffffffZ`` in UTC."""
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    return moment.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


CANONICAL_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
JSON_FIELDS = ("request_parameters", "response_elements")
_JSON_INDEXES = tuple(HASHED_FIELDS.index(name) for name in JSON_FIELDS)


def json_text(value) -> str:
    """How a JSON field's value is hashed, and (when being written) stored."""
    return CANONICAL_ENCODER.encode(value)


def canonical(values: Mapping) -> str:
    """The hashed form of an event's field values (``fields_of`` a stored Event; an
    event being written has it as ``rows.EventRow.form``). An array, not an object:
    every pull writes one, and the field names would double the bytes to encode and
    hash. The JSON fields go in as their json_text."""
    fields = [values[name] for name in HASHED_FIELDS]
    fields[0] = str(fields[0])  # event_id
    fields[1] = iso_time(fields[1])  # event_time
    for index in _JSON_INDEXES:
        fields[index] = json_text(fields[index])
    return CANONICAL_ENCODER.encode(fields)


def chain_hash(previous_hash: str, canonical_form: str) -> str:
    return hashlib.sha256((previous_hash + canonical_form).encode()).hexdigest()


def fields_of(event: Event) -> dict:
    return {name: getattr(event, name) for name in HASHED_FIELDS}


def event_hash(event: Event) -> str:
    """What ``event.hash`` must be, given its previous_hash and recorded fields."""
    return chain_hash(event.previous_hash, canonical(fields_of(event)))


@dataclass(frozen=True)
class ChainBreak:
    sequence: int
    event_id: str
    problem: str  # "altered event", "broken link" or "missing events"
    detail: str

    def __str__(self) -> str:
        return f"audit chain broken at sequence {self.sequence} (event {self.event_id}): {self.problem}: {self.detail}"


@dataclass(frozen=True)
class ChainReport:
    count: int
    first_sequence: int | None
    last_sequence: int | None
    broken: ChainBreak | None

    @property
    def intact(self) -> bool:
        return self.broken is None

    def __str__(self) -> str:
        if self.broken is not None:
            return str(self.broken)
        if not self.count:
            return "audit chain intact: 0 events"
        return f"audit chain intact: {self.count} events, sequence {self.first_sequence}..{self.last_sequence}"


def verify() -> ChainReport:
    """Walk the stored chain in sequence order from just after the last prune, up
    to the head as it stood when the walk began (later appends are not waited
    for), and report the first event that does not hold."""
    prune = PruneRecord.objects.order_by("-through_sequence").first()
    expected_sequence = prune.through_sequence + 1 if prune else 1
    expected_previous = prune.last_removed_hash if prune else GENESIS_HASH
    head = ChainHead.objects.filter(pk=1).first()
    # Without a head row (a flushed table) the next append rebuilds it from the last event.
    last_sequence = head.last_sequence if head else Event.objects.aggregate(last=Max("sequence"))["last"] or 0
    events = (
        Event.objects.filter(sequence__gte=expected_sequence, sequence__lte=last_sequence)
        .order_by("sequence")
        .iterator(chunk_size=VERIFY_CHUNK_SIZE)
    )
    first = None
    count = 0
    for event in events:
        if event.sequence != expected_sequence:
            return _report(
                count,
                first,
                expected_sequence - 1,
                ChainBreak(
                    event.sequence,
                    str(event.event_id),
                    "missing events",
                    f"expected sequence {expected_sequence} next, found {event.sequence}",
                ),
            )
        if event.previous_hash != expected_previous:
            return _report(
                count,
                first,
                expected_sequence - 1,
                ChainBreak(
                    event.sequence,
                    str(event.event_id),
                    "broken link",
                    f"previous_hash {event.previous_hash} is not the hash of the event before it ({expected_previous})",
                ),
            )
        if event_hash(event) != event.hash:
            return _report(
                count,
                first,
                expected_sequence - 1,
                ChainBreak(
                    event.sequence,
                    str(event.event_id),
                    "altered event",
                    "its stored fields no longer hash to its recorded hash",
                ),
            )
        first = event.sequence if first is None else first
        count += 1
        expected_sequence += 1
        expected_previous = event.hash
    if head is not None and expected_sequence - 1 < last_sequence:
        return _report(
            count,
            first,
            expected_sequence - 1,
            ChainBreak(
                expected_sequence,
                "-",
                "missing events",
                f"the chain head records sequence {last_sequence}, but the events stop at {expected_sequence - 1}",
            ),
        )
    if head is not None and last_sequence and expected_previous != head.last_hash:
        return _report(
            count,
            first,
            expected_sequence - 1,
            ChainBreak(
                last_sequence,
                "-",
                "broken link",
                f"the chain head's hash {head.last_hash} is not the last event's ({expected_previous})",
            ),
        )
    return _report(count, first, expected_sequence - 1, None)


def _report(count: int, first: int | None, last: int, broken: ChainBreak | None) -> ChainReport:
    return ChainReport(count=count, first_sequence=first, last_sequence=last if count else None, broken=broken)
