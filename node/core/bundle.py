"""The self-contained proof bundle for one receipt (docs/PROTOCOL.md, "Proof bundle").

Everything a third party needs to check a delta against the chain without the node:
the typed data, fingerprint, node signature, leaf, Merkle proof and the batch record.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from node.core.hashing import to_hex
from node.core.protocol import PROTOCOLS
from node.core.typed_data import Delta, Domain, build_typed_data

# Every bundle media type the node has issued (each protocol version names its own).
BUNDLE_MEDIA_TYPES = tuple(p.media_type for p in PROTOCOLS.values())


@dataclass(frozen=True)
class BatchRecord:
    batch_id: int
    root: bytes
    start_index: int
    count: int
    tx_hash: bytes
    block_number: int
    block_hash: bytes

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.batch_id,
            "root": to_hex(self.root),
            "startIndex": self.start_index,
            "count": self.count,
            "txHash": to_hex(self.tx_hash),
            "blockNumber": self.block_number,
            "blockHash": to_hex(self.block_hash),
        }


def build_proof_bundle(
    *,
    receipt_id: str,
    domain: Domain,
    delta: Delta,
    fingerprint: bytes,
    signature: bytes,
    signer: bytes,
    log_index: int,
    leaf_hash: bytes,
    proof: list[bytes],
    batch: BatchRecord,
    metadata_json: str | None,
) -> dict[str, Any]:
    return {
        "version": domain.protocol.bundle_version,
        "receiptId": receipt_id,
        "chainId": domain.chain_id,
        "contract": to_hex(domain.verifying_contract),
        "typedData": build_typed_data(domain, delta),
        "metadata": metadata_json,
        "fingerprint": to_hex(fingerprint),
        "signature": to_hex(signature),
        "signer": to_hex(signer),
        "logIndex": log_index,
        "leaf": to_hex(leaf_hash),
        "proof": [to_hex(p) for p in proof],
        "batch": batch.to_json(),
    }
