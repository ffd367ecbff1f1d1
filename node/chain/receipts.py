"""An anchor transaction's receipt as the node keeps it: block, gas, price, the batch id its
``BatchAnchored`` event names, and what it cost, a rollup's L1 data fee included."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class MinedAnchor:
    tx_hash: bytes
    block_number: int
    block_hash: bytes
    status: int
    gas_used: int
    effective_gas_price: int
    batch_id: int | None
    l1_fee: int = 0  # an OP Stack rollup's L1 data fee, paid on top of gas (the receipt's ``l1Fee``)

    @property
    def cost_wei(self) -> int:
        """Everything the transaction cost the anchoring account."""
        return self.gas_used * self.effective_gas_price + self.l1_fee


def mined_from_receipt(receipt: Any, anchored_topic: bytes) -> MinedAnchor:
    """A transaction receipt as a MinedAnchor (``anchored_topic``: the BatchAnchored event's topic)."""
    batch_id: int | None = None
    for log in receipt["logs"]:
        topics = log["topics"]
        if topics and bytes(topics[0]) == anchored_topic:
            batch_id = int.from_bytes(bytes(topics[1]), "big")
    return MinedAnchor(
        tx_hash=bytes(receipt["transactionHash"]),
        block_number=int(receipt["blockNumber"]),
        block_hash=bytes(receipt["blockHash"]),
        status=int(receipt["status"]),
        gas_used=int(receipt["gasUsed"]),
        effective_gas_price=_quantity(receipt.get("effectiveGasPrice")),
        batch_id=batch_id,
        l1_fee=_quantity(receipt.get("l1Fee")),
    )


def _quantity(value: Any) -> int:
    """A receipt quantity web3 may leave as hex (fields it does not know, such as ``l1Fee``); 0 if absent."""
    if value is None:
        return 0
    return int(value, 16) if isinstance(value, str) else int(value)
