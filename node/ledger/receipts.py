"""Receipts and proof bundles, read from the store and assembled by the core."""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

from node.core.bundle import BatchRecord, build_proof_bundle
from node.core.errors import NotAnchored, NotFound
from node.core.hashing import ZERO32, to_hex
from node.core.merkle import MerkleTree, compute_leaf_hash, proof_from_packed
from node.core.typed_data import Domain
from node.native.loader import merkle_backend
from node.store.batches import batch_leaves, get_batch, read_batch, read_batch_tree
from node.store.db import Store
from node.store.deltas import get_delta_by_receipt, get_delta_by_reference, iter_customer_deltas, read_receipt
from node.store.models import BatchRow, BatchStatus, DeltaRow, DeltaStatus, StoredBatch, StoredDelta, delta_status


def receipt_json(
    row: DeltaRow | StoredDelta,
    batch: BatchRow | StoredBatch | None,
    *,
    head_block: int | None,
    confirmations_required: int,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "receiptId": row.receipt_id,
        "status": delta_status(None if batch is None else batch.status),
        "customerId": row.customer_id,
        "referenceId": row.reference_id,
        "delta": int(row.amount),
        "reason": row.reason,
        "metadataHash": to_hex(row.metadata_hash),
        "customerIndex": row.customer_index,
        "prevFingerprint": to_hex(row.prev_fingerprint),
        "recordedAt": row.recorded_at,
        "corrects": None if row.corrects == ZERO32 else to_hex(row.corrects),
        "correctsReceiptId": row.corrects_receipt_id,
        "fingerprint": to_hex(row.fingerprint),
        "signature": to_hex(row.signature),
        "signer": to_hex(row.signer),
        "logIndex": row.log_index,
        "batchId": None,
        "txHash": None,
        "blockNumber": None,
        "confirmations": 0,
        "confirmationsRequired": confirmations_required,
    }
    if batch is not None and batch.status in (BatchStatus.ANCHORED, BatchStatus.VERIFIED):
        assert batch.block_number is not None and batch.tx_hash is not None
        body["batchId"] = batch.onchain_batch_id
        body["txHash"] = to_hex(batch.tx_hash)
        body["blockNumber"] = batch.block_number
        if head_block is not None:
            body["confirmations"] = max(0, head_block - batch.block_number + 1)
        if batch.status == BatchStatus.VERIFIED:
            # The head this process last saw may predate the cycle that verified the batch (or
            # another process verified it): verified means the required depth was observed.
            body["confirmations"] = max(body["confirmations"], confirmations_required)
    return body


