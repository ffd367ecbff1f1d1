"""The anchoring job: pending deltas -> batch -> transaction -> mined -> confirmed -> verified.

``run_anchor_cycle`` is a plain function the scheduler calls and tests call directly. Each
step is written to the database before the next one happens, so a cycle that dies anywhere
is finished by the next one, and the contract's append-only check (``startIndex ==
nextIndex``) makes double anchoring impossible whatever the node believes:

1. PREPARED: batch row and the deltas' log indexes written (before any transaction exists).
2. SENT: the signed transaction and its hash written, then broadcast (rebroadcast if lost).
3. ANCHORED: mined in a block whose hash we keep; checked against the canonical chain.
4. VERIFIED: ``confirmations`` blocks deep; deltas become verified.

A batch whose block vanishes (reorg) goes back to SENT and its deltas back to pending.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlmodel import Session

from node.chain.client import AnchorClient, MinedAnchor
from node.core.errors import PacSpaceError
from node.core.hashing import ZERO32, to_hex
from node.core.merkle import MerkleTree, compute_batch_commitment
from node.core.webhooks import WebhookEvent
from node.native.loader import merkle_backend
from node.store.balances import add_verified_batch_to_balances
from node.store.batches import (
    batch_tenant_counts,
    insert_batch,
    list_batch_deltas,
    next_log_index,
    open_batches,
    set_batch_deltas_status,
    unbatched_fingerprints,
)
from node.store.db import Store
from node.store.models import BatchRow, BatchStatus, DeltaStatus
from node.store.webhooks import any_enabled_endpoint
from node.webhooks import outbox

log = logging.getLogger("pacspace.anchoring")


class AnchorStateMismatch(PacSpaceError):
    """The database and the contract disagree about the log; a human must look."""

    code = "anchor_state_mismatch"
    status = 500
    title = "Database and contract disagree"


@dataclass(frozen=True)
class AnchorPolicy:
    max_batch_size: int = 10_000
    confirmations: int = 1
    receipt_timeout: float = 30.0
    poll_interval: float = 0.05


@dataclass
class CycleReport:
    batches_prepared: int = 0
    batches_anchored: int = 0
    batches_verified: int = 0
    deltas_verified: int = 0
    reorged: int = 0
    gas_used: int = 0
    cost_wei: int = 0
    head_block: int | None = None


def run_anchor_cycle(
    store: Store,
    chain: AnchorClient,
    clock: Callable[[], float] = time.time,
    policy: AnchorPolicy | None = None,
) -> CycleReport:
    """Advance every open batch, then anchor waiting deltas one batch at a time."""
    policy = policy or AnchorPolicy()
    report = CycleReport()
    _advance_open_batches(store, chain, clock, policy, report)
    while not _has_in_flight(store):
        batch = _prepare_batch(store, chain, clock, policy)
        if batch is None:
            break
        report.batches_prepared += 1
        _advance_open_batches(store, chain, clock, policy, report)
    return report


def _has_in_flight(store: Store) -> bool:
    with store.session() as session:
        return any(b.status in (BatchStatus.PREPARED, BatchStatus.SENT) for b in open_batches(session=session))


def _prepare_batch(
    store: Store, chain: AnchorClient, clock: Callable[[], float], policy: AnchorPolicy
) -> BatchRow | None:
    with store.session() as session:
        rows = unbatched_fingerprints(session=session, limit=policy.max_batch_size)
        if not rows:
            return None
        start = next_log_index(session=session)
    on_chain_next = chain.next_index()
    if on_chain_next != start:
        raise AnchorStateMismatch(
            f"the database's next log index is {start} but the contract's nextIndex is {on_chain_next}; "
            "is the node pointed at the contract it anchored to before?"
        )
    tree = MerkleTree.of(start, [fingerprint for _id, fingerprint in rows], backend=merkle_backend())
    with store.writer() as session:
        batch = insert_batch(
            session=session,
            start_index=start,
            root=tree.root,
            packed_tree=tree.pack(),
            row_ids=[row_id for row_id, _fp in rows],
            created_at=int(clock()),
        )
        session.commit()
    log.info("batch prepared", extra={"batch_id": batch.id, "start_index": start, "count": len(rows)})
    return batch


def _advance_open_batches(
    store: Store, chain: AnchorClient, clock: Callable[[], float], policy: AnchorPolicy, report: CycleReport
) -> None:
    head = chain.head_block_number()
    report.head_block = head
    with store.session() as session:
        batches = list(open_batches(session=session))
    for batch in batches:
        if batch.status == BatchStatus.ANCHORED and not _still_canonical(store, chain, batch):
            report.reorged += 1  # now SENT again: its stored transaction is rebroadcast below
        if batch.status == BatchStatus.PREPARED:
            _send(store, chain, batch)
        if batch.status == BatchStatus.SENT:
            mined = _await_mined(chain, batch, policy) or _recover_or_bump(store, chain, batch)
            if mined is None:
                return  # later batches cannot be mined before this one
            _mark_anchored(store, batch, mined, clock)
            report.batches_anchored += 1
            report.gas_used += mined.gas_used
            report.cost_wei += mined.gas_used * mined.effective_gas_price
            head = max(head, chain.head_block_number())
            report.head_block = head
        if batch.status == BatchStatus.ANCHORED:
            _confirm(store, batch, head, clock, policy, report)


def _send(store: Store, chain: AnchorClient, batch: BatchRow) -> None:
    expected = compute_batch_commitment(batch.root, batch.count)
    stored = chain.stored_commitment(batch.start_index)
    if stored == expected:
        # Mined already: a crash lost the hash, or another replica sent it. Find the event.
        mined = chain.find_anchor_transaction(root=batch.root)
        if mined is not None:
            with store.writer() as session:
                _apply_tx(session, batch, mined.tx_hash, None, None)
            return
    elif stored != ZERO32:
        raise AnchorStateMismatch(
            f"log indexes from {batch.start_index} are anchored on-chain with a different commitment "
            f"{to_hex(stored)}; refusing to continue"
        )
    nonce = chain.pending_nonce()
    tx_hash, raw_tx = chain.sign_anchor(start_index=batch.start_index, count=batch.count, root=batch.root, nonce=nonce)
    with store.writer() as session:
        _apply_tx(session, batch, tx_hash, nonce, raw_tx)
    chain.broadcast(raw_tx)
    log.info("anchor sent", extra={"batch_id": batch.id, "tx_hash": to_hex(tx_hash), "nonce": nonce})


def _recover_or_bump(store: Store, chain: AnchorClient, batch: BatchRow) -> MinedAnchor | None:
    """Not mined in time. If another transaction of ours anchored the batch (an earlier fee level
    that got mined after all), use it; if ours is stuck in the mempool, replace it at the same
    nonce with higher fees."""
    if chain.stored_commitment(batch.start_index) == compute_batch_commitment(batch.root, batch.count):
        return chain.find_anchor_transaction(root=batch.root)
    if batch.tx_hash is None or batch.tx_nonce is None or not chain.is_pending_transaction(batch.tx_hash):
        return None  # mined meanwhile (next cycle reads it) or dropped (next cycle rebroadcasts it)
    tx_hash, raw_tx = chain.sign_anchor(
        start_index=batch.start_index, count=batch.count, root=batch.root, nonce=batch.tx_nonce, replacing=batch.tx_hash
    )
    old = batch.tx_hash
    with store.writer() as session:
        _apply_tx(session, batch, tx_hash, batch.tx_nonce, raw_tx)
    chain.broadcast(raw_tx)
    log.warning(
        "anchor transaction stuck; replaced with higher fees at the same nonce",
        extra={"batch_id": batch.id, "old_tx": to_hex(old), "new_tx": to_hex(tx_hash), "nonce": batch.tx_nonce},
    )
    return None


def _apply_tx(session: Session, batch: BatchRow, tx_hash: bytes, nonce: int | None, raw_tx: bytes | None) -> None:
    batch.tx_hash = tx_hash
    batch.tx_nonce = nonce
    batch.raw_tx = raw_tx
    batch.status = BatchStatus.SENT
    session.add(batch)
    session.commit()


def _await_mined(chain: AnchorClient, batch: BatchRow, policy: AnchorPolicy) -> MinedAnchor | None:
    assert batch.tx_hash is not None
    deadline = time.monotonic() + policy.receipt_timeout
    rebroadcast = False
    while True:
        mined = chain.get_mined(batch.tx_hash)
        if mined is not None:
            if mined.status != 1:
                raise AnchorStateMismatch(f"anchor transaction {to_hex(mined.tx_hash)} for batch {batch.id} reverted")
            return mined
        if not rebroadcast and batch.raw_tx is not None and not chain.is_known_transaction(batch.tx_hash):
            chain.broadcast(batch.raw_tx)  # dropped from the mempool, or lost in a crash
            rebroadcast = True
        if time.monotonic() >= deadline:
            log.warning("anchor not mined yet", extra={"batch_id": batch.id, "tx_hash": to_hex(batch.tx_hash)})
            return None
        time.sleep(policy.poll_interval)


def _mark_anchored(store: Store, batch: BatchRow, mined: MinedAnchor, clock: Callable[[], float]) -> None:
    with store.writer() as session:
        batch.tx_hash = mined.tx_hash
        batch.block_number = mined.block_number
        batch.block_hash = mined.block_hash
        batch.gas_used = mined.gas_used
        batch.effective_gas_price = mined.effective_gas_price
        batch.onchain_batch_id = mined.batch_id
        batch.status = BatchStatus.ANCHORED
        batch.anchored_at = int(clock())
        session.add(batch)
        assert batch.id is not None
        set_batch_deltas_status(session=session, batch_id=batch.id, status=DeltaStatus.ANCHORED)
        _emit_batch_event(session, batch, WebhookEvent.BATCH_ANCHORED, clock())
        session.commit()
    log.info(
        "batch anchored",
        extra={"batch_id": batch.id, "block_number": mined.block_number, "gas_used": mined.gas_used},
    )


def _still_canonical(store: Store, chain: AnchorClient, batch: BatchRow) -> bool:
    """False (and the batch back to SENT, its deltas to pending) when its block left the chain."""
    assert batch.block_number is not None and batch.id is not None
    if chain.block_hash_at(batch.block_number) == batch.block_hash:
        return True
    with store.writer() as session:
        _emit_batch_event(session, batch, WebhookEvent.BATCH_REORGED, time.time())
        batch.status = BatchStatus.SENT
        batch.block_number = None
        batch.block_hash = None
        session.add(batch)
        set_batch_deltas_status(session=session, batch_id=batch.id, status=DeltaStatus.PENDING)
        session.commit()
    log.warning("batch block reorganised away", extra={"batch_id": batch.id})
    return False


def _emit_batch_event(session: Session, batch: BatchRow, event_type: WebhookEvent, now: float) -> None:
    if batch.id is None or not any_enabled_endpoint(session=session):
        return
    counts = batch_tenant_counts(session=session, batch_id=batch.id)
    outbox.enqueue_batch_event(session, event_type=event_type, batch=batch, tenant_counts=counts, now=now)


def _emit_verified(session: Session, batch: BatchRow, now: float) -> None:
    if batch.id is None or not any_enabled_endpoint(session=session):
        return
    rows = list_batch_deltas(session=session, batch_id=batch.id)
    outbox.enqueue_verified_batch(session, rows=rows, batch=batch, now=now)


def _confirm(
    store: Store, batch: BatchRow, head: int, clock: Callable[[], float], policy: AnchorPolicy, report: CycleReport
) -> None:
    assert batch.block_number is not None and batch.id is not None
    if head - batch.block_number + 1 < policy.confirmations:
        return
    with store.writer() as session:
        batch.status = BatchStatus.VERIFIED
        batch.verified_at = int(clock())
        session.add(batch)
        set_batch_deltas_status(session=session, batch_id=batch.id, status=DeltaStatus.VERIFIED)
        add_verified_batch_to_balances(session=session, batch_id=batch.id)
        _emit_verified(session, batch, clock())
        session.commit()
    report.batches_verified += 1
    report.deltas_verified += batch.count
    log.info("batch verified", extra={"batch_id": batch.id, "count": batch.count})
