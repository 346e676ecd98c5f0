"""An event's row: the canonical form from_draft makes is the one the chain
encoder makes of the same fields, whatever the values, and it reads back."""
from __future__ import annotations

from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from apps.audit.chain import CANONICAL_ENCODER
from apps.audit.rows import EventRow

from .conftest import make_draft

texts = st.text(max_size=40)
flat = st.dictionaries(texts, st.one_of(texts, st.integers(), st.booleans(), st.none()), max_size=5)
nested = st.dictionaries(texts, st.one_of(texts, st.floats(allow_nan=True), st.lists(st.integers(), max_size=3), flat),
                         max_size=4)


@hypothesis_settings(max_examples=200, deadline=None)
@given(request_parameters=st.one_of(flat, nested), response_elements=st.one_of(flat, nested),
       user_agent=texts, error_message=texts, error_code=texts)
def test_the_form_is_the_canonical_encoding_of_the_fields(
    request_parameters, response_elements, user_agent, error_message, error_code
):
    draft = make_draft(request_parameters=request_parameters, response_elements=response_elements,
                       user_agent=user_agent, error_message=error_message, error_code=error_code)
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
