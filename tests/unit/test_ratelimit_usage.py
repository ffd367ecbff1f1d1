"""Token bucket arithmetic and usage cost attribution (pure)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from node.core.ratelimit import BucketPolicy, retry_after_header, take
from node.core.usage import BatchShare, attributed_gas, attributed_wei, cost_per_delta_wei, wei_to_fiat


def test_bucket_allows_burst_then_refills_at_rate() -> None:
    policy = BucketPolicy(rate=2.0, burst=3)
    bucket = None
    for _ in range(3):
        bucket, wait = take(bucket, policy, now=100.0)
        assert wait == 0.0
    bucket, wait = take(bucket, policy, now=100.0)
    assert wait == pytest.approx(0.5)
    bucket, wait = take(bucket, policy, now=100.5)  # one token back after 1/rate seconds
    assert wait == 0.0
    _, wait = take(bucket, policy, now=100.5)
    assert wait > 0


def test_bucket_never_exceeds_burst_after_long_idle() -> None:
    policy = BucketPolicy(rate=100.0, burst=2)
    bucket, _ = take(None, policy, now=0.0)
    allowed = 0
    for _ in range(5):
        bucket, wait = take(bucket, policy, now=10_000.0)
        allowed += wait == 0.0
    assert allowed == 2


def test_retry_after_is_a_whole_second_at_least() -> None:
    assert retry_after_header(0.01) == "1"
    assert retry_after_header(2.2) == "3"


def test_policy_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="rate"):
        BucketPolicy(rate=0, burst=1)


@given(
    gas=st.integers(21_000, 10_000_000),
    price=st.integers(1, 10**12),
    counts=st.lists(st.integers(1, 5_000), min_size=1, max_size=8),
)
def test_shares_of_a_batch_never_exceed_its_cost(gas: int, price: int, counts: list[int]) -> None:
    total = sum(counts)
    shares = [BatchShare(gas, price, total, n) for n in counts]
    assert sum(attributed_gas(s) for s in shares) <= gas
    assert sum(attributed_wei(s) for s in shares) <= gas * price
    # Flooring loses less than one unit per tenant.
    assert gas * price - sum(attributed_wei(s) for s in shares) < len(counts)


def test_cost_per_delta_and_fiat() -> None:
    assert cost_per_delta_wei(55_000 * 10**9, 1000) == 55 * 10**9  # 55 gwei per delta
    assert cost_per_delta_wei(10, 0) is None
    # 55,000 gwei at 3,000 USD per ETH is 0.165 USD.
    assert wei_to_fiat(55_000 * 10**9, Decimal("3000")) == Decimal("0.16500000")
