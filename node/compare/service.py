"""Compare: the counterparty's view against the record; settle small variances on the record.

Who may settle: only a key with write scope (or admin) and no customer. A variance within
tolerance compared with a read or customer-scoped key answers ``within_tolerance`` and adds
nothing to the record. A settlement is idempotent: the same variance against the same record head
(the highest verified customerIndex compared) settles once, and asking again answers with that
first comparison and its settlement.

An ``auto_settled`` comparison is itself recorded as a delta in the node's settlement chain
for the customer (``pacspace:settlements:<customerId>``, amount = the accepted variance,
referenceId = the comparison id), so the settlement is fingerprinted, signed, anchored and
provable like any delta, without touching the customer's own balance.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

from sqlalchemy.exc import IntegrityError

from node.compare.json_body import YIELD_EVERY, pause
from node.compare.upload import CompareRequest, Upload, parse_upload
from node.core.canonical_json import canonicalize
from node.core.compare import Comparison, DuplicateReference, Tolerance, compare
from node.core.deltas import RESERVED_CUSTOMER_PREFIX, DeltaRequest
from node.core.errors import Busy, FieldError, InvalidInput, NotFound
from node.core.webhooks import WebhookEvent
from node.ledger.recording import Recorder
from node.store.comparisons import expire_evidence, find_settlement, get_comparison, get_tenant
from node.store.db import Store
from node.store.deltas import get_chain_head, receipt_ids_at, stream_customer_columns
from node.store.models import ComparisonRow, DeltaStatus, delta_status
from node.webhooks.events import comparison_summary
from node.webhooks.outbox import enqueue

__all__ = ["CompareRequest", "Comparisons", "Outcome", "Upload"]


@dataclass(frozen=True)
class Outcome:
    row: ComparisonRow
    created: bool  # False: the same settlement was asked for before; ``row`` is that first comparison


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


def settlement_key(customer_id: str, record_head: int | None, variance: int) -> str:
    """What makes two settlements the same one: the customer, the record head compared, the variance."""
    text = f"{customer_id}\x00{record_head}\x00{variance}"
    return hashlib.sha256(text.encode()).hexdigest()


def _pausing(items: Iterator[tuple[str, int]]) -> Iterator[tuple[str, int]]:
    """The items, with the GIL given away every YIELD_EVERY of them (the event loop's turn)."""
    for n, item in enumerate(items):
        if not n % YIELD_EVERY:
            pause()
        yield item


class Comparisons:
    def __init__(
        self,
        *,
        store: Store,
        recorder: Recorder,
        clock: Callable[[], float] = time.time,
        max_items: int = 1_000_000,
        concurrency: int = 2,
    ) -> None:
        self.store = store
        self.recorder = recorder
        self.clock = clock
        self.max_items = max_items
        self._slots = threading.BoundedSemaphore(concurrency)

    @contextmanager
    def slot(self) -> Iterator[None]:
        """One of the few comparisons that may run at once (each may hold up to max_items in memory);
        raises Busy when all are taken, before the caller reads the body."""
        if not self._slots.acquire(blocking=False):
            raise Busy("every comparison slot is busy; retry in a few seconds", retry_after="5")
        try:
            yield
        finally:
            self._slots.release()

    def require_customer(self, *, tenant: str, customer_id: str) -> None:
        """NotFound for a customer without deltas (checked before a body is read)."""
        with self.store.session() as session:
            if get_chain_head(session=session, tenant=tenant, customer_id=customer_id) is None:
                raise NotFound(f"unknown customer {customer_id!r}: no deltas recorded")

    def run_upload(self, *, tenant: str, key_id: str, upload: Upload, may_settle: bool) -> Outcome:
        """Parse the spooled body, then compare (both in the calling thread: never the event loop)."""
        return self.run(tenant=tenant, key_id=key_id, req=parse_upload(upload), may_settle=may_settle)

    def _record_items(self, tenant: str, req: CompareRequest) -> Iterator[tuple[str, int, int, bool]]:
        rows = stream_customer_columns(self.store, tenant=tenant, customer_id=req.customer_id, to_index=req.as_of_index)
        for n, (reference_id, amount, index, batch_status, recorded_at) in enumerate(rows):
            if not n % YIELD_EVERY:
                pause()
            if req.as_of_recorded_at is not None and recorded_at > req.as_of_recorded_at:
                continue  # the rows come unordered: skip, never stop
            yield reference_id, int(amount), index, delta_status(batch_status) == DeltaStatus.VERIFIED

    def _with_receipt_ids(self, tenant: str, customer_id: str, result: Comparison) -> None:
        ev = result.evidence
        wanted = [i.customer_index for i in (*ev.only_in_record, *ev.pending)]
        wanted += [i.customer_index for i, _theirs in ev.amount_mismatch]
        ids = receipt_ids_at(self.store, tenant=tenant, customer_id=customer_id, indexes=wanted)
        ev.only_in_record = [replace(i, receipt_id=ids[i.customer_index]) for i in ev.only_in_record]
        ev.pending = [replace(i, receipt_id=ids[i.customer_index]) for i in ev.pending]
        ev.amount_mismatch = [(replace(i, receipt_id=ids[i.customer_index]), t) for i, t in ev.amount_mismatch]

    def run(self, *, tenant: str, key_id: str, req: CompareRequest, may_settle: bool = False) -> Outcome:
        self.require_customer(tenant=tenant, customer_id=req.customer_id)
        tolerance = tenant_tolerance(self.store, tenant).stricter(req.tolerance)
        theirs = None if req.their_deltas is None else _pausing(req.their_deltas)
        try:
            result = compare(
                self._record_items(tenant, req),
                theirs=theirs,
                their_balance=req.their_balance,
                tolerance=tolerance,
            )
        except DuplicateReference as exc:
            raise InvalidInput(
                str(exc), errors=[FieldError(f"{req.field_prefix}[{exc.position}].referenceId", "duplicated")]
            ) from None
        settles = may_settle and result.resolution == "within_tolerance"
        key = settlement_key(req.customer_id, result.record_head, result.variance) if settles else None
        if key is not None:
            first = self._first_settlement(tenant, key)
            if first is not None:
                return Outcome(first, False)
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
            resolution="auto_settled" if settles else result.resolution,
            evidence=json.dumps(result.evidence_json(), separators=(",", ":")),
            settlement_key=key,
            created_at=int(now),
        )
        try:
            with self.store.writer() as session:
                session.add(row)
                if row.resolution in ("auto_settled", "needs_evidence"):
                    kind = WebhookEvent.COMPARE_SETTLED if settles else WebhookEvent.COMPARE_DISPUTED
                    enqueue(
                        session,
                        tenant=tenant,
                        event_type=kind,
                        payloads=[(comparison_summary(row), f"{row.id}:{tenant}")],
                        now=now,
                    )
                session.commit()
        except IntegrityError:
            assert key is not None  # only the settlement key can clash: the same settlement, at the same moment
            first = self._first_settlement(tenant, key)
            assert first is not None
            return Outcome(first, False)
        if settles:
            self._settle(tenant, row)
        return Outcome(row, True)

    def _first_settlement(self, tenant: str, key: str) -> ComparisonRow | None:
        """The comparison that settled this variance before, its settlement recorded (finished here if a
        crash came between the comparison's commit and its settlement delta)."""
        with self.store.session() as session:
            first = find_settlement(session=session, tenant=tenant, settlement_key=key)
        if first is not None and first.settlement_receipt_id is None:
            self._settle(tenant, first)
        return first

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
        # The referenceId is the comparison id, so finishing an interrupted settlement replays, never doubles.
        receipt, _created = self.recorder.record(tenant=tenant, request=request, api_key_id=row.submitted_by)
        with self.store.writer() as session:
            fresh = get_comparison(session=session, comparison_id=row.id)
            assert fresh is not None
            fresh.settlement_receipt_id = receipt.receipt_id
            session.add(fresh)
            session.commit()
        row.settlement_receipt_id = receipt.receipt_id

    def expire_evidence(self, *, retention_days: float) -> int:
        """Drop the evidence lists of comparisons older than the retention (0: keep forever); the rows,
        their figures, counts and settlements stay. Returns how many expired."""
        if retention_days <= 0:
            return 0
        now = int(self.clock())
        total = 0
        while True:
            with self.store.writer() as session:
                done = expire_evidence(session=session, created_before=now - int(retention_days * 86_400), now=now)
                session.commit()
            total += done
            if not done:
                return total

    def get(self, *, tenant: str, comparison_id: str, customer_id: str | None = None) -> ComparisonRow:
        with self.store.session() as session:
            row = get_comparison(session=session, comparison_id=comparison_id)
        if row is None or row.tenant != tenant or (customer_id is not None and row.customer_id != customer_id):
            raise NotFound(f"no comparison {comparison_id}")
        return row
