"""A comparison form (dashboard or portal) becomes the same validated request as the API's JSON body, and
a bad line is named by its line number in the form."""

from __future__ import annotations

import pytest

from node.core.errors import InvalidInput
from node.pages.compare_form import compare_request_from_form


def test_lines_and_balance_become_the_request() -> None:
    req = compare_request_from_form("cust_1", " -900 ", "referenceId,delta\nref-1,-1000\n\nref-2, 100\n")
    assert req.customer_id == "cust_1" and req.their_balance == -900
    assert req.their_deltas is not None and list(req.their_deltas) == [("ref-1", -1000), ("ref-2", 100)]


def test_a_balance_alone_or_deltas_alone() -> None:
    assert compare_request_from_form("c", "5", "").their_deltas is None
    assert compare_request_from_form("c", "", "r,1").their_balance is None


@pytest.mark.parametrize(
    ("balance", "deltas", "field", "message"),
    [
        ("", "", "theirBalance", "enter their balance, their deltas, or both"),
        ("1.5", "", "theirBalance", "must be a whole number"),
        ("", "ok,1\n\nbad line", "theirDeltas", "line 3: expected referenceId,delta"),
        ("", "ok,1\n\nr,12.5", "theirDeltas", "line 3: delta must be a whole number"),
        ("", "ok,1\n" + ",5", "theirDeltas", "line 2: referenceId"),
        ("", f"r,{2**255}", "theirDeltas", "line 1: delta"),
    ],
)
def test_a_bad_form_names_the_field_and_line(balance: str, deltas: str, field: str, message: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        compare_request_from_form("c", balance, deltas)
    assert any(e.field == field and message in e.message for e in raised.value.errors), raised.value.errors
