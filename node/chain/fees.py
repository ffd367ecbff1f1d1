"""EIP-1559 fee caps for an anchor transaction, and the bump that lets one replace a stuck one."""

from __future__ import annotations

from dataclasses import dataclass

from web3 import Web3


@dataclass(frozen=True)
class FeeCaps:
    max_fee: int
    priority: int


def fee_caps(w3: Web3, *, replacing: bytes | None = None) -> FeeCaps:
    """Twice the latest base fee plus the RPC's suggested tip. ``replacing`` names a pending
    transaction at the same nonce: the new one pays at least 12.5% more in both fee fields, as
    nodes require to replace it."""
    latest = w3.eth.get_block("latest")
    base_fee = int(latest.get("baseFeePerGas", 0) or 0)
    priority = int(w3.eth.max_priority_fee)
    max_fee = 2 * base_fee + priority
    if replacing is not None:
        old = w3.eth.get_transaction(replacing)  # type: ignore[arg-type]
        priority = max(priority, _bumped(int(old.get("maxPriorityFeePerGas", 0))))
        max_fee = max(2 * base_fee + priority, _bumped(int(old.get("maxFeePerGas", 0))))
    return FeeCaps(max_fee=max_fee, priority=priority)


def _bumped(fee: int) -> int:
    return fee * 9 // 8 + 1
