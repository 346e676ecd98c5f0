"""An event as the trail stores and hashes it.

``EventRow.fields`` holds the values of ``chain.HASHED_FIELDS`` in that order, as
the canonical JSON holds them (``chain.spelled``: the event id as text, the time
as ``chain.iso_time``, the JSON fields as their ``chain.json_text``; every other
value as it is stored). ``EventRow.form`` is the canonical JSON of those fields,
the text the chain hashes.

A draft becomes a row once (``from_draft``): cleaned so any database stores each
value unchanged and gives back the bytes that were hashed, and cut to its
column. The spool carries the row's form, and the audit writer reads the row back
from it (``from_form``) and hashes the line's own text: no draft, no second
cleaning, no second encoding.

What each field holds comes from its Event column (``chain.KINDS`` and the
columns' lengths); only how a draft gives its value is said here, in
``_draft_values``."""

from __future__ import annotations

import json
import math
import re
from datetime import datetime
from functools import cached_property

from .chain import CANONICAL_ENCODER, HASHED_FIELDS, KINDS, spelled
from .events import EventDraft
from .models import ERROR_MESSAGE_MAX_LENGTH, Event

IMAGE_REFERENCE_DEPTH = 4  # how deep in the parameters an imageDigest / imageTag is looked for

_POSITIONS = {name: index for index, name in enumerate(HASHED_FIELDS)}
_LIMITS = {
    "error_message": ERROR_MESSAGE_MAX_LENGTH,
    **{name: Event._meta.get_field(name).max_length for name, kind in zip(HASHED_FIELDS, KINDS) if kind == "CharField"},
}


class BadRow(ValueError):
    """A form that is not the canonical JSON of an event."""


class EventRow:
    """One event ready to be appended: its hashed fields and their canonical form.
    Listeners read it like a draft (``event_name``, ``request_parameters``, ...)."""

    __slots__ = ("__dict__", "fields", "form")

    def __init__(self, fields: list, form: str) -> None:
        self.fields = fields
        self.form = form

    @classmethod
    def from_draft(cls, draft: EventDraft) -> EventRow:
        values = _draft_values(draft)
        fields = spelled(_cleaned(list(map(values.__getitem__, HASHED_FIELDS))))
        row = cls(fields, CANONICAL_ENCODER.encode(fields))
        # what the images.pulled event reads, known already
        row.__dict__.update(
            request_parameters=values["request_parameters"], response_elements=values["response_elements"]
        )
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
        for index, canonically_spelled in _SPELLING_CHECKS:
            if not canonically_spelled(fields[index]):
                raise BadRow(f"{HASHED_FIELDS[index]} is not in its canonical spelling")
        return cls(fields, form)

    # -- read like a draft (the recorder's images.pulled event) ---------------------
    # -- read like a draft (the recorder's listeners) --------------------------------

    def __getattr__(self, name: str):
        """A hashed field, by its name (the id and the time as text)."""
        position = _POSITIONS.get(name)
        if position is None:
            raise AttributeError(f"an event row has no field {name!r}")
        return self.fields[position]

    @cached_property
    def event_time(self) -> datetime:
        return datetime.fromisoformat(self.fields[_POSITIONS["event_time"]])

    @cached_property
    def request_parameters(self) -> dict:
        return json.loads(self.fields[_POSITIONS["request_parameters"]])

    @cached_property
    def response_elements(self) -> dict:
        return json.loads(self.fields[_POSITIONS["response_elements"]])

    def __repr__(self) -> str:
        return f"<EventRow {self.event_name} {self.event_id}>"


def _draft_values(draft: EventDraft) -> dict:
    """The value of each hashed field, by name, as ``draft`` gives it (the JSON
    fields made ``_json_safe``)."""
    request_parameters = _json_safe(draft.request_parameters or {})
    response_elements = _json_safe(draft.response_elements or {})
    digest, tag = image_reference(request_parameters, response_elements)
    actor = draft.actor
    return {
        "event_id": draft.event_id,
        "event_time": draft.event_time,
        "event_name": draft.event_name,
        "event_source": draft.event_source,
        "read_only": draft.read_only,
        "actor_type": actor.type,
        "actor_arn": actor.arn,
        "actor_account_id": actor.account_id,
        "actor_username": actor.username,
        "actor_access_key_id": actor.access_key_id,
        "actor_session_name": actor.session_name,
        "actor_role_arn": actor.role_arn,
        "source_ip": draft.source_ip,
        "user_agent": draft.user_agent,
        "request_id": draft.request_id,
        "recipient_account_id": draft.recipient_account_id,
        "repository": draft.repository,
        # A value too long for its column names nothing to look up: kept only in the parameters.
        "image_digest": digest if len(digest) <= _LIMITS["image_digest"] else "",
        "image_tag": tag if len(tag) <= _LIMITS["image_tag"] else "",
        "request_parameters": request_parameters,
        "response_elements": response_elements,
        "error_code": draft.error_code,
        "error_message": draft.error_message,
    }


# -- cleaning: values any database stores unchanged --------------------------------


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


_TEXT_POSITIONS = tuple(_POSITIONS[name] for name in _LIMITS)
_TEXT_LIMITS = tuple(_LIMITS.values())
_FLAG_POSITIONS = tuple(index for index, kind in enumerate(KINDS) if kind == "BooleanField")


def _cleaned(fields: list) -> list:
    """``fields`` (a draft's values of HASHED_FIELDS) as the columns store them: the
    texts cleaned and cut to their columns (no value is ""), the flags booleans."""
    texts = [fields[index] for index in _TEXT_POSITIONS]
    try:
        joined = "".join(texts)
    except TypeError:  # a None, or a value that is not text
        joined = None
    if joined is None or not joined.isascii() or "\x00" in joined:  # one check covers nearly every event
        texts = [_clean_text(text or "") for text in texts]
    for index, text, limit in zip(_TEXT_POSITIONS, texts, _TEXT_LIMITS):
        fields[index] = text if len(text) <= limit else text[:limit]
    for index in _FLAG_POSITIONS:
        fields[index] = bool(fields[index])
    return fields


# -- reading a form back ---------------------------------------------------------------

_parse = json.JSONDecoder().decode
# What each field of a form from elsewhere (a spool line) must be: text everywhere
# but the read_only flag, the id and the time in their one canonical spelling.
_TYPES = [bool if kind == "BooleanField" else str for kind in KINDS]
_SPELLING_PATTERNS = {
    "UUIDField": re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}").fullmatch,
    "DateTimeField": re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z").fullmatch,
    "JSONField": lambda text: text[:1] == "{",
}
_SPELLING_CHECKS = tuple(
    (index, _SPELLING_PATTERNS[kind]) for index, kind in enumerate(KINDS) if kind in _SPELLING_PATTERNS
)


# -- what an event is about ------------------------------------------------------------


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
