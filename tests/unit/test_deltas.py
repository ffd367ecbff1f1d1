"""Field rules for a delta request, canonical metadata, and the chained Delta."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from node.core.canonical_json import canonicalize, compute_metadata_hash
from node.core.deltas import ChainHead, build_delta, validate_delta_request
from node.core.errors import InvalidInput
from node.core.hashing import ZERO32, keccak256

GOOD = {"customer_id": "cust_1", "delta": -1000, "reason": "usage", "reference_id": "req_1", "metadata": None}


def _fields(exc: pytest.ExceptionInfo[InvalidInput]) -> dict[str, str]:
    return {e.field: e.message for e in exc.value.errors}


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"customer_id": ""}, "customerId", "non-empty"),
        ({"customer_id": "   "}, "customerId", "non-empty"),
        ({"customer_id": "c" * 129}, "customerId", "at most 128"),
        ({"reference_id": "a\x00b"}, "referenceId", "control characters"),
        ({"reason": "line\nbreak"}, "reason", "control characters"),
        ({"delta": 0}, "delta", "zero"),
        ({"delta": 2**255}, "delta", "int256"),
        ({"delta": -(2**255) - 1}, "delta", "int256"),
        ({"delta": True}, "delta", "integer"),
        ({"delta": 1.5}, "delta", "integer"),
        ({"metadata": {"price": 1.5}}, "metadata.price", "floats"),
        ({"metadata": {"n": 2**53}}, "metadata.n", "2^53"),
        ({"metadata": {"blob": "x" * 20000}}, "metadata", "limit"),
    ],
)
def test_each_bad_field_is_named(change: dict[str, object], field: str, message: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        validate_delta_request(**{**GOOD, **change})  # type: ignore[arg-type]
    assert message in _fields(exc)[field]


def test_int256_limits_are_accepted() -> None:
    for value in (2**255 - 1, -(2**255)):
        assert validate_delta_request(**{**GOOD, "delta": value}).delta == value  # type: ignore[arg-type]


def test_several_errors_are_reported_together() -> None:
    with pytest.raises(InvalidInput) as exc:
        validate_delta_request(customer_id="", delta=0, reason="", reference_id="", metadata=None)
    assert set(_fields(exc)) == {"customerId", "delta", "reason", "referenceId"}


def test_canonical_json_sorts_keys_by_utf16_and_keeps_unicode() -> None:
    # U+1F600 (surrogate pair D83D..) sorts before U+FB01 in UTF-16 although it is after it by code point.
    text = canonicalize({"b": [1, True, None], "a": "é\n", "\ufb01": 1, "\U0001f600": 2})
    assert text == '{"a":"é\\n","b":[1,true,null],"\U0001f600":2,"\ufb01":1}'
    assert compute_metadata_hash(text) == keccak256(text.encode())
    assert compute_metadata_hash(None) == ZERO32


def test_request_hash_ignores_key_order_but_not_values() -> None:
    a = validate_delta_request(**{**GOOD, "metadata": {"x": 1, "y": 2}})  # type: ignore[arg-type]
    b = validate_delta_request(**{**GOOD, "metadata": {"y": 2, "x": 1}})  # type: ignore[arg-type]
    c = validate_delta_request(**{**GOOD, "delta": -1001})  # type: ignore[arg-type]
    assert a.request_hash == b.request_hash != c.request_hash


@given(st.lists(st.integers(-(10**30), 10**30).filter(bool), min_size=1, max_size=20))
def test_chain_links_each_delta_to_the_previous_fingerprint(amounts: list[int]) -> None:
    head = None
    for i, amount in enumerate(amounts):
        request = validate_delta_request(**{**GOOD, "delta": amount, "reference_id": f"r{i}"})  # type: ignore[arg-type]
        delta = build_delta(tenant="t", request=request, head=head, recorded_at=1, salt=bytes(32))
        assert delta.customer_index == i
        assert delta.prev_fingerprint == (ZERO32 if head is None else head.fingerprint)
        head = ChainHead(delta.customer_index, keccak256(str(i).encode()))


@given(
    customer=st.text(min_size=1, max_size=20),
    reason=st.text(min_size=1, max_size=20),
    reference=st.text(min_size=1, max_size=20),
    delta=st.integers(-(2**255), 2**255 - 1),
    metadata=st.one_of(st.none(), st.text(max_size=30)),
    corrects=st.one_of(st.none(), st.text(max_size=20)),
)
def test_request_hash_is_keccak_of_the_canonical_request(
    customer: str, reason: str, reference: str, delta: int, metadata: str | None, corrects: str | None
) -> None:
    from node.core.deltas import DeltaRequest

    request = DeltaRequest(customer, delta, reason, reference, metadata, corrects)
    canonical = canonicalize(
        {
            "customerId": customer,
            "delta": str(delta),
            "reason": reason,
            "referenceId": reference,
            "metadata": metadata,
            "correctsReceiptId": corrects,
        }
    )
    assert request.request_hash == keccak256(canonical.encode())
