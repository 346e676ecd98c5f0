"""Every write to the trail: appending events to the hash chain, and retention.

An event that goes with a state change is written by ``record`` inside the
transaction that makes the change, so both commit or neither does. Everything
else goes through ``apps.audit.recorder``, which batches into ``record_many``.
Appending locks the chain head until the transaction ends: call ``record`` as
the last step of the transaction, after the work that may wait."""
from __future__ import annotations

import logging
import math
import operator
from functools import lru_cache
from collections.abc import Sequence
from datetime import UTC, datetime

from django.db import connection, transaction
from django.db.models import Max, Min
from django.utils import timezone

from .chain import JSON_FIELDS, canonical, chain_hash, json_text
from .events import EventDraft
from .models import ERROR_MESSAGE_MAX_LENGTH, ChainHead, Event, PruneRecord

logger = logging.getLogger(__name__)

PRUNE_CHUNK_SIZE = 10_000
IMAGE_REFERENCE_DEPTH = 4  # how deep in the parameters an imageDigest / imageTag is looked for


class RecordOutsideTransaction(RuntimeError):
    """record() was called with no transaction open: the event could commit without
    the change it describes, or the change without its event."""


def record(
    draft: EventDraft, *, response_elements: dict | None = None, error_code: str = "", error_message: str = ""
) -> Event:
    """Write ``draft`` in the caller's open transaction and mark it recorded."""
    if not transaction.get_connection().in_atomic_block:
        raise RecordOutsideTransaction(
            f"audit event {draft.event_name} must be recorded inside the transaction of the change it describes"
        )
    if draft.recorded:
        raise ValueError(f"audit event {draft.event_name} {draft.event_id} is recorded already")
    if response_elements is not None:
        draft.response_elements = response_elements
    if error_code:
        draft.error_code = error_code
        draft.error_message = error_message
    [row] = _append([draft])
    return Event.objects.get(sequence=row["sequence"])


def record_many(drafts: Sequence[EventDraft]) -> list[Event]:
    """Append a batch of events under one lock of the chain head, in order, and
    return them as stored. A draft already recorded (or given twice) is written once."""
    rows = _append_batch(drafts)
    if not rows:
        return []
    return list(Event.objects.filter(sequence__range=(rows[0]["sequence"], rows[-1]["sequence"])).order_by("sequence"))


def append_batch(drafts: Sequence[EventDraft]) -> int:
    """``record_many`` for the recorder, which needs only the count: the pull path's
    writes build no model instances."""
    return len(_append_batch(drafts))


def _append_batch(drafts: Sequence[EventDraft]) -> list[dict]:
    unrecorded = list({id(draft): draft for draft in drafts if not draft.recorded}.values())
    if not unrecorded:
        return []
    with transaction.atomic():
        return _append(unrecorded)


def _append(drafts: Sequence[EventDraft]) -> list[dict]:
    """Append the drafts' rows to the chain; returns them (Event field values)."""
    # Everything that takes time happens before the head is locked.
    rows = [_row_from(draft) for draft in drafts]
    forms = [canonical(row) for row in rows]
    head = _locked_head()
    sequence, previous = head.last_sequence, head.last_hash
    for row, form in zip(rows, forms):
        sequence += 1
        row["sequence"] = sequence
        row["previous_hash"] = previous
        row["hash"] = previous = chain_hash(previous, form)
    _insert(rows)
    ChainHead.objects.filter(pk=1).update(last_sequence=sequence, last_hash=previous)
    for draft in drafts:
        draft.recorded = True
    return rows


_COLUMNS = [field for field in Event._meta.concrete_fields if not field.primary_key]
# What the row carries for each column: the JSON fields as their text (hashed already).
_ROW_KEYS = [f"{field.attname}_json" if field.attname in JSON_FIELDS else field.attname for field in _COLUMNS]


_row_values = operator.itemgetter(*_ROW_KEYS)
_EVENT_ID_INDEX = _ROW_KEYS.index("event_id")
_EVENT_TIME_INDEX = _ROW_KEYS.index("event_time")
_MAX_ROWS_PER_INSERT = 500


