"""Compare: the counterparty's view against the record; settle small variances on the record.

An ``auto_settled`` comparison is itself recorded as a delta in the node's settlement chain
for the customer (``pacspace:settlements:<customerId>``, amount = the accepted variance,
referenceId = the comparison id), so the settlement is fingerprinted, signed, anchored and
provable like any delta, without touching the customer's own balance.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from node.core.canonical_json import canonicalize
from node.core.compare import MAX_LISTED, Comparison, DuplicateReference, RecordItem, Tolerance, compare
from node.core.deltas import RESERVED_CUSTOMER_PREFIX, DeltaRequest
from node.core.errors import FieldError, InvalidInput, NotFound
from node.ledger.recording import Recorder
from node.store.db import Store
from node.store.deltas import get_chain_head, receipt_ids_at, stream_customer_columns
from node.store.models import ComparisonRow, DeltaStatus, TenantRow
from node.webhooks.outbox import enqueue


@dataclass(frozen=True)
class CompareRequest:
    customer_id: str
    their_deltas: Iterator[tuple[str, int]] | None
    their_balance: int | None
    as_of_index: int | None = None
    as_of_recorded_at: int | None = None
    tolerance: Tolerance | None = None
    field_prefix: str = "theirDeltas"  # how a bad row is named: theirDeltas[17] or row 18 of the CSV


def tenant_tolerance(store: Store, tenant: str) -> Tolerance:
    with store.session() as session:
        row = session.get(TenantRow, tenant)
    if row is None:
        return Tolerance()
    absolute = None if row.tolerance_absolute is None else int(row.tolerance_absolute)
    return Tolerance(absolute, row.tolerance_basis_points)


def set_tenant_tolerance(store: Store, tenant: str, tolerance: Tolerance) -> None:
    with store.writer() as session:
        row = session.get(TenantRow, tenant)
        assert row is not None
        row.tolerance_absolute = None if tolerance.absolute is None else str(tolerance.absolute)
        row.tolerance_basis_points = tolerance.basis_points
        session.add(row)
        session.commit()


def _item_json(item: RecordItem) -> dict[str, Any]:
    return {
        "receiptId": item.receipt_id,
        "referenceId": item.reference_id,
        "delta": item.amount,
        "customerIndex": item.customer_index,
    }


def evidence_json(result: Comparison, *, limit: int | None) -> dict[str, Any]:
    ev = result.evidence

    def cut(items: list[Any]) -> list[Any]:
        return items if limit is None else items[:limit]

    return {
        "onlyInRecord": [_item_json(i) for i in cut(ev.only_in_record)],
        "onlyInTheirs": cut(ev.only_in_theirs),
        "amountMismatch": [
            {"referenceId": i.reference_id, "receiptId": i.receipt_id, "record": i.amount, "theirs": theirs}
            for i, theirs in cut(ev.amount_mismatch)
        ],
        "pending": [_item_json(i) for i in cut(ev.pending)],
        "counts": {
            "onlyInRecord": len(ev.only_in_record),
            "onlyInTheirs": len(ev.only_in_theirs),
            "amountMismatch": len(ev.amount_mismatch),
            "pending": len(ev.pending),
            "matched": result.matched,
        },
    }


class Comparisons:
    def __init__(self, *, store: Store, recorder: Recorder, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.recorder = recorder
        self.clock = clock

    def _record_items(self, tenant: str, req: CompareRequest) -> Iterator[tuple[str, int, int, bool]]:
        for reference_id, amount, index, status, recorded_at in stream_customer_columns(
            self.store, tenant=tenant, customer_id=req.customer_id, to_index=req.as_of_index
        ):
            if req.as_of_recorded_at is not None and recorded_at > req.as_of_recorded_at:
                return
            yield reference_id, int(amount), index, status == DeltaStatus.VERIFIED

    def _with_receipt_ids(self, tenant: str, customer_id: str, result: Comparison) -> None:
        ev = result.evidence
        wanted = [i.customer_index for i in (*ev.only_in_record, *ev.pending)]
        wanted += [i.customer_index for i, _theirs in ev.amount_mismatch]
        ids = receipt_ids_at(self.store, tenant=tenant, customer_id=customer_id, indexes=wanted)
        ev.only_in_record = [replace(i, receipt_id=ids[i.customer_index]) for i in ev.only_in_record]
        ev.pending = [replace(i, receipt_id=ids[i.customer_index]) for i in ev.pending]
        ev.amount_mismatch = [(replace(i, receipt_id=ids[i.customer_index]), t) for i, t in ev.amount_mismatch]

    def run(self, *, tenant: str, key_id: str, req: CompareRequest) -> ComparisonRow:
        with self.store.session() as session:
            if get_chain_head(session=session, tenant=tenant, customer_id=req.customer_id) is None:
                raise NotFound(f"unknown customer {req.customer_id!r}: no deltas recorded")
        tolerance = tenant_tolerance(self.store, tenant).stricter(req.tolerance)
        try:
            result = compare(
                self._record_items(tenant, req),
                theirs=req.their_deltas,
                their_balance=req.their_balance,
                tolerance=tolerance,
            )
        except DuplicateReference as exc:
            raise InvalidInput(
                str(exc), errors=[FieldError(f"{req.field_prefix}[{exc.position}].referenceId", "duplicated")]
            ) from None
        self._with_receipt_ids(tenant, req.customer_id, result)
        now = self.clock()
        row = ComparisonRow(
            id="cmp_" + secrets.token_hex(12),
            tenant=tenant,
            customer_id=req.customer_id,
            submitted_by=key_id,
            as_of_index=req.as_of_index,
            record_balance=str(result.record_balance),
            their_balance=str(result.their_balance),
            variance=str(result.variance),
            tolerance=json.dumps(tolerance.to_json()),
            resolution=result.resolution,
            evidence=json.dumps(evidence_json(result, limit=None), separators=(",", ":")),
            created_at=int(now),
        )
        with self.store.writer() as session:
            session.add(row)
            if result.resolution != "match":
                kind = "compare.settled" if result.resolution == "auto_settled" else "compare.disputed"
                enqueue(
                    session,
                    tenant=tenant,
                    event_type=kind,
                    payloads=[(self.summary_json(row), f"{row.id}:{tenant}")],
                    now=now,
                )
            session.commit()
        if result.resolution == "auto_settled":
            self._settle(tenant, row)
        return row

    def _settle(self, tenant: str, row: ComparisonRow) -> None:
        request = DeltaRequest(
            customer_id=f"{RESERVED_CUSTOMER_PREFIX}settlements:{row.customer_id}",
            delta=int(row.variance),
            reason=f"variance settled within tolerance by comparison {row.id}",
            reference_id=row.id,
            metadata_json=canonicalize(
                {
                    "comparisonId": row.id,
                    "customerId": row.customer_id,
                    "recordBalance": row.record_balance,
                    "theirBalance": row.their_balance,
                    "variance": row.variance,
                    "tolerance": json.loads(row.tolerance),
                }
            ),
        )
        receipt, _created = self.recorder.record(tenant=tenant, request=request, api_key_id=row.submitted_by)
        with self.store.writer() as session:
            fresh = session.get(ComparisonRow, row.id)
            assert fresh is not None
            fresh.settlement_receipt_id = receipt.receipt_id
            session.add(fresh)
            session.commit()
        row.settlement_receipt_id = receipt.receipt_id

    def get(self, *, tenant: str, comparison_id: str, customer_id: str | None = None) -> ComparisonRow:
        with self.store.session() as session:
            row = session.get(ComparisonRow, comparison_id)
        if row is None or row.tenant != tenant or (customer_id is not None and row.customer_id != customer_id):
            raise NotFound(f"no comparison {comparison_id}")
        return row

    @staticmethod
    def summary_json(row: ComparisonRow) -> dict[str, Any]:
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

    def to_json(self, row: ComparisonRow) -> dict[str, Any]:
        full = json.loads(row.evidence)
        limited = {k: (v[:MAX_LISTED] if isinstance(v, list) else v) for k, v in full.items()}
        return {**self.summary_json(row), "evidence": limited}
