"""Every write to the trail: appending events to the hash chain, and retention.

An event that goes with a state change is written by ``record`` inside the
transaction that makes the change, so both commit or neither does. Everything
else goes through ``apps.audit.recorder`` and its spool, whose rows the audit
writer appends in batches (``append_rows``).
Appending locks the chain head until the transaction ends: call ``record`` as
the last step of the transaction, after the work that may wait."""
from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache

from django.db import connection, transaction
from django.db.models import Max, Min
from django.utils import timezone

from .chain import HASHED_FIELDS, chain_hash
from .events import EventDraft
from .models import ChainHead, Event, PruneRecord
from .rows import EVENT_ID, EVENT_TIME, EventRow

logger = logging.getLogger(__name__)

PRUNE_CHUNK_SIZE = 10_000


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
    [sequence] = append_rows([EventRow.from_draft(draft)])
    draft.recorded = True
    return Event.objects.get(sequence=sequence)


def record_many(drafts: Sequence[EventDraft]) -> list[Event]:
    """Append a batch of events under one lock of the chain head, in order, and
    return them as stored. A draft already recorded (or given twice) is written once."""
    unrecorded = list({id(draft): draft for draft in drafts if not draft.recorded}.values())
    if not unrecorded:
        return []
    sequences = append_rows([EventRow.from_draft(draft) for draft in unrecorded])
    for draft in unrecorded:
        draft.recorded = True
    return list(Event.objects.filter(sequence__range=(sequences[0], sequences[-1])).order_by("sequence"))


def append_rows(rows: Sequence[EventRow]) -> list[int]:
    """Append the rows to the chain, in order, in one transaction (the caller's, if
    one is open); returns their sequence numbers. The chain head stays locked until
    that transaction ends."""
    if not rows:
        return []
    with transaction.atomic():
        head = _locked_head()
        first = sequence = head.last_sequence + 1
        previous = head.last_hash
        sqlite = connection.vendor == "sqlite"
        values = []
        for row in rows:
            digest = chain_hash(previous, row.form)
            values.append(_column_values(row.fields, sequence, previous, digest, sqlite))
            previous = digest
            sequence += 1
        _insert(values)
        ChainHead.objects.filter(pk=1).update(last_sequence=sequence - 1, last_hash=previous)
    return list(range(first, sequence))


# The columns a row fills: the hashed fields in their order, then the chain's own.
_COLUMNS = [Event._meta.get_field(name) for name in (*HASHED_FIELDS, "sequence", "previous_hash", "hash")]
assert {field.attname for field in _COLUMNS} == {
    field.attname for field in Event._meta.concrete_fields if not field.primary_key
}, "every Event column is written"


def _column_values(fields: list, sequence: int, previous: str, digest: str, sqlite: bool) -> list:
    """A row's values as the database takes them: only the id and the time differ
    from their canonical spelling. SQLite (as Django stores them there): the id as
    32 hex digits, the time as naive UTC text without a fraction of zero;
    PostgreSQL reads both as they are."""
    values = [*fields, sequence, previous, digest]
    if sqlite:
        values[EVENT_ID] = values[EVENT_ID].replace("-", "")
        moment = values[EVENT_TIME]  # YYYY-MM-DDTHH:MM:SS.ffffffZ
        fraction = moment[19:26]
        values[EVENT_TIME] = f"{moment[:10]} {moment[11:19]}{'' if fraction == '.000000' else fraction}"
    return values


_MAX_ROWS_PER_INSERT = 500


def _insert(values: Sequence[list]) -> None:
    """The batch's rows: COPY on PostgreSQL, multi-row INSERTs elsewhere. The ORM's
    bulk_create builds a model instance per event and prepares every value of every
    row: two thirds of a pull event's cost. Here the JSON fields go in as the text
    that was hashed (both databases take text for JSON)."""
    sqlite = connection.vendor == "sqlite"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # COPY: the driver would otherwise parse each multi-row statement's
            # thousands of placeholders, every time (about 100 µs an event).
            with connection.wrap_database_errors, cursor.cursor.copy(_copy_sql()) as copy:
                for value in values:
                    copy.write_row(value)
            return
        # SQLite's own cursor: Django's would rewrite the thousands of %s of each
        # statement into ? with a regular expression, every time. (One statement of
        # many rows: executemany of a one-row statement costs a quarter more.)
        execute = cursor.cursor.connection.execute if sqlite else cursor.execute
        if sqlite:
            # Django assumes SQLite's old limit of 999 parameters a statement (38
            # rows); the library's own (32,766 by default since 3.32) is asked. Each
            # statement keeps the pages it changes in a statement journal, which
            # past 64 KiB is a temporary file: statements of 38 rows wrote 3.8 pages
            # of it an event, statements of 500 next to none.
            limit = cursor.cursor.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // len(_COLUMNS)
        else:
            limit = connection.ops.bulk_batch_size(_COLUMNS, values)
        size = max(1, min(_MAX_ROWS_PER_INSERT, limit))
        for start in range(0, len(values), size):
            chunk = values[start : start + size]
            with connection.wrap_database_errors:  # the driver's errors as Django's, as the cursor would
                execute(_insert_sql(len(chunk), "?" if sqlite else "%s"), [value for row in chunk for value in row])


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
