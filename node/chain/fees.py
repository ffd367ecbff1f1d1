"""What the chain's fee market asks right now, and what a sent transaction offered (node/core/fees.py prices)."""

from __future__ import annotations

from dataclasses import dataclass

from eth_typing import Hash32
from web3 import Web3

from node.chain import rpc
from node.core.fees import FeeQuote


@dataclass(frozen=True)
class FeeMarket:
    """The latest block's base fee and the RPC's suggested tip, in wei per gas."""

    base_fee: int
    suggested_tip: int


def read_market(w3: Web3) -> FeeMarket:
    latest = rpc.call(lambda: w3.eth.get_block("latest"))
    base_fee = int(latest.get("baseFeePerGas", 0) or 0)
    return FeeMarket(base_fee=base_fee, suggested_tip=int(rpc.call(lambda: w3.eth.max_priority_fee)))


def offered_fees(w3: Web3, tx_hash: bytes) -> FeeQuote | None:
    """The fees a sent transaction offers; None when the RPC does not know it."""
    tx = rpc.lookup(lambda: w3.eth.get_transaction(Hash32(tx_hash)))
    if tx is None:
        return None
    return FeeQuote(max_fee=int(tx.get("maxFeePerGas", 0)), priority=int(tx.get("maxPriorityFeePerGas", 0)))
