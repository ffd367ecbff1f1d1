"""Creating, reading and countersigning checkpoints (the rules live in node.core.checkpoints)."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from node.checkpoints.view import SignedCheckpoint, checkpoint_json
from node.core.checkpoints import (
    Checkpoint,
    CheckpointRangeError,
    build_checkpoint,
    build_checkpoint_typed_data,
    compute_checkpoint_digest,
    encode_proof_token,
)
from node.core.errors import (
    AlreadyCountersigned,
    CheckpointOverlap,
    CheckpointRangeInvalid,
    EmptyRange,
    FieldError,
    InvalidInput,
    NotFound,
    NothingToCheckpoint,
    RangeNotVerified,
)
from node.core.hashing import to_hex
from node.core.signing import ReceiptSigner, recover_signer
from node.core.typed_data import Domain
from node.core.webhooks import WebhookEvent
from node.store.balances import get_customer_balance
from node.store.checkpoints import get_checkpoint, last_checkpoint, list_checkpoints, overlapping_checkpoint
from node.store.db import Store
from node.store.deltas import customer_indexes_between, get_chain_head, get_delta_at, iter_customer_deltas
from node.store.models import CheckpointRow
from node.webhooks.outbox import enqueue


@dataclass(frozen=True)
class RangeRequest:
    customer_id: str
    from_index: int | None = None
    to_index: int | None = None
    recorded_from: int | None = None  # unix seconds, inclusive
    recorded_to: int | None = None


def _to_checkpoint(row: CheckpointRow) -> Checkpoint:
    return Checkpoint(
        tenant=row.tenant,
        customer_id=row.customer_id,
        from_index=row.from_index,
        to_index=row.to_index,
        count=row.count,
        opening_balance=int(row.opening_balance),
        net=int(row.net),
        closing_balance=int(row.closing_balance),
        range_root=row.range_root,
        head_fingerprint=row.head_fingerprint,
        created_at=row.created_at,
    )


class Checkpoints:
    def __init__(
        self, *, store: Store, domain: Domain, signer: ReceiptSigner, clock: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self.domain = domain
        self.signer = signer
        self.clock = clock

    def _resolve_range(self, tenant: str, req: RangeRequest) -> tuple[int, int]:
        with self.store.session() as session:
            head = get_chain_head(session=session, tenant=tenant, customer_id=req.customer_id)
            if head is None:
                raise NotFound(f"no deltas recorded for customer {req.customer_id!r}")
            balance = get_customer_balance(session=session, tenant=tenant, customer_id=req.customer_id)
            previous = last_checkpoint(session=session, tenant=tenant, customer_id=req.customer_id)
            verified_count = 0 if balance is None else balance.verified_count
            if req.recorded_from is not None or req.recorded_to is not None:
                low, high = customer_indexes_between(
                    session=session,
                    tenant=tenant,
                    customer_id=req.customer_id,
                    recorded_from=req.recorded_from or 0,
                    recorded_to=req.recorded_to if req.recorded_to is not None else 2**63 - 1,
                )
                if low is None or high is None:
                    raise EmptyRange("no deltas were recorded in that period")
                from_index, to_index = low, high
            else:
                from_index = (
                    req.from_index if req.from_index is not None else (0 if previous is None else previous.to_index + 1)
                )
                to_index = req.to_index if req.to_index is not None else verified_count - 1
        if req.from_index is None and req.to_index is None and from_index > to_index:
            raise NothingToCheckpoint("nothing to checkpoint: no verified deltas after the previous checkpoint")
        if from_index > to_index:
            raise InvalidInput(
                "fromIndex is after toIndex", errors=[FieldError("fromIndex", "must not exceed toIndex")]
            )
        if to_index > head.customer_index:
            raise InvalidInput(
                f"toIndex {to_index} is past the customer's last delta {head.customer_index}",
                errors=[FieldError("toIndex", f"must be at most {head.customer_index}")],
            )
        if to_index >= verified_count:
            raise RangeNotVerified(
                f"deltas {max(from_index, verified_count)}..{to_index} are not verified yet; "
                f"only 0..{verified_count - 1} can be checkpointed"
            )
        return from_index, to_index

    def create(self, *, tenant: str, req: RangeRequest) -> CheckpointRow:
        with self.store.writer() as session:
            self.store.lock_chains(session, [(tenant, req.customer_id)])  # overlap check and insert as one
            from_index, to_index = self._resolve_range(tenant, req)
            clash = overlapping_checkpoint(
                session=session, tenant=tenant, customer_id=req.customer_id, from_index=from_index, to_index=to_index
            )
            if clash is not None:
                raise CheckpointOverlap(
                    f"the range {from_index}..{to_index} overlaps checkpoint {clash.id} "
                    f"({clash.from_index}..{clash.to_index})",
                    checkpoint_id=clash.id,
                )
            before = (
                None
                if from_index == 0
                else get_delta_at(
                    session=session, tenant=tenant, customer_id=req.customer_id, customer_index=from_index - 1
                )
            )
            entries = [
                (row.customer_index, row.fingerprint, int(row.amount))
                for row in iter_customer_deltas(
                    self.store.session,
                    tenant=tenant,
                    customer_id=req.customer_id,
                    from_index=from_index,
                    to_index=to_index,
                    verified_only=True,
                )
            ]
            try:
                cp = build_checkpoint(
                    tenant=tenant,
                    customer_id=req.customer_id,
                    entries=entries,
                    opening_balance=0 if before is None else int(before.running_total),
                    created_at=int(self.clock()),
                )
            except CheckpointRangeError as exc:
                raise CheckpointRangeInvalid(str(exc)) from None
            row = CheckpointRow(
                id="chk_" + secrets.token_hex(12),
                tenant=tenant,
                customer_id=cp.customer_id,
                from_index=cp.from_index,
                to_index=cp.to_index,
                count=cp.count,
                opening_balance=str(cp.opening_balance),
                net=str(cp.net),
                closing_balance=str(cp.closing_balance),
                range_root=cp.range_root,
                head_fingerprint=cp.head_fingerprint,
                created_at=cp.created_at,
                node_signature=self._sign(cp),
            )
            session.add(row)
            enqueue(
                session,
                tenant=tenant,
                event_type=WebhookEvent.CHECKPOINT_CREATED,
                payloads=[({"checkpoint": checkpoint_json(self.view(row))}, f"{row.id}:created:{tenant}")],
                now=self.clock(),
            )
            session.commit()
        return row

    def _sign(self, cp: Checkpoint) -> bytes:
        typed_data = partial(build_checkpoint_typed_data, self.domain, cp)
        return self.signer.sign_typed([(compute_checkpoint_digest(self.domain, cp), typed_data)])[0]

    def get(self, *, tenant: str, checkpoint_id: str, customer_id: str | None = None) -> CheckpointRow:
        with self.store.session() as session:
            row = get_checkpoint(session=session, checkpoint_id=checkpoint_id)
        if row is None or row.tenant != tenant or (customer_id is not None and row.customer_id != customer_id):
            raise NotFound(f"no checkpoint {checkpoint_id}")
        return row

    def list(self, *, tenant: str, customer_id: str | None) -> list[CheckpointRow]:
        with self.store.session() as session:
            return list(list_checkpoints(session=session, tenant=tenant, customer_id=customer_id))

    def countersign(
        self, *, tenant: str, checkpoint_id: str, signature: bytes, customer_id: str | None = None
    ) -> CheckpointRow:
        row = self.get(tenant=tenant, checkpoint_id=checkpoint_id, customer_id=customer_id)
        digest = compute_checkpoint_digest(self.domain, _to_checkpoint(row))
        try:
            signer = recover_signer(digest, signature)
        except ValueError as exc:
            raise InvalidInput(
                "the countersignature is malformed", errors=[FieldError("signature", str(exc))]
            ) from None
        with self.store.writer() as session:
            fresh = get_checkpoint(session=session, checkpoint_id=checkpoint_id, for_update=True)
            assert fresh is not None
            if fresh.countersignature is not None:
                raise AlreadyCountersigned(
                    f"checkpoint {checkpoint_id} is already countersigned by {to_hex(fresh.countersigner or b'')}",
                    checkpoint_id=fresh.id,
                )
            fresh.countersignature = signature
            fresh.countersigner = signer
            fresh.countersigned_at = int(self.clock())
            session.add(fresh)
            enqueue(
                session,
                tenant=tenant,
                event_type=WebhookEvent.CHECKPOINT_COUNTERSIGNED,
                payloads=[({"checkpoint": checkpoint_json(self.view(fresh))}, f"{fresh.id}:countersigned:{tenant}")],
                now=self.clock(),
            )
            session.commit()
        return fresh

    def view(self, row: CheckpointRow) -> SignedCheckpoint:
        """The checkpoint with its signer, typed data and proof token (what its JSON shows)."""
        cp = _to_checkpoint(row)
        return SignedCheckpoint(
            row=row,
            checkpoint=cp,
            signer=recover_signer(compute_checkpoint_digest(self.domain, cp), row.node_signature),
            typed_data=build_checkpoint_typed_data(self.domain, cp),
            proof_token=encode_proof_token(self.domain, cp, row.node_signature, row.countersignature or b""),
        )
