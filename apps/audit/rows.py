"""An event as the trail stores and hashes it.

``EventRow.fields`` holds the values of ``chain.HASHED_FIELDS`` in that order, in
the form the canonical JSON holds them: the event id as text, the time as
``chain.iso_time``, the two JSON fields as their ``chain.json_text``; every other
value as it is stored. ``EventRow.form`` is the canonical JSON of those fields,
the text the chain hashes.

A draft becomes a row once (``from_draft``): cleaned so any database stores each
value unchanged and gives back the bytes that were hashed, and cut to its
column. The spool carries the row's form, so the audit writer reads an event
back from it and hashes the line's own text: no draft, no second cleaning, no
second encoding.

Both ends keep the parts of the form that repeat from event to event (see "the
spool's forms" below): the web process makes a pull's form from them
(``spool_form``), and the audit writer reads them back as parsed once
(``from_parts``); ``from_form`` reads a whole form with one JSON parse."""

from __future__ import annotations

import json
import math
import re
import uuid
from datetime import UTC, datetime
from functools import cached_property
from json.encoder import encode_basestring  # how the canonical encoder quotes text

from .chain import CANONICAL_ENCODER, HASHED_FIELDS, iso_time, json_text
from .events import EventDraft
from .models import ERROR_MESSAGE_MAX_LENGTH, Event

IMAGE_REFERENCE_DEPTH = 4  # how deep in the parameters an imageDigest / imageTag is looked for

# Positions in HASHED_FIELDS.
(
    EVENT_ID,
    EVENT_TIME,
    EVENT_NAME,
    READ_ONLY,
    SOURCE_IP,
    USER_AGENT,
    REQUEST_ID,
    RECIPIENT_ACCOUNT_ID,
    REPOSITORY,
    REQUEST_PARAMETERS,
    RESPONSE_ELEMENTS,
    ERROR_CODE,
) = (
    HASHED_FIELDS.index(name)
    for name in (
        "event_id",
        "event_time",
        "event_name",
        "read_only",
        "source_ip",
        "user_agent",
        "request_id",
        "recipient_account_id",
        "repository",
        "request_parameters",
        "response_elements",
        "error_code",
    )
)

_CHAR_LIMITS = {
    field.name: field.max_length
    for field in Event._meta.get_fields()
    if getattr(field, "max_length", None) and field.get_internal_type() == "CharField"
}
# What a row from elsewhere (a spool line) must look like: text everywhere but the
# read_only flag, the id and the time in their one canonical spelling.
_TYPES = [bool if name == "read_only" else str for name in HASHED_FIELDS]
_EVENT_ID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_TIME_TEXT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")


_parse = json.JSONDecoder().decode


# What from_parts reads: the id and the time, then <who> (event name .. role ARN),
# then the address, agent and request id, then <what> (account .. error message).
_HEAD = re.compile(rf'\["({_EVENT_ID_TEXT.pattern})","({_TIME_TEXT.pattern})",').match
_WHO_PART = slice(EVENT_NAME, SOURCE_IP)  # event_name .. actor_role_arn
_MIDDLE_PART = slice(SOURCE_IP, RECIPIENT_ACCOUNT_ID)  # source_ip, user_agent, request_id
_WHAT_PART = slice(RECIPIENT_ACCOUNT_ID, None)  # recipient_account_id .. error_message
_WHO_TYPES, _MIDDLE_TYPES, _WHAT_TYPES = _TYPES[_WHO_PART], _TYPES[_MIDDLE_PART], _TYPES[_WHAT_PART]
_WHAT_PARAMETERS, _WHAT_RESPONSE = REQUEST_PARAMETERS - RECIPIENT_ACCOUNT_ID, RESPONSE_ELEMENTS - RECIPIENT_ACCOUNT_ID
# Parts read, by their text (the writer's side of spool_form's stores).
_WHO_FIELDS: dict[str, list] = {}
_WHAT_FIELDS: dict[str, list] = {}


