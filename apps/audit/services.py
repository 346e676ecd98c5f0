"""Every write to the trail: appending events to the hash chain, the tally of
failed requests from outside an account, and retention.

An event that goes with a state change is written by ``record`` inside the
transaction that makes the change, so both commit or neither does. Everything
else goes through ``apps.audit.recorder`` and its spool, whose rows the audit
writer appends in batches (``append_rows``), after ``tally_failures`` has taken
out the failures it counts instead; ``take_due_failure_reports`` makes their
aggregate events.
Appending locks the chain head until the transaction ends: call ``record`` as
the last step of the transaction, after the work that may wait."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Max, Min
from django.utils import timezone

from apps.kernel.requests import RequestContext, address_group

from . import events
from .chain import HASHED_FIELDS, chain_hash, iso_time
from .events import AGGREGATE, Actor, EventDraft
from .models import ChainHead, Event, FailureWindow, PruneRecord
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


def record_change(
    *,
    actor: Actor,
    context: RequestContext | None,
    event_name: str,
    event_source: str = "ecr",
    recipient_account_id: str = "",
    repository: str = "",
    request_parameters: dict | None = None,
    response_elements: dict | None = None,
) -> Event:
    """Record the change ``actor`` made, last in the caller's open transaction.

    A change a request asked for (``context``) is recorded as the write event that
    request started (events.begin), which keeps its name and parameters (the
    ``request_parameters``, recipient account and repository given fill in what it
    lacks: AssumeRole learns the role's account only here). Any other (Berth's own
    work, with no context; a request that started no event, as the staff console's;
    a second change of one request) is an event of its own, named ``event_name``."""
    draft = events.started(context)
    if draft is None or draft.recorded or draft.read_only:
        draft = events.unstarted(
            actor,
            context,
            event_name=event_name,
            event_source=event_source,
            recipient_account_id=recipient_account_id,
            repository=repository,
            request_parameters=request_parameters,
        )
    else:
        if request_parameters:
            draft.request_parameters = {**events.with_values(request_parameters), **draft.request_parameters}
        draft.recipient_account_id = draft.recipient_account_id or recipient_account_id
        draft.repository = draft.repository or repository
    return record(draft, response_elements=response_elements)


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
    """The chain head, locked until the caller's transaction ends: every write of
    every app waits here, last. PostgreSQL checks foreign keys at commit (Django
    makes them deferred); one that waited there for another transaction's row
    lock while this lock is held would deadlock with that transaction, should it
    come here next. So the checks run first, before the lock is taken."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
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


# -- failed requests from outside an account ------------------------------------------
#
# Anyone can make requests that fail against an account (a private repository's
# name is enough), and each failure is an event in that account's trail, kept as
# long as the trail: an outsider's loop would fill it. The account owner still
# wants to know that someone is probing, and from where: per (account, caller's
# account, source, operation, error code) and window, the first
# BERTH_AUDIT_FAILURES_PER_SOURCE failures are recorded one by one and the rest
# counted, in the transaction that would have written them (so each is counted
# exactly once, as each is written exactly once), and one aggregate event per
# window, written when it is over, reports how many there were, when, and a few of
# the addresses, principals, repositories and user agents. The window's source is
# the caller's address, or its /64 for IPv6 (one subscriber's share). The caller's
# account is part of the key so that each aggregate is seen by the accounts that
# see the events it counts (the target's, and the caller's own).

