"""Recording a delta: validate (core), chain and sign (core), persist durably (store).

The row is committed before the caller answers 201, so an acknowledged delta survives a
crash. The customer's chain head is read and extended inside one IMMEDIATE transaction,
and the (tenant, customer, index) unique constraint refuses any fork that slips past.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from node.core.deltas import ChainHead, DeltaRequest, build_delta
from node.core.errors import Conflict, FieldError, InvalidInput
from node.core.hashing import ZERO32
from node.core.signing import Signer
from node.core.typed_data import Domain, compute_fingerprint
from node.store.db import Store
from node.store.models import DeltaRow
from node.store.queries import get_chain_head, get_delta_by_receipt, get_delta_by_reference


def new_receipt_id() -> str:
    return "rcpt_" + secrets.token_hex(12)


class Recorder:
    def __init__(
        self,
        *,
        store: Store,
        domain: Domain,
        signer: Signer,
        clock: Callable[[], float] = time.time,
        on_recorded: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.domain = domain
        self.signer = signer
        self.clock = clock
        self.on_recorded = on_recorded

    def record(self, *, tenant: str, request: DeltaRequest, api_key_id: str | None = None) -> tuple[DeltaRow, bool]:
        """Returns (receipt row, created). A retry with the same payload returns the first row."""
        request_hash = request.request_hash
        for _attempt in range(3):
            with self.store.writer() as session:
                self.store.lock_chains(session, [(tenant, request.customer_id)])
                existing = get_delta_by_reference(session=session, tenant=tenant, reference_id=request.reference_id)
                if existing is not None:
                    return self._replay(existing, request_hash), False
                head_row = get_chain_head(session=session, tenant=tenant, customer_id=request.customer_id)
                head = (
                    None
                    if head_row is None
                    else ChainHead(head_row.customer_index, head_row.fingerprint, int(head_row.running_total))
                )
                corrects = self._corrected_fingerprint(session, tenant, request)
                delta = build_delta(
                    tenant=tenant,
                    request=request,
                    head=head,
                    recorded_at=int(self.clock()),
                    salt=secrets.token_bytes(32),
                    corrects=corrects,
                )
                fingerprint = compute_fingerprint(self.domain, delta)
                row = DeltaRow.from_signed(
                    delta,
                    receipt_id=new_receipt_id(),
                    metadata_json=request.metadata_json,
                    fingerprint=fingerprint,
                    signature=self.signer.sign_digest(fingerprint),
                    request_hash=request_hash,
                    running_total=(0 if head is None else head.running_total) + delta.delta,
                    api_key_id=api_key_id,
                    corrects_receipt_id=request.corrects_receipt_id,
                )
                session.add(row)
                try:
                    session.commit()
                except IntegrityError:
                    # Another process won the race for this reference or chain index: re-read.
                    session.rollback()
                    continue
            if self.on_recorded is not None:
                self.on_recorded()
            return row, True
        raise Conflict("could not extend the customer's chain after 3 attempts; retry", code="chain_contention")

    @staticmethod
    def _corrected_fingerprint(session: Session, tenant: str, request: DeltaRequest) -> bytes:
        """The fingerprint of the receipt a correction names; it must be this customer's own."""
        if request.corrects_receipt_id is None:
            return ZERO32
        original = get_delta_by_receipt(session=session, tenant=tenant, receipt_id=request.corrects_receipt_id)
        if original is None or original.customer_id != request.customer_id:
            raise InvalidInput(
                "a correction must name an existing receipt of the same customer",
                errors=[FieldError("correctsReceiptId", f"no receipt {request.corrects_receipt_id} for this customer")],
            )
        return original.fingerprint

    @staticmethod
    def _replay(existing: DeltaRow, request_hash: bytes) -> DeltaRow:
        if not secrets.compare_digest(existing.request_hash, request_hash):
            raise Conflict(
                f"referenceId {existing.reference_id!r} was already recorded with a different payload "
                f"as {existing.receipt_id}",
                code="reference_conflict",
                receipt_id=existing.receipt_id,
            )
        return existing
