"""node.core.json_text: the one reading of JSON text that refuses a repeated member name."""

from __future__ import annotations

import json
import math
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from node.core.json_text import DuplicateKey, loads_unique, strict_decoder

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4),
    max_leaves=20,
)


@given(JSON)
def test_text_without_repeats_reads_as_the_json_module_reads_it(value: object) -> None:
    text = json.dumps(value)
    assert loads_unique(text) == json.loads(text)
    assert strict_decoder().raw_decode(text) == json.JSONDecoder().raw_decode(text)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('{"delta": -1, "delta": -100000}', "delta"),
        ('{"a": {"b": 1, "c": 2, "b": 3}}', "b"),
        ('[{"x": 1}, {"y": 1, "y": 1}]', "y"),
    ],
)
def test_a_repeated_member_is_refused_by_name(text: str, key: str) -> None:
    with pytest.raises(DuplicateKey) as refused:
        loads_unique(text)
    assert refused.value.key == key
    problem = refused.value.invalid_input()
    assert (problem.status, [e.field for e in problem.errors]) == (422, [key])
    with pytest.raises(DuplicateKey):
        strict_decoder().raw_decode(text)


def test_constants_are_refused_only_when_asked_and_floats_can_stay_exact() -> None:
    assert loads_unique('{"q": 0.1}', parse_float=Decimal) == {"q": Decimal("0.1")}
    assert math.isnan(loads_unique("[NaN]")[0])  # the /v1 routes' models refuse a float where they want an int
    for text in ("[NaN]", '{"x": Infinity}'):
        with pytest.raises(ValueError, match="is not JSON"):
            loads_unique(text, constants=False)
        with pytest.raises(ValueError, match="is not JSON"):
            strict_decoder().raw_decode(text)