def _parsed(store: dict | None, text: str, types: list) -> list:
    """The values of a stretch of a form (``text``, JSON values and commas), checked
    against ``types`` and kept in ``store`` (when one is given)."""
    values = store.get(text) if store is not None else None
    if values is None:
        try:
            values = _parse(f"[{text}]")
        except ValueError as error:
            raise BadRow(f"not JSON: {error}") from None
        if list(map(type, values)) != types:
            raise BadRow(f"not the {len(types)} fields of its stretch")
        if store is not None:
            _keep(store, text, values)
    return values


def _keep(store: dict, key, part) -> None:
    """Keep ``part`` in ``store``, which starts over when it holds _PARTS_KEPT."""
    if len(store) >= _PARTS_KEPT:
        store.clear()
    store[key] = part


class BadRow(ValueError):
    """A form that is not the canonical JSON of an event."""


def _field(index: int) -> property:
    """A hashed field, read as a draft's attribute of the same name."""
    return property(lambda row: row.fields[index], doc=f"the {HASHED_FIELDS[index]} field")


class EventRow:
    """One event ready to be appended: its hashed fields and their canonical form.
    Listeners read it like a draft (``event_name``, ``request_parameters``, ...)."""

    __slots__ = ("__dict__", "fields", "form")

    def __init__(self, fields: list, form: str) -> None:
        self.fields = fields
        self.form = form

    @classmethod
    def from_draft(cls, draft: EventDraft) -> EventRow:
        request_parameters, request_parameters_json, request_parameters_quoted = _json_field(
            draft.request_parameters or {}
        )
        response_elements, response_elements_json, response_elements_quoted = _json_field(draft.response_elements or {})
        digest, tag = image_reference(request_parameters, response_elements)
        actor = draft.actor
        event_time = draft.event_time
        if event_time.tzinfo is None:
            event_time = event_time.replace(tzinfo=UTC)
        texts = _fitted_texts(
            (
                draft.event_name,
                draft.event_source,
                actor.type,
                actor.arn,
                actor.account_id,
                actor.username,
                actor.access_key_id,
                actor.session_name,
                actor.role_arn,
                draft.source_ip,
                draft.user_agent,
                draft.request_id,
                draft.recipient_account_id,
                draft.repository,
            )
        )
        fields = [
            str(draft.event_id),
            iso_time(event_time),
            *texts[:2],
            bool(draft.read_only),
            *texts[2:],
            # A value too long for its column names nothing to look up: kept only in the parameters.
            digest if len(digest) <= _CHAR_LIMITS["image_digest"] else "",
            tag if len(tag) <= _CHAR_LIMITS["image_tag"] else "",
            _JSON_MARKS[0],
            _JSON_MARKS[1],
            _fit(_clean_text(draft.error_code or ""), _CHAR_LIMITS["error_code"]),
            _clean_text(draft.error_message or "")[:ERROR_MESSAGE_MAX_LENGTH],
        ]
        # The JSON fields' quoted texts go in where their marks are: no other field
        # holds a NUL (all are cleaned), so the marks' spelling occurs once.
        form = CANONICAL_ENCODER.encode(fields).replace(
            _JSON_MARKS_ENCODED, f"{request_parameters_quoted},{response_elements_quoted}", 1
        )
        fields[REQUEST_PARAMETERS] = request_parameters_json
        fields[RESPONSE_ELEMENTS] = response_elements_json
        row = cls(fields, form)
        # what the images.pulled event reads, known already
        row.__dict__.update(request_parameters=request_parameters, response_elements=response_elements)
        return row

    @classmethod
    def from_form(cls, form: str) -> EventRow:
        """The row whose canonical form is ``form``, as ``from_draft`` made it (in
        another process: the spool's lines carry it); BadRow when it does not read
        as one. Checked for shape, not re-encoded: only a hand that could as well
        have written other values makes a line that parses and is not canonical."""
        try:
            fields = _parse(form)
        except ValueError as error:
            raise BadRow(f"not JSON: {error}") from None
        if type(fields) is not list or list(map(type, fields)) != _TYPES:
            raise BadRow(f"not an array of the {len(HASHED_FIELDS)} hashed fields")
        if not (
            _EVENT_ID_TEXT.fullmatch(fields[EVENT_ID])
            and _TIME_TEXT.fullmatch(fields[EVENT_TIME])
            and fields[REQUEST_PARAMETERS][:1] == fields[RESPONSE_ELEMENTS][:1] == "{"
        ):
            raise BadRow("a field is not in its canonical spelling")
        return cls(fields, form)

    @classmethod
    def from_parts(cls, form: str, who_length: int, what_length: int) -> EventRow:
        """``from_form(form)``, reading the form as the spool_form that made it: its
        <who> and <what> (whose lengths the line gives) are parsed once and kept,
        so a pull's line costs a match of its id and time and a split of its
        address, agent and request id. BadRow when it does not read as one."""
        head = _HEAD(form)
        if head is None:
            raise BadRow("a field is not in its canonical spelling")
        who_start = head.end()
        who_end = who_start + who_length
        what_start = len(form) - 1 - what_length
        if (
            who_length <= 0
            or what_length <= 0
            or what_start - who_end < 10
            or form[who_end] != ","
            or form[what_start - 1] != ","
            or form[-1] != "]"
        ):
            raise BadRow("not a form of the lengths given")
        who = _parsed(_WHO_FIELDS, form[who_start:who_end], _WHO_TYPES)
        what = _parsed(_WHAT_FIELDS, form[what_start:-1], _WHAT_TYPES)
        if what[_WHAT_PARAMETERS][:1] != "{" or what[_WHAT_RESPONSE][:1] != "{":
            raise BadRow("a field is not in its canonical spelling")
        middle = form[who_end + 1 : what_start - 1]  # "<address>","<agent>","<request id>"
        if "\\" not in middle and middle.count('"') == 6 and middle.isprintable() and middle[:1] == middle[-1:] == '"':
            texts = middle[1:-1].split('","')  # three texts without escapes
        else:
            texts = _parsed(None, middle, _MIDDLE_TYPES)
        if len(texts) != 3:
            raise BadRow("not the three texts between its parts")
        return cls([head[1], head[2], *who, *texts, *what], form)

    # -- read like a draft (the recorder's images.pulled event) ---------------------

    event_id = _field(EVENT_ID)
    event_name = _field(EVENT_NAME)
    read_only = _field(READ_ONLY)
    request_id = _field(REQUEST_ID)
    recipient_account_id = _field(RECIPIENT_ACCOUNT_ID)
    repository = _field(REPOSITORY)
    error_code = _field(ERROR_CODE)

    @cached_property
    def event_time(self) -> datetime:
        return datetime.fromisoformat(self.fields[EVENT_TIME])

    @cached_property
    def request_parameters(self) -> dict:
        return json.loads(self.fields[REQUEST_PARAMETERS])

    @cached_property
    def response_elements(self) -> dict:
        return json.loads(self.fields[RESPONSE_ELEMENTS])

    def __repr__(self) -> str:
        return f"<EventRow {self.event_name} {self.event_id}>"


