"""A stored checkpoint with what its JSON shows beside the row: the signed struct, who signed it,
its EIP-712 typed data and the proof token (computed by ``Checkpoints.view``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from node.core.checkpoints import Checkpoint
from node.store.models import CheckpointRow


@dataclass(frozen=True)
class SignedCheckpoint:
    row: CheckpointRow
    checkpoint: Checkpoint
    signer: bytes  # the key that signed it, which need not be today's after a rotation
    typed_data: dict[str, Any]
    proof_token: str
