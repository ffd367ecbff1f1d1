"""Pricing an anchor transaction under the operator's fee policy (EIP-1559), as pure arithmetic.

A first transaction offers twice the latest base fee plus the tip (so it survives a few blocks of
rising base fee), cut down to the cap. It is not sent at all while the market is above the cap (the
latest base fee plus the tip exceeds it): the batch waits and recording goes on. A replacement of a
stuck transaction must pay at least 12.5% more in both fields (what nodes require to replace one at
the same nonce); if that would pass a cap, there is no replacement, and the transaction already sent
waits for the base fee to come down to it. Nothing priced here ever exceeds a cap.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

WEI_PER_GWEI = 10**9


@dataclass(frozen=True)
class FeePolicy:
    """The operator's caps, in wei per gas (None: no cap), and the daily budget in wei (None: none)."""

    max_fee: int | None = None
    max_priority_fee: int | None = None
    daily_budget: int | None = None

    def __post_init__(self) -> None:
        for name in ("max_fee", "max_priority_fee", "daily_budget"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must not be negative")


@dataclass(frozen=True)
class FeeQuote:
    """``maxFeePerGas`` and ``maxPriorityFeePerGas`` of a transaction, in wei."""

    max_fee: int
    priority: int


def bumped(fee: int) -> int:
    """The least fee that replaces ``fee`` at the same nonce (geth and others want 10% more; 12.5% is safe)."""
    return fee * 9 // 8 + 1


def _tip(suggested_tip: int, policy: FeePolicy) -> int:
    return suggested_tip if policy.max_priority_fee is None else min(suggested_tip, policy.max_priority_fee)


def market_above_cap(*, base_fee: int, suggested_tip: int, policy: FeePolicy) -> bool:
    """The market price (latest base fee plus the tip the node would offer) is above the max fee cap."""
    return policy.max_fee is not None and base_fee + _tip(suggested_tip, policy) > policy.max_fee


def price_first(*, base_fee: int, suggested_tip: int, policy: FeePolicy) -> FeeQuote | None:
    """The fees of a new anchor transaction; None while the market is above the cap (hold the batch)."""
    if market_above_cap(base_fee=base_fee, suggested_tip=suggested_tip, policy=policy):
        return None
    tip = _tip(suggested_tip, policy)
    max_fee = 2 * base_fee + tip
    if policy.max_fee is not None:
        max_fee = min(max_fee, policy.max_fee)
    return FeeQuote(max_fee=max_fee, priority=min(tip, max_fee))


def price_replacement(*, base_fee: int, suggested_tip: int, old: FeeQuote, policy: FeePolicy) -> FeeQuote | None:
    """The fees that replace ``old``: at least 12.5% more in both fields, and no less than a first
    transaction would pay now. None when that exceeds a cap (keep waiting on ``old``)."""
    tip = max(_tip(suggested_tip, policy), bumped(old.priority))
    floor = bumped(old.max_fee)
    max_fee = max(floor, 2 * base_fee + tip)
    if policy.max_fee is not None:
        max_fee = max(floor, min(max_fee, policy.max_fee))
        if max_fee > policy.max_fee:
            return None
    if policy.max_priority_fee is not None and tip > policy.max_priority_fee:
        return None
    if tip > max_fee:
        return None  # a tip above the fee cap cannot be sent; it only happens when the caps forbid a bump
    return FeeQuote(max_fee=max_fee, priority=tip)


def worst_case_cost(*, gas_limit: int, quote: FeeQuote) -> int:
    """The most a transaction can cost in gas fees (a rollup's L1 data fee comes on top)."""
    return gas_limit * quote.max_fee


def gwei_to_wei(gwei: Decimal | int | str) -> int:
    """A gwei amount in wei, rounded down."""
    return int(Decimal(str(gwei)) * WEI_PER_GWEI)