def _insert(rows: Sequence[dict]) -> None:
    """The batch's rows: COPY on PostgreSQL, multi-row INSERTs elsewhere. The ORM's
    bulk_create builds a model instance per event and prepares every value of every
    row: two thirds of a pull event's cost. Here the JSON fields go in as the text
    that was hashed (both databases take text for JSON), and only the id and the
    time are adapted."""
    sqlite = connection.vendor == "sqlite"
    native_uuid = connection.features.has_native_uuid_field
    adapt_time = _sqlite_time if sqlite else connection.ops.adapt_datetimefield_value
    values = []
    for row in rows:
        value = list(_row_values(row))
        if not native_uuid:
            value[_EVENT_ID_INDEX] = value[_EVENT_ID_INDEX].hex
        value[_EVENT_TIME_INDEX] = adapt_time(value[_EVENT_TIME_INDEX])
        values.append(value)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # COPY: the driver would otherwise parse each multi-row statement's
            # thousands of placeholders, every time (about 100 µs an event).
            with connection.wrap_database_errors, cursor.cursor.copy(_copy_sql()) as copy:
                for value in values:
                    copy.write_row(value)
            return
        # SQLite's own cursor: Django's would rewrite the thousands of %s of each
        # statement into ? with a regular expression, every time.
        execute = cursor.cursor.connection.execute if sqlite else cursor.execute
        size = max(1, min(_MAX_ROWS_PER_INSERT, connection.ops.bulk_batch_size(_COLUMNS, values)))
        for start in range(0, len(values), size):
            chunk = values[start : start + size]
            with connection.wrap_database_errors:  # the driver's errors as Django's, as the cursor would
                execute(_insert_sql(len(chunk), "?" if sqlite else "%s"), [value for row in chunk for value in row])


def _sqlite_time(moment: datetime) -> str:
    """What Django's SQLite backend stores for an aware time (naive UTC text), for
    a fraction of its adapt_datetimefield_value."""
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    return str(moment.replace(tzinfo=None))


@lru_cache(maxsize=1)
def _copy_sql() -> str:
    quote = connection.ops.quote_name
    return f"COPY {quote(Event._meta.db_table)} ({', '.join(quote(f.column) for f in _COLUMNS)}) FROM STDIN"


@lru_cache(maxsize=8)
def _insert_sql(rows: int, placeholder: str) -> str:
    quote = connection.ops.quote_name
    placeholders = "(" + ", ".join([placeholder] * len(_COLUMNS)) + ")"
    return (
        f"INSERT INTO {quote(Event._meta.db_table)} ({', '.join(quote(f.column) for f in _COLUMNS)}) "
        f"VALUES {', '.join([placeholders] * rows)}"
    )


def _locked_head() -> ChainHead:
    head = ChainHead.objects.select_for_update().filter(pk=1).first()
    if head is None:
        # A fresh (or flushed) database: the head starts after whatever events there are.
        last = Event.objects.order_by("-sequence").values_list("sequence", "hash").first()
        if last is None:
            ChainHead.objects.bulk_create([ChainHead(pk=1)], ignore_conflicts=True)
        else:
            ChainHead.objects.bulk_create(
                [ChainHead(pk=1, last_sequence=last[0], last_hash=last[1])], ignore_conflicts=True
            )
        head = ChainHead.objects.select_for_update().get(pk=1)
    return head


# -- turning a draft into a row that any database stores as given ---------------------

_CHAR_FIELDS = {
    field.name: field.max_length
    for field in Event._meta.get_fields()
    if getattr(field, "max_length", None) and field.get_internal_type() == "CharField"
}


def _clean_text(value) -> str:
    """Text every database stores unchanged: no NUL, no lone surrogates."""
    text = value if isinstance(value, str) else str(value)
    if text.isascii():  # nearly always: only NUL can be wrong, and it is rare
        return text.replace("\x00", "\ufffd") if "\x00" in text else text
    return text.replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")


def _json_safe(value):
    """JSON that reads back as written, from PostgreSQL's jsonb as from SQLite's text:
    string keys, no NaN, and whole floats as integers (jsonb may drop their `.0`)."""
    if isinstance(value, dict):
        return {_clean_text(key): _json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(item) for item in value]
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return int(value) if value.is_integer() else value
    return _clean_text(value)


_PLAIN_TYPES = (str, int, bool, type(None))


def _json_field(value) -> tuple[object, str]:
    """A JSON field's value made ``_json_safe``, and its json_text. The usual one (a
    flat object of text, integers and booleans, all ASCII without NUL, which its JSON
    text shows at once) is already safe: only its text is made."""
    if type(value) is dict and all(type(key) is str and type(item) in _PLAIN_TYPES for key, item in value.items()):
        text = json_text(value)
        if text.isascii() and "\\u0000" not in text:
            return value, text
    value = _json_safe(value)
    return value, json_text(value)


def _found(container, key: str, depth: int = 0) -> str:
    """The first string ``key`` in nested dicts and lists, breadth first."""
    if depth > IMAGE_REFERENCE_DEPTH:
        return ""
    if isinstance(container, dict):
        value = container.get(key)
        if isinstance(value, str) and value:
            return value
        children = container.values()
    elif isinstance(container, list):
        children = container
    else:
        return ""
    for child in children:
        found = _found(child, key, depth + 1)
        if found:
            return found
    return ""


