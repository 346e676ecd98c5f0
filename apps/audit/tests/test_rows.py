"""An event's row: the canonical form from_draft makes is the one the chain
encoder makes of the same fields, whatever the values, and it reads back."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from apps.audit.chain import CANONICAL_ENCODER, iso_time
from apps.audit.rows import BadRow, EventRow, _time_text, spool_form

from .conftest import make_draft

texts = st.text(max_size=40)
flat = st.dictionaries(texts, st.one_of(texts, st.integers(), st.booleans(), st.none()), max_size=5)
nested = st.dictionaries(
    texts, st.one_of(texts, st.floats(allow_nan=True), st.lists(st.integers(), max_size=3), flat), max_size=4
)


@hypothesis_settings(max_examples=200, deadline=None)
@given(
    request_parameters=st.one_of(flat, nested),
    response_elements=st.one_of(flat, nested),
    user_agent=texts,
    error_message=texts,
    error_code=texts,
)
def test_the_form_is_the_canonical_encoding_of_the_fields(
    request_parameters, response_elements, user_agent, error_message, error_code
):
    draft = make_draft(
        request_parameters=request_parameters,
        response_elements=response_elements,
        user_agent=user_agent,
        error_message=error_message,
        error_code=error_code,
    )
    for _ in range(2):  # the second time, a flat object's texts are the kept ones
        row = EventRow.from_draft(draft)
        assert row.form == CANONICAL_ENCODER.encode(row.fields)
        assert EventRow.from_form(row.form).fields == row.fields


def test_equal_values_of_other_types_are_not_confused():
    # 1 == True and their items hash alike: only objects of text alone are kept by items
    as_number = EventRow.from_draft(make_draft(request_parameters={"n": 1}))
    as_flag = EventRow.from_draft(make_draft(request_parameters={"n": True}))
    as_text = EventRow.from_draft(make_draft(request_parameters={"n": "1"}))
    assert [row.fields[19] for row in (as_number, as_flag, as_text)] == ['{"n":1}', '{"n":true}', '{"n":"1"}']


request_ids = st.one_of(
    st.uuids().map(lambda value: value.hex), st.from_regex(r"[A-Za-z0-9._:\-]{1,130}", fullmatch=True)
)


@hypothesis_settings(max_examples=300, deadline=None)
@given(
    request_parameters=st.one_of(flat, nested),
    response_elements=st.one_of(flat, nested),
    source_ip=st.sampled_from(["192.0.2.10", "2001:db8::1", "", "\x00", "é" * 3, "1" * 46]),
    user_agent=st.one_of(st.sampled_from(["skopeo/1.9", "", "x" * 1025]), texts),
    error_message=texts,
    error_code=texts,
    read_only=st.sampled_from([True, False, 1, 0]),
    request_id=request_ids,
    repository=st.sampled_from(["team/app", "a" * 300, "ünï"]),
)
def test_spool_form_is_from_drafts_form_and_reads_back(
    request_parameters,
    response_elements,
    source_ip,
    user_agent,
    error_message,
    error_code,
    read_only,
    request_id,
    repository,
):
    fields = {
        "request_parameters": request_parameters,
        "response_elements": response_elements,
        "source_ip": source_ip,
        "user_agent": user_agent,
        "error_message": error_message,
        "error_code": error_code,
        "read_only": read_only,
        "repository": repository,
    }
    # the first event of its kind makes the parts; the later ones (other ids, times
    # and request ids) are made from them
    for request in (request_id, uuid.uuid4().hex, request_id + "0"):
        draft = make_draft(request_id=request, **fields)
        row = EventRow.from_draft(draft)
        form, who_length, what_length = spool_form(draft)
        assert form == row.form
        # the writer reads the parts back (the second time from the kept ones)
        for _ in range(2):
            assert EventRow.from_parts(form, who_length, what_length).fields == row.fields


def test_spool_form_keeps_no_part_for_values_that_are_not_text():
    # {"n": 1}, {"n": True} and {"n": 1.0} are equal keys: none of them is kept, each encodes its own
    forms = [spool_form(make_draft(request_parameters={"n": value}))[0] for value in (1, True, 1.0, "1")]
    assert [EventRow.from_form(form).fields[19] for form in forms] == ['{"n":1}', '{"n":true}', '{"n":1}', '{"n":"1"}']


def test_spool_form_spells_every_time_as_from_draft():
    times = [
        datetime(2026, 1, 2, 3, 4, 5),
        datetime(2026, 1, 2, 3, 4, 5, 6),  # naive: UTC
        datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        datetime(2026, 1, 2, 3, 4, 5, 600, tzinfo=UTC),
        datetime(2026, 1, 2, 3, 4, 5, 999999, tzinfo=timezone(timedelta(hours=-5))),
    ]
    for moment in times:
        draft = make_draft(event_time=moment, request_parameters={"imageTag": "v1"})
        assert spool_form(draft)[0] == spool_form(draft)[0] == EventRow.from_draft(draft).form


def test_a_seconds_text_is_kept_only_for_its_second():
    start = datetime(2026, 12, 31, 23, 59, 58, 999998, tzinfo=UTC)
    moments = [start + timedelta(microseconds=step) for step in range(0, 3_000_000, 250_001)]
    moments += [start, start.replace(year=2027), start + timedelta(days=1)]  # back, and the same second of another day
    assert [_time_text(moment) for moment in moments] == [iso_time(moment) for moment in moments]


def test_a_form_whose_parts_do_not_read_is_refused():
    form, who_length, what_length = spool_form(make_draft(request_parameters={"imageTag": "v1"}))
    assert EventRow.from_parts(form, who_length, what_length).form == form
    wrong = [
        (form, who_length + 1, what_length),
        (form, who_length, what_length - 1),
        (form, 0, what_length),
        (form, -5, what_length),
        (form, who_length, len(form)),
        (form, len(form), what_length),
        (form.replace('"ecr"', '"ecr",true', 1), who_length + 5, what_length),  # an eleventh <who> field
        (form.replace('"BatchGetImage"', "1", 1), who_length - 14, what_length),  # a number for the name
        (form[:-1], who_length, what_length - 1),  # not closed
        (form.replace(",true,", ',"true",', 1), who_length + 2, what_length),  # read_only as text
        (form.replace('"192.0.2.10",', "", 1), who_length, what_length),  # two texts between the parts
        (form.replace('"192.0.2.10"', '"192.0"2.10"', 1), who_length, what_length),  # a quote in a text
        ("x" * len(form), who_length, what_length),
    ]
    for text, who, what in wrong:
        with pytest.raises(BadRow):
            EventRow.from_parts(text, who, what)
