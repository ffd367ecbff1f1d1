"""A stored checkpoint with what its JSON shows beside the row: the signed struct, who signed it,
its EIP-712 typed data and the proof token (computed by ``Checkpoints.view``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from node.core.checkpoints import Checkpoint
from node.core.hashing import to_hex
from node.store.models import CheckpointRow


@dataclass(frozen=True)
class SignedCheckpoint:
    row: CheckpointRow
    checkpoint: Checkpoint
    signer: bytes  # the key that signed it, which need not be today's after a rotation
    typed_data: dict[str, Any]
    proof_token: str


def checkpoint_json(view: SignedCheckpoint) -> dict[str, Any]:
    """A checkpoint as checkpoint.created and checkpoint.countersigned carry it (and the API answers)."""
    row, cp = view.row, view.checkpoint
    return {
        "checkpointId": row.id,
        "customerId": row.customer_id,
        "fromIndex": row.from_index,
        "toIndex": row.to_index,
        "count": row.count,
        "openingBalance": cp.opening_balance,
        "net": cp.net,
        "closingBalance": cp.closing_balance,
        "rangeRoot": to_hex(row.range_root),
        "headFingerprint": to_hex(row.head_fingerprint),
        "createdAt": row.created_at,
        "signer": to_hex(view.signer),
        "signature": to_hex(row.node_signature),
        "countersigner": None if row.countersigner is None else to_hex(row.countersigner),
        "countersignature": None if row.countersignature is None else to_hex(row.countersignature),
        "countersignedAt": row.countersigned_at,
        "typedData": view.typed_data,
        "proofToken": view.proof_token,
    }