_POSITION = {name: index for index, name in enumerate(HASHED_FIELDS)}
_WINDOW_KEY = (
    "recipient_account_id",
    "actor_account_id",
    "source",
    "event_source",
    "event_name",
    "error_code",
    "window_start",
)
_WINDOW_FIELDS = (
    _POSITION["recipient_account_id"],
    _POSITION["actor_account_id"],
    _POSITION["source_ip"],
    _POSITION["event_source"],
    _POSITION["event_name"],
    _POSITION["error_code"],
)
_ERROR_CODE, _ACTOR_ACCOUNT_ID, _RECIPIENT_ACCOUNT_ID = (
    _POSITION["error_code"],
    _POSITION["actor_account_id"],
    _POSITION["recipient_account_id"],
)
# What an aggregate repeats of the first failure it counts.
_SAMPLED = (
    "read_only",
    "actor_type",
    "actor_arn",
    "actor_username",
    "actor_access_key_id",
    "actor_session_name",
    "actor_role_arn",
    "user_agent",
)
# The details an aggregate lists (by the field they come from), DETAIL_VALUES_KEPT distinct values of each at most.
_DETAILS = (
    ("sourceIPAddresses", _POSITION["source_ip"]),
    ("principals", _POSITION["actor_arn"]),
    ("repositories", _POSITION["repository"]),
    ("userAgents", _POSITION["user_agent"]),
)
DETAIL_VALUES_KEPT = 10
# A window is reported this long after it ends: spooled events reach the trail
# within seconds of their time (a later one is counted all the same, and reported
# by a further aggregate event).
FAILURE_REPORT_DELAY = timedelta(seconds=10)
# How long a reported window is kept after it ends, so that a late event (a spool
# ingested after an outage) still finds how many its window recorded.
FAILURE_WINDOW_KEPT = timedelta(days=1)


def _from_outside(fields: list) -> bool:
    """A failed request of a caller outside the account it was made against: an
    anonymous one (against an account or not), or another account's principal. An
    account's own principals' failures stay in its trail one by one."""
    actor_account_id = fields[_ACTOR_ACCOUNT_ID]
    return not actor_account_id or fields[_RECIPIENT_ACCOUNT_ID] not in ("", actor_account_id)


def tally_failures(rows: Sequence[EventRow]) -> Sequence[EventRow]:
    """The rows to write one by one: ``rows`` without the failed requests from
    outside an account past the first BERTH_AUDIT_FAILURES_PER_SOURCE of their
    window, which are counted in their window (FailureWindow) instead, in the
    caller's transaction. Write the rows returned in that same transaction."""
    outsiders = [row for row in rows if row.fields[_ERROR_CODE] and _from_outside(row.fields)]
    if not outsiders:
        return rows  # every pull, and nearly every batch
    length = settings.BERTH_AUDIT_FAILURE_WINDOW_SECONDS
    groups: dict[tuple, list[EventRow]] = {}
    for row in outsiders:
        groups.setdefault(_window_key(row, length), []).append(row)
    windows = _locked_windows(sorted(groups), timedelta(seconds=length))
    limit = settings.BERTH_AUDIT_FAILURES_PER_SOURCE
    counted: set[int] = set()
    for key, failures in groups.items():
        window = windows[key]
        room = max(0, limit - window.recorded)
        window.recorded += min(room, len(failures))
        for row in failures[room:]:
            _count(window, row)
            counted.add(id(row))
        window.save(update_fields=["recorded", "counted", "first_time", "last_time", "sample", "details"])
    return [row for row in rows if id(row) not in counted] if counted else rows