# -- the spool's forms: made from the parts that repeat ------------------------------
#
# A client pulling again makes an event that differs from its last one only in its
# id, time and request id; a pull of the same image from another address or client,
# in those as well. The canonical form is five stretches around those values:
#
#   ["<id>","<time>",<who>,<address>,<agent>,"<request id>",<what>]
#
# <who> (event name .. role ARN) is the same for every event of one principal's
# pulls, <what> (account .. error message) for every pull of one image by name.
# ``spool_form`` keeps them, and the quoted addresses and agents, by the values they
# encode, and makes the form of a pull from them and the three values that change.
# The spool line gives the lengths of <who> and <what>, and the audit writer keeps
# their parsed values by their text (``EventRow.from_parts``).
#
# Only values that are all text are kept (1, True and 1.0 are equal keys that encode
# apart; a value equal to a kept text is text), and a part is kept only once it has
# made from_draft's form. A store holds at most _PARTS_KEPT parts, and starts over
# when full.

_WHO: dict[tuple, str] = {}
_WHAT: dict[tuple, str] = {}
_ADDRESSES: dict[str, str] = {}
_AGENTS: dict[str, str] = {}
_PARTS_KEPT = 4096


def spool_form(draft: EventDraft) -> tuple[str, int, int]:
    """``EventRow.from_draft(draft).form``, and the lengths of its <who> and <what>
    (the spool line carries them, and the audit writer reads those parts back
    from kept ones). From kept parts when an event like this one came before
    (about a third of from_draft's work)."""
    actor = draft.actor
    try:
        who_key = (
            draft.event_name,
            draft.event_source,
            draft.read_only,
            actor.type,
            actor.arn,
            actor.account_id,
            actor.username,
            actor.access_key_id,
            actor.session_name,
            actor.role_arn,
        )
        what_key = (
            draft.recipient_account_id,
            draft.repository,
            draft.error_code,
            draft.error_message,
            tuple(draft.request_parameters.items()),
            tuple(draft.response_elements.items()),
        )
        who = _WHO.get(who_key)
        what = _WHAT.get(what_key)
        address = _ADDRESSES.get(draft.source_ip)
        agent = _AGENTS.get(draft.user_agent)
    except (TypeError, AttributeError):  # a value that cannot be a key; JSON fields that are not objects
        return _split(EventRow.from_draft(draft))[0]
    request_id = draft.request_id
    if who is None or what is None or address is None or agent is None or not _plain(request_id):
        return _first_of_its_kind(draft, who_key, what_key)
    form = _form(_id_text(draft.event_id), _time_text(draft.event_time), who, address, agent, request_id, what)
    return form, len(who), len(what)