def image_reference(request_parameters: dict, response_elements: dict) -> tuple[str, str]:
    """(digest, tag) an event is about: the first `imageDigest` / `imageTag` in its
    response elements (which name the digest a tag resolved to), else in its request
    parameters, at the top level or nested (`imageId`, `image.imageId`, `imageIds[0]`)."""
    digest = _found(response_elements, "imageDigest") or _found(request_parameters, "imageDigest")
    tag = _found(response_elements, "imageTag") or _found(request_parameters, "imageTag")
    return digest, tag


# The short text columns, in the order _row_from reads them off a draft.
_TEXT_COLUMNS = (
    "event_name", "event_source",
    "actor_type", "actor_arn", "actor_account_id", "actor_username", "actor_access_key_id",
    "actor_session_name", "actor_role_arn",
    "source_ip", "user_agent", "request_id", "recipient_account_id", "repository", "error_code",
)
_TEXT_LIMITS = tuple(_CHAR_FIELDS[name] for name in _TEXT_COLUMNS)


def _fitted_texts(values: tuple) -> list[str]:
    """The short text columns' values, cleaned and cut to their columns. Every pull
    passes here: one check of all of them at once covers nearly every event."""
    try:
        joined = "".join(values)
    except TypeError:  # a None, or a value that is not text
        joined = None
    if joined is None or not joined.isascii() or "\x00" in joined:
        values = [_clean_text(value or "") for value in values]
    return [value if len(value) <= limit else value[:limit] for value, limit in zip(values, _TEXT_LIMITS)]


def _row_from(draft: EventDraft) -> dict:
    """The Event field values of a draft, as they will read back from the database."""
    request_parameters, request_parameters_json = _json_field(draft.request_parameters or {})
    response_elements, response_elements_json = _json_field(draft.response_elements or {})
    digest, tag = image_reference(request_parameters, response_elements)
    actor = draft.actor
    event_time = draft.event_time
    if event_time.tzinfo is None:
        event_time = event_time.replace(tzinfo=UTC)
    row = dict(zip(_TEXT_COLUMNS, _fitted_texts((
        draft.event_name, draft.event_source,
        actor.type, actor.arn, actor.account_id, actor.username, actor.access_key_id,
        actor.session_name, actor.role_arn,
        draft.source_ip, draft.user_agent, draft.request_id, draft.recipient_account_id, draft.repository,
        draft.error_code,
    ))))
    row.update(
        event_id=draft.event_id,
        event_time=event_time,
        read_only=bool(draft.read_only),
        # A value too long for its column names nothing to look up: kept only in the parameters.
        image_digest=digest if len(digest) <= _CHAR_FIELDS["image_digest"] else "",
        image_tag=tag if len(tag) <= _CHAR_FIELDS["image_tag"] else "",
        request_parameters=request_parameters,
        response_elements=response_elements,
        request_parameters_json=request_parameters_json,
        response_elements_json=response_elements_json,
        error_message=_clean_text(draft.error_message or "")[:ERROR_MESSAGE_MAX_LENGTH],
    )
    return row


# -- retention ------------------------------------------------------------------------


def prune(*, older_than: datetime, chunk_size: int = PRUNE_CHUNK_SIZE) -> int:
    """Delete the events recorded before ``older_than`` and return how many went.

    Only a prefix of the chain goes (everything before the first event at or after
    ``older_than``), a chunk per transaction, and each chunk updates this run's
    PruneRecord in the same transaction: the chain verifies from the first event
    left whenever the run stops."""
    first_kept = Event.objects.filter(event_time__gte=older_than).aggregate(first=Min("sequence"))["first"]
    bounds = Event.objects.aggregate(first=Min("sequence"), last=Max("sequence"))
    if bounds["first"] is None:
        return 0
    through = first_kept - 1 if first_kept is not None else bounds["last"]
    start = bounds["first"]
    removed = 0
    run: PruneRecord | None = None
    while start <= through:
        end = min(start + chunk_size - 1, through)
        with transaction.atomic():
            last = Event.objects.filter(sequence__lte=end).order_by("-sequence").values_list("sequence", "hash").first()
            count, _ = Event.objects.filter(sequence__lte=end).delete()
            if not count:
                break
            removed += count
            if run is None:
                run = PruneRecord(older_than=older_than, removed_count=0)
            run.through_sequence, run.last_removed_hash = last
            run.removed_count += count
            run.pruned_at = timezone.now()
            run.save()
        start = end + 1
    if removed:
        logger.info("audit retention removed %d events through sequence %d", removed, run.through_sequence)
    return removed