def _window_key(row: EventRow, length: int) -> tuple:
    fields = row.fields
    recipient, actor_account, address, event_source, event_name, error_code = (fields[i] for i in _WINDOW_FIELDS)
    start = datetime.fromtimestamp(int(row.event_time.timestamp()) // length * length, UTC)
    return recipient, actor_account, address_group(address), event_source, event_name, error_code, start


def _locked_windows(keys: list[tuple], length: timedelta) -> dict[tuple, FailureWindow]:
    """The windows of ``keys`` (sorted), made when new, each locked until the
    transaction ends. One upsert takes them in the keys' order: ingesters on hosts
    that share the database, counting the same sources, never wait on each other
    in a cycle."""
    made = FailureWindow.objects.bulk_create(
        [FailureWindow(**dict(zip(_WINDOW_KEY, key)), window_end=key[-1] + length) for key in keys],
        update_conflicts=True,
        unique_fields=_WINDOW_KEY,
        update_fields=["window_end"],
    )
    found = FailureWindow.objects.filter(pk__in=[window.pk for window in made])
    return {tuple(getattr(window, name) for name in _WINDOW_KEY): window for window in found}


def _count(window: FailureWindow, row: EventRow) -> None:
    moment = row.event_time
    fields = row.fields
    if window.counted == window.reported:  # the first its next aggregate reports
        window.first_time = window.last_time = moment
        window.sample = {name: fields[_POSITION[name]] for name in _SAMPLED}
        window.details = {}
    else:
        window.first_time = min(window.first_time, moment)
        window.last_time = max(window.last_time, moment)
    window.counted += 1
    for detail, position in _DETAILS:
        kept = window.details.setdefault(detail, [])
        if len(kept) < DETAIL_VALUES_KEPT and fields[position] not in kept:
            kept.append(fields[position])


def take_due_failure_reports(*, now: datetime) -> list[EventRow]:
    """The aggregate events of the windows over (FAILURE_REPORT_DELAY before
    ``now``) that counted failures no aggregate reports yet, as rows to append in
    the caller's transaction, in which the windows are marked reported. Windows
    another transaction holds are left to it."""
    due = (
        FailureWindow.objects.select_for_update(skip_locked=True)
        .filter(window_end__lte=now - FAILURE_REPORT_DELAY, counted__gt=F("reported"))
        .order_by("window_end", "pk")
    )
    rows = []
    for window in due:
        rows.append(EventRow.from_draft(_aggregate(window)))
        window.reported = window.counted
        window.first_time = window.last_time = None
        window.sample, window.details = {}, {}
        window.save(update_fields=["reported", "first_time", "last_time", "sample", "details"])
    return rows


def failure_reports_due(*, now: datetime) -> bool:
    """Whether take_due_failure_reports has anything to take (a read: an idle
    ingester's pass opens no write transaction for it)."""
    return FailureWindow.objects.filter(window_end__lte=now - FAILURE_REPORT_DELAY, counted__gt=F("reported")).exists()


def _aggregate(window: FailureWindow) -> EventDraft:
    """The event that reports the failures ``window`` counted since its last report."""
    sample = window.sample
    count = window.counted - window.reported
    first, last = iso_time(window.first_time), iso_time(window.last_time)
    repositories = window.details.get("repositories", [])
    return EventDraft(
        event_name=window.event_name,
        event_source=window.event_source,
        actor=Actor(
            type=sample["actor_type"],
            arn=sample["actor_arn"],
            account_id=window.actor_account_id,
            username=sample["actor_username"],
            access_key_id=sample["actor_access_key_id"],
            session_name=sample["actor_session_name"],
            role_arn=sample["actor_role_arn"],
        ),
        source_ip=window.source,
        user_agent=sample["user_agent"],
        request_id="",
        read_only=sample["read_only"],
        recipient_account_id=window.recipient_account_id,
        repository=repositories[0] if len(repositories) == 1 else "",
        response_elements={
            AGGREGATE: {
                "count": count,
                "firstEventTime": first,
                "lastEventTime": last,
                "windowStart": iso_time(window.window_start),
                "windowEnd": iso_time(window.window_end),
                "recordedOneByOne": window.recorded,
                **window.details,
            }
        },
        error_code=window.error_code,
        error_message=(
            f"{count} more {window.event_name} requests from {window.source} failed with {window.error_code} "
            f"from {first} to {last}: counted, beyond the {window.recorded} of the window recorded one by one"
        ),
        event_time=window.last_time,
    )


def prune_failure_windows(*, ended_before: datetime) -> int:
    """Forget the windows that ended before ``ended_before`` and are reported; returns how many."""
    removed, _ = FailureWindow.objects.filter(window_end__lt=ended_before, counted=F("reported")).delete()
    return removed


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
