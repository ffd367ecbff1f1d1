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

from node.core.canonical_json import canonicalize
from node.core.compare import Comparison, DuplicateReference, Tolerance, compare
from node.core.deltas import RESERVED_CUSTOMER_PREFIX, DeltaRequest
from node.core.errors import FieldError, InvalidInput, NotFound
from node.core.webhooks import WebhookEvent
from node.ledger.recording import Recorder
from node.store.comparisons import get_comparison, get_tenant
from node.store.db import Store
from node.store.deltas import get_chain_head, receipt_ids_at, stream_customer_columns
from node.store.models import ComparisonRow, DeltaStatus
from node.webhooks.events import comparison_summary
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
        row = get_tenant(session=session, tenant=tenant)
    if row is None:
        return Tolerance()
    absolute = None if row.tolerance_absolute is None else int(row.tolerance_absolute)
    return Tolerance(absolute, row.tolerance_basis_points)


def set_tenant_tolerance(store: Store, tenant: str, tolerance: Tolerance) -> None:
    with store.writer() as session:
        row = get_tenant(session=session, tenant=tenant)
        assert row is not None
        row.tolerance_absolute = None if tolerance.absolute is None else str(tolerance.absolute)
        row.tolerance_basis_points = tolerance.basis_points
        session.add(row)
        session.commit()


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
            evidence=json.dumps(result.evidence_json(), separators=(",", ":")),
            created_at=int(now),
        )
        with self.store.writer() as session:
            session.add(row)
            if result.resolution != "match":
                settled = result.resolution == "auto_settled"
                kind = WebhookEvent.COMPARE_SETTLED if settled else WebhookEvent.COMPARE_DISPUTED
                enqueue(
                    session,
                    tenant=tenant,
                    event_type=kind,
                    payloads=[(comparison_summary(row), f"{row.id}:{tenant}")],
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
            fresh = get_comparison(session=session, comparison_id=row.id)
            assert fresh is not None
            fresh.settlement_receipt_id = receipt.receipt_id
            session.add(fresh)
            session.commit()
        row.settlement_receipt_id = receipt.receipt_id

    def get(self, *, tenant: str, comparison_id: str, customer_id: str | None = None) -> ComparisonRow:
        with self.store.session() as session:
            row = get_comparison(session=session, comparison_id=comparison_id)
        if row is None or row.tenant != tenant or (customer_id is not None and row.customer_id != customer_id):
            raise NotFound(f"no comparison {comparison_id}")
        return row
