"""The anchoring job's second half: from mined to verified, and back when the chain reorganises.

- An ANCHORED batch's block hash is checked against the chain every cycle; a vanished block sends the
  batch back to SENT (its stored transaction is broadcast again) and its deltas back to pending.
- It becomes VERIFIED once its block is final by the chain's rule (N confirmations, or at or below the
  ``finalized`` block) and, with several providers, once ``quorum`` of them each place its transaction
  in that block, final by their own view, and none places it elsewhere.
- A VERIFIED batch above the chain's finalized block can still be reorganised away (a reorg deeper
  than the confirmation depth): it is watched until finalized, and if its block vanishes it goes back
  to SENT, its deltas to pending and its amounts out of the verified balances, with ``batch.reorged``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlmodel import Session

from node.anchoring.policy import AnchorPolicy, CycleReport
from node.chain.client import AnchorClient
from node.chain.witnesses import provider_reports
from node.core.finality import FinalityMode, decide_settlement, is_settled
from node.core.webhooks import WebhookEvent
from node.store.balances import add_verified_batch_to_balances
from node.store.batches import batch_tenant_counts, list_batch_deltas, verified_batches_above
from node.store.db import Store
from node.store.models import BatchRow, BatchStatus
from node.store.webhooks import any_enabled_endpoint
from node.webhooks import outbox

log = logging.getLogger("pacspace.anchoring")


def still_canonical(store: Store, chain: AnchorClient, batch: BatchRow, clock: Callable[[], float]) -> bool:
    """False (and the batch back to SENT, its deltas to pending) when its block left the chain."""
    assert batch.block_number is not None and batch.id is not None
    if chain.block_hash_at(batch.block_number) == batch.block_hash:
        return True
    _back_to_sent(store, batch, clock)
    log.warning("batch block reorganised away", extra={"batch_id": batch.id})
    return False


def watch_verified(
    store: Store,
    chain: AnchorClient,
    finalized: int | None,
    clock: Callable[[], float],
    report: CycleReport,
    quorum: int = 1,
) -> None:
    """Un-verify verified batches whose block a reorg took away while it was above the finalized block.

    Newest first, stopping at the first still canonical: its ancestors, the older watched batches'
    blocks among them (each was canonical when last checked), cannot have changed under it. A batch
    the quorum of providers confirmed is un-verified only if fewer than ``quorum`` still place its
    transaction in its block: one provider alone cannot undo what several confirmed.
    """
    if finalized is None:
        return  # the RPC serves no finalized tag: confirmations are all there is
    with store.session() as session:
        watched = list(verified_batches_above(session=session, block_number=finalized))
    for batch in watched:
        assert batch.block_number is not None and batch.tx_hash is not None
        if chain.block_hash_at(batch.block_number) == batch.block_hash:
            return
        if quorum > 1:
            reports = provider_reports(chain, batch.tx_hash, with_finalized=False)
            still = [r.provider for r in reports if r.block_hash == batch.block_hash]
            if len(still) >= quorum:
                report.disagreeing = tuple(r.provider for r in reports if r.block_hash != batch.block_hash)
                log.warning(
                    "one provider reports a verified batch's block gone, but the quorum still has it",
                    extra={"batch_id": batch.id, "still_confirming": still},
                )
                return
        _back_to_sent(store, batch, clock)
        report.reorged += 1
        log.warning(
            "a verified batch's block was reorganised away above the finalized block; anchoring it again",
            extra={"batch_id": batch.id, "block_number": batch.block_number, "finalized": finalized},
        )


def confirm(
    store: Store,
    chain: AnchorClient,
    batch: BatchRow,
    *,
    clock: Callable[[], float],
    policy: AnchorPolicy,
    report: CycleReport,
) -> bool:
    """Mark the ANCHORED ``batch`` verified if it is final (by the rule, and by the quorum of providers)."""
    assert batch.block_number is not None and batch.id is not None and batch.block_hash is not None
    rule = policy.rule
    if not is_settled(rule, block_number=batch.block_number, head=report.head_block, finalized=report.finalized_block):
        report.waiting = report.waiting or "not_final"
        return False
    if policy.quorum > 1:
        assert batch.tx_hash is not None
        reports = provider_reports(chain, batch.tx_hash, with_finalized=rule.mode == FinalityMode.FINALIZED)
        settlement = decide_settlement(
            rule, block_number=batch.block_number, block_hash=batch.block_hash, reports=reports, quorum=policy.quorum
        )
        if not settlement.verified:
            report.waiting = report.waiting or settlement.reason
            report.disagreeing = settlement.conflicting
            log.warning(
                "batch not verified: the providers do not confirm its block",
                extra={
                    "batch_id": batch.id,
                    "reason": settlement.reason,
                    "agreeing": list(settlement.agreeing),
                    "disagreeing": list(settlement.conflicting),
                    "quorum": policy.quorum,
                },
            )
            return False
    with store.writer() as session:
        batch.status = BatchStatus.VERIFIED
        batch.verified_at = int(clock())
        session.add(batch)
        add_verified_batch_to_balances(session=session, batch_id=batch.id)
        _emit_verified(session, batch, clock())
        session.commit()
    report.batches_verified += 1
    report.deltas_verified += batch.count
    log.info("batch verified", extra={"batch_id": batch.id, "count": batch.count})
    return True


def _back_to_sent(store: Store, batch: BatchRow, clock: Callable[[], float]) -> None:
    """The batch's block is gone: announce it, then SENT again, so its deltas are pending (and, if it was
    verified, its amounts out of the verified balances)."""
    assert batch.id is not None
    with store.writer() as session:
        emit_batch_event(session, batch, WebhookEvent.BATCH_REORGED, clock())
        if batch.status == BatchStatus.VERIFIED:
            add_verified_batch_to_balances(session=session, batch_id=batch.id, undo=True)
        batch.status = BatchStatus.SENT
        batch.block_number = None
        batch.block_hash = None
        batch.verified_at = None
        session.add(batch)
        session.commit()


def emit_batch_event(session: Session, batch: BatchRow, event_type: WebhookEvent, now: float) -> None:
    if batch.id is None or not any_enabled_endpoint(session=session):
        return
    counts = batch_tenant_counts(session=session, batch_id=batch.id)
    outbox.enqueue_batch_event(session, event_type=event_type, batch=batch, tenant_counts=counts, now=now)


def _emit_verified(session: Session, batch: BatchRow, now: float) -> None:
    if batch.id is None or not any_enabled_endpoint(session=session):
        return
    rows = list_batch_deltas(session=session, batch_id=batch.id)
    outbox.enqueue_verified_batch(session, rows=rows, batch=batch, now=now)