def _form(event_id: str, event_time: str, who: str, address: str, agent: str, request_id: str, what: str) -> str:
    return f'["{event_id}","{event_time}",{who},{address},{agent},"{request_id}",{what}]'


def _plain(request_id) -> bool:
    """A request id the form holds as it is (the middleware's are 32 hex digits)."""
    return (
        type(request_id) is str
        and len(request_id) <= _CHAR_LIMITS["request_id"]
        and request_id.isascii()
        and request_id.isalnum()
    )


# The last second spelled (the events of a second come together): its fields, its text.
_second: tuple[tuple, str] = ((), "")


def _time_text(moment: datetime) -> str:
    """iso_time(moment) (a naive time read as UTC). A time in UTC (nearly every
    one) is its second's text, spelled once a second, and its microseconds."""
    global _second
    if moment.tzinfo is not UTC:
        return iso_time(moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC))
    fields = (moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second)
    second = _second  # one read: another thread may replace it
    if second[0] != fields:
        second = _second = (fields, iso_time(moment)[:20])  # YYYY-MM-DDTHH:MM:SS.
    return f"{second[1]}{moment.microsecond:06d}Z"


def _id_text(event_id) -> str:
    """str(event_id), for a UUID without the method call."""
    if type(event_id) is not uuid.UUID:
        return str(event_id)
    digits = f"{event_id.int:032x}"
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


