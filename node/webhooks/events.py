"""The bodies of webhook events: their own wire format (camelCase JSON), shaped here only.

The services that cause an event build its body with these and hand it to ``node.webhooks.outbox``,
which adds ``id``, ``type`` and ``createdAt``. A comparison summary has the shape the JSON API answers
with, which uses the same function; a checkpoint's events carry ``node.checkpoints.view.checkpoint_json``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from node.core.hashing import to_hex
from node.store.models import BatchRow, ComparisonRow, DeltaRow


def iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def batch_json(batch: BatchRow) -> dict[str, Any]:
    return {
        "id": batch.onchain_batch_id,
        "startIndex": batch.start_index,
        "count": batch.count,
        "root": to_hex(batch.root),
        "txHash": None if batch.tx_hash is None else to_hex(batch.tx_hash),
        "blockNumber": batch.block_number,
        "blockHash": None if batch.block_hash is None else to_hex(batch.block_hash),
    }


def batch_event(batch: BatchRow, *, receipt_count: int) -> dict[str, Any]:
    """batch.anchored and batch.reorged, to one tenant with ``receipt_count`` deltas in the batch."""
    return {"batch": batch_json(batch), "receiptCount": receipt_count}


def verified_receipt(row: DeltaRow, batch: BatchRow) -> dict[str, Any]:
    """A verified delta, as delta.verified carries it and batch.verified lists it."""
    return {
        "receiptId": row.receipt_id,
        "fingerprint": to_hex(row.fingerprint),
        "customerId": row.customer_id,
        "referenceId": row.reference_id,
        "delta": int(row.amount),
        "customerIndex": row.customer_index,
        "logIndex": row.log_index,
        "batchId": batch.onchain_batch_id,
        "txHash": None if batch.tx_hash is None else to_hex(batch.tx_hash),
        "blockNumber": batch.block_number,
    }


def delta_verified(receipt: dict[str, Any], *, now: float) -> dict[str, Any]:
    return {
        **receipt,
        "verification": {"verified": True, "discrepancies": []},
        "verifiedAt": iso(now),
        "status": "success",
    }


def batch_verified(
    batch: BatchRow, *, page: int, pages: int, receipts: list[dict[str, Any]], now: float
) -> dict[str, Any]:
    """One page (1-based) of a verified batch's receipts, for endpoints that aggregate."""
    return {
        "batch": batch_json(batch),
        "page": page,
        "pages": pages,
        "receipts": receipts,
        "verifiedAt": iso(now),
        "status": "success",
    }


def comparison_summary(row: ComparisonRow) -> dict[str, Any]:
    """compare.settled and compare.disputed (and a comparison's summary in the API)."""
    return {
        "comparisonId": row.id,
        "customerId": row.customer_id,
        "asOf": {"customerIndex": row.as_of_index},
        "recordBalance": int(row.record_balance),
        "theirBalance": int(row.their_balance),
        "variance": int(row.variance),
        "tolerance": json.loads(row.tolerance),
        "resolution": row.resolution,
        "settlementReceiptId": row.settlement_receipt_id,
    }