class ReceiptReader:
    """Looks up receipts for one tenant and builds proof bundles from packed batch trees.

    A batch's tree is read from ``batch_trees`` (written by the anchoring job with the batch) or, for a
    batch anchored before that table existed, rebuilt from its fingerprints; either way it is kept in an
    LRU of packed trees bounded by bytes, and a proof is a binary search plus a few slices of it.
    """

    def __init__(self, *, store: Store, domain: Domain, cache_bytes: int = 64 * 1024 * 1024) -> None:
        self.store = store
        self.domain = domain
        self._trees: OrderedDict[int, bytes] = OrderedDict()
        self._cache_bytes = cache_bytes
        self._cached = 0
        self._lock = threading.Lock()

    def get(
        self, *, tenant: str, receipt_id: str, customer_id: str | None = None
    ) -> tuple[StoredDelta, BatchRow | StoredBatch | None]:
        """The receipt's row and batch. ``customer_id`` limits the view to one customer (customer-scoped keys).

        Two indexed reads straight from the driver: this runs for every receipt and proof request.
        """
        row = read_receipt(self.store, tenant=tenant, receipt_id=receipt_id)
        if row is None or (customer_id is not None and row.customer_id != customer_id):
            raise NotFound(f"no receipt {receipt_id}")
        batch = None if row.batch_id is None else read_batch(self.store, batch_id=row.batch_id)
        return row, batch

    def find(self, *, tenant: str, receipt_or_reference_id: str) -> tuple[DeltaRow, BatchRow | None]:
        """By receipt id, else by the referenceId it was recorded with. Raises NotFound."""
        with self.store.session() as session:
            row = get_delta_by_receipt(session=session, tenant=tenant, receipt_id=receipt_or_reference_id)
            if row is None:
                row = get_delta_by_reference(session=session, tenant=tenant, reference_id=receipt_or_reference_id)
            if row is None:
                raise NotFound(f"no receipt with id or referenceId {receipt_or_reference_id!r}")
            batch = None if row.batch_id is None else get_batch(session=session, batch_id=row.batch_id)
        return row, batch

    def _packed_tree(self, batch: BatchRow | StoredBatch) -> bytes:
        assert batch.id is not None
        with self._lock:
            packed = self._trees.get(batch.id)
            if packed is not None and packed[:32] == batch.root:
                self._trees.move_to_end(batch.id)
                return packed
        packed = read_batch_tree(self.store, batch_id=batch.id)
        if packed is None or packed[:32] != batch.root:
            with self.store.session() as session:
                leaves = batch_leaves(session=session, batch_id=batch.id)
            packed = MerkleTree.of(leaves[0][0], [fp for _i, fp in leaves], backend=merkle_backend()).pack()
        with self._lock:
            old = self._trees.pop(batch.id, None)
            self._cached -= 0 if old is None else len(old)
            self._trees[batch.id] = packed
            self._cached += len(packed)
            while self._cached > self._cache_bytes and len(self._trees) > 1:
                _id, evicted = self._trees.popitem(last=False)
                self._cached -= len(evicted)
        return packed

    def proof_bundle(self, *, tenant: str, receipt_id: str, customer_id: str | None = None) -> dict[str, Any]:
        row, batch = self.get(tenant=tenant, receipt_id=receipt_id, customer_id=customer_id)
        if batch is None or batch.status not in (BatchStatus.ANCHORED, BatchStatus.VERIFIED):
            raise NotAnchored(
                f"receipt {receipt_id} is {DeltaStatus.PENDING}; its proof exists once its batch is anchored",
                receipt_id=receipt_id,
            )
        return self.bundle_for(row, batch)

    def bundle_for(self, row: DeltaRow | StoredDelta, batch: BatchRow | StoredBatch) -> dict[str, Any]:
        """The proof bundle of an anchored row. Requires ``batch`` to be the row's anchored batch."""
        assert row.log_index is not None and batch.tx_hash is not None
        assert batch.block_number is not None and batch.block_hash is not None
        leaf_hash = compute_leaf_hash(row.log_index, row.fingerprint)
        proof = proof_from_packed(self._packed_tree(batch), leaf_hash)
        return build_proof_bundle(
            receipt_id=row.receipt_id,
            domain=self.domain,
            delta=row.to_delta(),
            fingerprint=row.fingerprint,
            signature=row.signature,
            signer=row.signer,
            log_index=row.log_index,
            leaf_hash=leaf_hash,
            proof=proof,
            batch=BatchRecord(
                batch_id=batch.onchain_batch_id if batch.onchain_batch_id is not None else -1,
                root=batch.root,
                start_index=batch.start_index,
                count=batch.count,
                tx_hash=batch.tx_hash,
                block_number=batch.block_number,
                block_hash=batch.block_hash,
            ),
            metadata_json=row.metadata_json,
        )

    def export_lines(self, *, tenant: str, customer_id: str, from_index: int, to_index: int | None) -> Iterator[bytes]:
        """JSON Lines of proof bundles for the customer's verified deltas, in constant memory."""
        batches: dict[int, BatchRow] = {}
        for row in iter_customer_deltas(
            self.store.session,
            tenant=tenant,
            customer_id=customer_id,
            from_index=from_index,
            to_index=to_index,
            verified_only=True,
        ):
            assert row.batch_id is not None
            batch = batches.get(row.batch_id)
            if batch is None:
                with self.store.session() as session:
                    found = get_batch(session=session, batch_id=row.batch_id)
                assert found is not None
                batches.clear()  # rows arrive in log order: an older batch is never needed again
                batches[row.batch_id] = batch = found
            yield json.dumps(self.bundle_for(row, batch), separators=(",", ":")).encode() + b"\n"