def _split(row: EventRow) -> tuple[tuple[str, int, int], tuple[str, str, str, str] | None]:
    """(the row's form and the lengths of its <who> and <what>, or 0 and 0 when its
    parts do not make it), and the parts (<who>, <address>, <agent>, <what>)."""
    fields = row.fields
    who = CANONICAL_ENCODER.encode(fields[_WHO_PART])[1:-1]
    address = encode_basestring(fields[SOURCE_IP])
    agent = encode_basestring(fields[USER_AGENT])
    request_id = encode_basestring(fields[REQUEST_ID])[1:-1]
    start = len(_form(fields[EVENT_ID], fields[EVENT_TIME], who, address, agent, request_id, "")) - 1
    what = row.form[start:-1]
    if _form(fields[EVENT_ID], fields[EVENT_TIME], who, address, agent, request_id, what) != row.form:
        return (row.form, 0, 0), None
    return (row.form, len(who), len(what)), (who, address, agent, what)


def _first_of_its_kind(draft: EventDraft, who_key: tuple, what_key: tuple) -> tuple[str, int, int]:
    """from_draft's form and its parts' lengths, keeping the parts when every value
    they hold is text."""
    spooled, parts = _split(EventRow.from_draft(draft))
    if parts is None or type(draft.read_only) is not bool or not _plain(draft.request_id):
        return spooled
    try:
        "".join(
            (
                *who_key[:2],
                *who_key[3:],
                *what_key[:4],
                *draft.request_parameters,
                *draft.response_elements,
                *draft.request_parameters.values(),
                *draft.response_elements.values(),
                draft.source_ip,
                draft.user_agent,
            )
        )
    except TypeError:
        return spooled
    for store, key, part in zip(
        (_WHO, _ADDRESSES, _AGENTS, _WHAT), (who_key, draft.source_ip, draft.user_agent, what_key), parts
    ):
        _keep(store, key, part)
    return spooled


# -- cleaning: values any database stores unchanged --------------------------------


def _clean_text(value) -> str:
    """Text every database stores unchanged: no NUL, no lone surrogates."""
    text = value if isinstance(value, str) else str(value)
    if text.isascii():  # nearly always: only NUL can be wrong, and it is rare
        return text.replace("\x00", "\ufffd") if "\x00" in text else text
    return text.replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")


def _fit(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit]


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
# Where the JSON fields stand while the rest of the canonical array is encoded.
_JSON_MARKS = ("\x00", "\x00\x00")
_JSON_MARKS_ENCODED = CANONICAL_ENCODER.encode(list(_JSON_MARKS))[1:-1]
# The JSON fields of one process's events repeat (a client pulling a tag): the
# texts of flat objects of text are kept, by their items.
_TEXTS: dict[tuple, tuple[str, str]] = {}
_TEXTS_KEPT = 1024


def _json_field(value) -> tuple[object, str, str]:
    """A JSON field's value made ``_json_safe``, its json_text, and that text as the
    canonical array quotes it. The usual one (a flat object of text, integers and
    booleans, all ASCII without NUL, which its JSON text shows at once) is already
    safe: only its text is made (or found, for one of text alone)."""
    if type(value) is dict:
        items = tuple(value.items())
        all_text = all(type(key) is str and type(item) is str for key, item in items)
        if all_text and (known := _TEXTS.get(items)) is not None:
            return value, *known
        if all_text or all(type(key) is str and type(item) in _PLAIN_TYPES for key, item in items):
            text = json_text(value)
            if text.isascii() and "\\u0000" not in text:
                texts = (text, encode_basestring(text))
                if all_text:
                    if len(_TEXTS) >= _TEXTS_KEPT:
                        _TEXTS.clear()
                    _TEXTS[items] = texts
                return value, *texts
    value = _json_safe(value)
    text = json_text(value)
    return value, text, encode_basestring(text)


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


# The short text columns, in the order from_draft reads them off a draft (and the
# order HASHED_FIELDS has them in, read_only aside).
_TEXT_COLUMNS = (
    "event_name",
    "event_source",
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
)
assert HASHED_FIELDS[2:4] + HASHED_FIELDS[5:17] == _TEXT_COLUMNS
_TEXT_LIMITS = tuple(_CHAR_LIMITS[name] for name in _TEXT_COLUMNS)


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
