"""check_depth against the depth of what json.loads builds, on generated JSON."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.kernel.json_limits import JSONTooDeep, check_depth, loads, nul_path

# Strings full of what the check must see past: brackets, quotes, escapes.
tricky_text = st.text(
    st.sampled_from(["a", "[", "]", "{", "}", '"', "\\", "/", "\n", "é", "\x00", "\U0001f600"]), max_size=6
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | tricky_text,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(tricky_text, children, max_size=3),
    max_leaves=40,
)


def depth(value) -> int:
    if isinstance(value, dict):
        return 1 + max(map(depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(depth, value), default=0)
    return 0


def refused(document, limit: int) -> bool:
    try:
        check_depth(document, limit)
    except JSONTooDeep:
        return True
    return False


def reached_depth(text: str) -> int:
    """How deep a parser reading ``text`` from the start gets (a character at a time)."""
    level = deepest = 0
    in_string = escaped = False
    for character in text:
        if in_string:
            if escaped:
                escaped = False
            elif character == "\\":
                escaped = True
            elif character == '"':
                in_string = False
        elif character == '"':
            in_string = True
        elif character in "[{":
            level += 1
            deepest = max(deepest, level)
        elif character in "]}":
            level -= 1
    return deepest


@settings(max_examples=400, deadline=None)
@given(json_values, st.booleans(), st.sampled_from(["utf-8", "utf-16", "utf-32-le"]), st.integers(0, 6))
def test_the_depth_of_valid_json_is_exact(value, ascii_only, encoding, limit):
    text = json.dumps(value, ensure_ascii=ascii_only)
    assert refused(text, limit) == (depth(value) > limit)
    assert refused(text.encode(encoding, "surrogatepass"), limit) == (depth(value) > limit)


@settings(max_examples=400, deadline=None)
@given(json_values, st.data(), st.integers(0, 6))
def test_text_cut_short_is_never_measured_shallower_than_a_parser_gets(value, data, limit):
    text = json.dumps(value, ensure_ascii=False)
    cut = text[: data.draw(st.integers(0, len(text)))]
    if reached_depth(cut) > limit:
        assert refused(cut, limit)


@pytest.mark.parametrize("levels", [10_000, 100_000])
def test_deep_nesting_is_refused_before_parsing(levels):
    for document in (b"[" * levels, b"[" * levels + b"]" * levels, ('{"a":' * levels + "1" + "}" * levels)):
        with pytest.raises(JSONTooDeep, match="more than 64 levels"):
            loads(document, max_depth=64)


def test_brackets_inside_strings_do_not_count():
    annotation = '"' + "[" * 1000 + '\\"' + "{" * 1000 + '\\\\"'
    assert loads("[" + annotation + "]", max_depth=1) == ["[" * 1000 + '"' + "{" * 1000 + "\\"]
    with pytest.raises(JSONTooDeep):
        check_depth('[["\\\\", [[]]]]', 3)


def test_unclosed_brackets_of_a_cut_document_are_its_parsers_to_refuse():
    document = json.dumps({"layers": [{"annotations": {"x": "y"}}] * 100})
    with pytest.raises(json.JSONDecodeError):
        loads(document[: len(document) // 2], max_depth=8)


def test_nul_path_names_the_first_string_or_key_holding_nul():
    for value, where in (
        ({"a": [1, {"b": "x\x00"}]}, "a.1.b"),
        (["ok", {"k\x00": 1}], "1.k\ufffd"),
        ("\x00", ""),
        ({"a": "fine", "b": ["\\u0000"]}, None),
    ):
        assert nul_path(json.dumps(value), value) == where
