"""The Python client refuses the API's camelCase field names in ``balance.deltas`` with a TypeError that
says which keyword to use, before it builds or sends anything (no server is listening here)."""

from __future__ import annotations

import pytest

from node.client import PacSpaceClient


def test_bulk_items_with_api_field_names_get_a_type_error_naming_the_keyword() -> None:
    items = [
        {"customer_id": "c", "delta": 1, "reason": "r", "reference_id": "ok"},
        {"customerId": "cust_12345", "delta": -1, "reason": "r", "referenceId": "req_1"},
    ]
    with (
        PacSpaceClient("http://127.0.0.1:9", "sk_test_0000000000000000_x", max_retries=0) as client,
        pytest.raises(TypeError) as raised,
    ):
        client.balance.deltas(items)
    message = str(raised.value)
    assert message.startswith("items[1]: unknown delta fields:")
    assert "customerId (use customer_id)" in message and "referenceId (use reference_id)" in message


def test_a_field_nobody_knows_is_named_as_it_is() -> None:
    with (
        PacSpaceClient("http://127.0.0.1:9", "sk_test_0000000000000000_x", max_retries=0) as client,
        pytest.raises(TypeError, match=r"items\[0\]: unknown delta fields: amount;"),
    ):
        client.balance.deltas([{"customer_id": "c", "amount": 1, "reason": "r", "reference_id": "x"}])
