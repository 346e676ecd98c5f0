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


# The kind of each hashed field: its Event column's type ("CharField", "JSONField", ...).
KINDS = tuple(Event._meta.get_field(name).get_internal_type() for name in HASHED_FIELDS)


def iso_time(moment: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS.ffffffZ`` in UTC (a naive time is read as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    elif moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    return moment.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


CANONICAL_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def json_text(value) -> str:
    """How a JSON field's value is hashed, and (when being written) stored."""
    return CANONICAL_ENCODER.encode(value)


# How the canonical form spells the values of a kind of field; the others go in as they are.
_SPELLINGS = {"UUIDField": str, "DateTimeField": iso_time, "JSONField": json_text}
_SPELLED = tuple((index, _SPELLINGS[kind]) for index, kind in enumerate(KINDS) if kind in _SPELLINGS)


def spelled(fields: list) -> list:
    """``fields`` (values of HASHED_FIELDS, in that order) as the canonical form holds
    them: the id as text, the time as iso_time, the JSON fields as their json_text."""
    for index, spell in _SPELLED:
        fields[index] = spell(fields[index])
    return fields


def canonical(values: Mapping) -> str:
    """The hashed form of an event's field values (``fields_of`` a stored Event; an
    event being written has it as ``rows.EventRow.form``). An array, not an object:
    every pull writes one, and the field names would double the bytes to encode and
    hash."""
    return CANONICAL_ENCODER.encode(spelled([values[name] for name in HASHED_FIELDS]))


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
