"""An event's row: the canonical form from_draft makes is the one the chain
encoder makes of the same fields, whatever the values, and it reads back."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from apps.audit.chain import CANONICAL_ENCODER, HASHED_FIELDS
from apps.audit.rows import BadRow, EventRow

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
    row = EventRow.from_draft(draft)
    assert row.form == CANONICAL_ENCODER.encode(row.fields)
    assert EventRow.from_form(row.form).fields == row.fields


def test_equal_values_of_other_types_are_not_confused():
    # 1 == True == 1.0: each is spelled as its own type says (a whole float as an integer)
    rows = [EventRow.from_draft(make_draft(request_parameters={"n": value})) for value in (1, True, 1.0, "1")]
    position = HASHED_FIELDS.index("request_parameters")
    assert [row.fields[position] for row in rows] == ['{"n":1}', '{"n":true}', '{"n":1}', '{"n":"1"}']


def test_a_form_is_read_back_only_in_its_canonical_spelling():
    row = EventRow.from_draft(make_draft(request_parameters={"imageTag": "v1"}))
    assert EventRow.from_form(row.form).fields == row.fields
    fields = row.fields
    wrong = [
        fields[:-1],  # a field short
        [*fields, ""],  # one too many
        [*fields[:4], "true", *fields[5:]],  # read_only as text
        ["not-an-id", *fields[1:]],
        [fields[0].upper(), *fields[1:]],
        [fields[0], "2026-11-28 03:00:00", *fields[2:]],  # not the canonical time
        [*fields[:19], "[1]", *fields[20:]],  # request parameters that are not an object
        [*fields[:12], None, *fields[13:]],  # no address
    ]
    for form in [CANONICAL_ENCODER.encode(values) for values in wrong] + [row.form[:-1], "{}", "x"]:
        with pytest.raises(BadRow):
            EventRow.from_form(form)
