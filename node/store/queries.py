"""The hot-path reads (one indexed row each, straight from the driver) and a batch's stored tree.

The other queries live in a module per concept: node.store.deltas, batches, balances, checkpoints,
comparisons, keys, usage, webhooks, sessions, dashboard (its pages' reads).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlmodel import Session

from node.store.db import Store
from node.store.models import BYTES_COLUMNS, DELTA_COLUMNS, BatchTreeRow, RecordedBatch, RecordedDelta


def get_batch_tree(*, session: Session, batch_id: int) -> bytes | None:
    """The batch's packed Merkle tree, if the anchoring job stored one."""
    row = session.get(BatchTreeRow, batch_id)
    return None if row is None else bytes(row.nodes)


# Hot-path reads (one indexed row each, straight from the driver; see Store.read_one).
_RECEIPT_SQL = "SELECT {} FROM deltas WHERE tenant = ? AND receipt_id = ?".format(", ".join(DELTA_COLUMNS))  # noqa: S608
_BATCH_COLUMNS = tuple(RecordedBatch.__dataclass_fields__)
_BATCH_SQL = "SELECT {} FROM batches WHERE id = ?".format(", ".join(_BATCH_COLUMNS))  # noqa: S608
_BATCH_BYTES = frozenset({"root", "tx_hash", "raw_tx", "block_hash"})


def recorded_delta(values: Sequence[Any]) -> RecordedDelta:
    """A deltas row as the driver returns it (bytes columns may come as memoryview)."""
    fields: list[Any] = [
        bytes(value) if name in BYTES_COLUMNS and value is not None else value
        for name, value in zip(DELTA_COLUMNS, values, strict=True)
    ]
    return RecordedDelta(*fields)


def read_receipt(store: Store, *, tenant: str, receipt_id: str) -> RecordedDelta | None:
    found = store.read_one(_RECEIPT_SQL, (tenant, receipt_id))
    return None if found is None else recorded_delta(found)


def read_batch(store: Store, *, batch_id: int) -> RecordedBatch | None:
    found = store.read_one(_BATCH_SQL, (batch_id,))
    if found is None:
        return None
    values: list[Any] = [
        bytes(value) if name in _BATCH_BYTES and value is not None else value
        for name, value in zip(_BATCH_COLUMNS, found, strict=True)
    ]
    return RecordedBatch(*values)


def read_batch_tree(store: Store, *, batch_id: int) -> bytes | None:
    found = store.read_one("SELECT nodes FROM batch_trees WHERE batch_id = ?", (batch_id,))
    return None if found is None else bytes(found[0])
