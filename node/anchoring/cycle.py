"""The anchoring job: pending deltas -> batch -> transaction -> mined -> confirmed -> verified.

``run_anchor_cycle`` is a plain function the scheduler calls and tests call directly. Each
step is written to the database before the next one happens, so a cycle that dies anywhere
is finished by the next one, and the contract's append-only check (``startIndex ==
nextIndex``) makes double anchoring impossible whatever the node believes:

1. PREPARED: batch row and the deltas' log indexes written (before any transaction exists).
2. SENT: the signed transaction and its hash written, then broadcast (rebroadcast if lost).
3. ANCHORED: mined in a block whose hash we keep; checked against the canonical chain.
4. VERIFIED: final by the chain's rule (``confirmations`` deep, or at or below the ``finalized``
   block) and, with several RPC providers, confirmed by a quorum of them (node/anchoring/settle.py).

A batch whose block vanishes (reorg) goes back to SENT and its deltas back to pending, even after it
was verified while its block is above the chain's finalized block.

Spending follows the operator's fee policy (node/core/fees.py): while the market is above the fee cap
or the day's budget is spent, nothing is sent (recording goes on, the deltas wait, ``CycleReport.held``
says why) and a stuck transaction is replaced only if the replacement stays within the caps.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from sqlmodel import Session

from node.anchoring.policy import HELD_BUDGET, HELD_FEES, AnchorPolicy, CycleReport
from node.anchoring.settle import confirm, emit_batch_event, still_canonical, watch_verified
from node.chain.client import AnchorClient
from node.chain.receipts import MinedAnchor
from node.core.errors import PacSpaceError
from node.core.fees import FeeQuote, price_first
from node.core.finality import FinalityMode
from node.core.hashing import ZERO32, to_hex
from node.core.merkle import MerkleTree, compute_batch_commitment
from node.core.webhooks import WebhookEvent
from node.native.loader import merkle_backend
from node.store.batches import (
    insert_batch,
    last_anchor_cost,
    next_log_index,
    open_batches,
    spent_since,
    unbatched_fingerprints,
)
from node.store.db import Store
from node.store.models import BatchRow, BatchStatus

__all__ = ["AnchorPolicy", "AnchorStateMismatch", "CycleReport", "run_anchor_cycle"]

log = logging.getLogger("pacspace.anchoring")


class AnchorStateMismatch(PacSpaceError):
    """The database and the contract disagree about the log; a human must look."""

    code = "anchor_state_mismatch"
    status = 500
    title = "Database and contract disagree"


def run_anchor_cycle(
    store: Store,
    chain: AnchorClient,
    clock: Callable[[], float] = time.time,
    policy: AnchorPolicy | None = None,
) -> CycleReport:
    """Advance every open batch, then anchor waiting deltas one batch at a time: a further batch only
    while the last one was full (a backlog), so one cycle sends one batch of what waits."""
    policy = policy or AnchorPolicy()
    report = CycleReport()
    chain.refresh_providers()
    report.finalized_block = chain.finalized_block_number()
    watch_verified(store, chain, report.finalized_block, clock, report, policy.quorum)
    gate = _SpendGate(store, chain, policy, report, clock)
    if not _advance_open_batches(store, chain, clock, policy, report, gate):
        return report
    while not _has_in_flight(store):
        if not _has_waiting(store):
            break
        if report.batches_prepared:  # fees and the day's spending, again for each further batch
            gate = _SpendGate(store, chain, policy, report, clock)
        if gate.quote() is None:
            break
        batch = _prepare_batch(store, chain, clock, policy)
        if batch is None:
            break
        report.batches_prepared += 1
        if not _advance_open_batches(store, chain, clock, policy, report, gate):
            break
        if batch.count < policy.max_batch_size:
            # No backlog left: what was recorded while this batch was sent waits for the next cycle. On a
            # chain that mines at once (Anvil, fast L2s), going on would send a small batch (a transaction
            # and its gas) every moment the recording does not pause.
            break
    return report


class _SpendGate:
    """The fees for the next anchor transaction, or None while the fee cap or the day's budget says
    wait (``report.held`` names which). Read from the chain once, when first asked."""

    def __init__(
        self, store: Store, chain: AnchorClient, policy: AnchorPolicy, report: CycleReport, clock: Callable[[], float]
    ) -> None:
        self.store, self.chain, self.policy, self.report, self.clock = store, chain, policy, report, clock
        self._decided = False
        self._quote: FeeQuote | None = None

    def quote(self) -> FeeQuote | None:
        if not self._decided:
            self._decided = True
            self._quote = self._decide()
        return self._quote

    def _decide(self) -> FeeQuote | None:
        fees = self.policy.fees
        market = self.chain.fee_market()
        self.report.base_fee = market.base_fee
        quote = price_first(base_fee=market.base_fee, suggested_tip=market.suggested_tip, policy=fees)
        if quote is None:
            self.report.held = HELD_FEES
            log.warning(
                "fees above the cap: the batch waits, recording goes on",
                extra={"base_fee_wei": market.base_fee, "tip_wei": market.suggested_tip, "max_fee_wei": fees.max_fee},
            )
            return None
        if fees.daily_budget is not None:
            day_start = datetime.fromtimestamp(self.clock(), UTC).replace(hour=0, minute=0, second=0, microsecond=0)
            with self.store.session() as session:
                spent = spent_since(session=session, t0=int(day_start.timestamp()))
                gas, l1_fee = last_anchor_cost(session=session)
            # The next transaction is projected from the last one: its gas at this quote's max fee.
            if spent + gas * quote.max_fee + l1_fee > fees.daily_budget:
                self.report.held = HELD_BUDGET
                log.warning(
                    "the day's anchoring budget is spent: the batch waits until 00:00 UTC",
                    extra={"spent_wei": spent, "budget_wei": fees.daily_budget},
                )
                return None
        return quote


def _has_in_flight(store: Store) -> bool:
    with store.session() as session:
        return any(b.status in (BatchStatus.PREPARED, BatchStatus.SENT) for b in open_batches(session=session))


def _has_waiting(store: Store) -> bool:
    with store.session() as session:
        return bool(unbatched_fingerprints(session=session, limit=1))


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
    store: Store,
    chain: AnchorClient,
    clock: Callable[[], float],
    policy: AnchorPolicy,
    report: CycleReport,
    gate: _SpendGate,
) -> bool:
    """Take every open batch as far as it goes now. False when one is stuck (not mined yet, or held
    by the fee policy): later batches cannot be mined before it."""
    head = chain.head_block_number()
    report.head_block = head
    with store.session() as session:
        batches = list(open_batches(session=session))
    for batch in batches:
        if batch.status == BatchStatus.ANCHORED and not still_canonical(store, chain, batch, clock):
            report.reorged += 1  # now SENT again: its stored transaction is rebroadcast below
        if batch.status == BatchStatus.PREPARED:
            quote = gate.quote()
            if quote is None:
                return False
            _send(store, chain, batch, quote)
        if batch.status == BatchStatus.SENT:
            mined = _await_mined(chain, batch, policy) or _recover_or_bump(store, chain, batch, policy, report, gate)
            if mined is None:
                return False
            _mark_anchored(store, batch, mined, clock)
            report.batches_anchored += 1
            report.gas_used += mined.gas_used
            report.cost_wei += mined.cost_wei
            report.head_block = max(report.head_block or 0, chain.head_block_number())
            if policy.finality == FinalityMode.FINALIZED:
                report.finalized_block = chain.finalized_block_number()
        if batch.status == BatchStatus.ANCHORED:
            confirm(store, chain, batch, clock=clock, policy=policy, report=report)
    return True


def _send(store: Store, chain: AnchorClient, batch: BatchRow, quote: FeeQuote | None = None) -> None:
    """Sign and broadcast the PREPARED batch's transaction at ``quote`` (None: the market's fees, uncapped)."""
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
    tx_hash, raw_tx = chain.sign_anchor(
        start_index=batch.start_index, count=batch.count, root=batch.root, nonce=nonce, fees=quote
    )
    with store.writer() as session:
        _apply_tx(session, batch, tx_hash, nonce, raw_tx)
    if not chain.broadcast(raw_tx):
        log.warning(
            "anchor transaction refused below the base fee; it is sent again later", extra={"batch_id": batch.id}
        )
    log.info(
        "anchor sent",
        extra={"batch_id": batch.id, "tx_hash": to_hex(tx_hash), "nonce": nonce},
    )


def _recover_or_bump(
    store: Store, chain: AnchorClient, batch: BatchRow, policy: AnchorPolicy, report: CycleReport, gate: _SpendGate
) -> MinedAnchor | None:
    """Not mined in time. If another transaction of ours anchored the batch (an earlier fee level
    that got mined after all), use it; if ours is stuck in the mempool, replace it at the same
    nonce with higher fees, unless that would pass a fee cap (then it waits for fees to fall)."""
    if chain.stored_commitment(batch.start_index) == compute_batch_commitment(batch.root, batch.count):
        return chain.find_anchor_transaction(root=batch.root)
    if batch.tx_hash is None or batch.tx_nonce is None or not chain.is_pending_transaction(batch.tx_hash):
        # Mined meanwhile (the next cycle reads it) or dropped, e.g. by a pool that evicts what the base
        # fee outgrew (the next cycle sends it again); the market says whether that is a fee hold.
        gate.quote()
        return None
    fees = chain.quote_fees(policy.fees, replacing=batch.tx_hash)
    if fees is None:
        report.replacements_capped += 1
        log.warning(
            "anchor transaction stuck, and a replacement would pass the fee cap: waiting for fees to fall",
            extra={"batch_id": batch.id, "tx_hash": to_hex(batch.tx_hash), "max_fee_wei": policy.fees.max_fee},
        )
        return None
    tx_hash, raw_tx = chain.sign_anchor(
        start_index=batch.start_index,
        count=batch.count,
        root=batch.root,
        nonce=batch.tx_nonce,
        replacing=batch.tx_hash,
        fees=fees,
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
            chain.broadcast(batch.raw_tx, again=True)  # dropped from the mempool, or lost in a crash
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
        batch.l1_fee = mined.l1_fee
        batch.onchain_batch_id = mined.batch_id
        batch.status = BatchStatus.ANCHORED
        batch.anchored_at = int(clock())
        session.add(batch)
        assert batch.id is not None
        emit_batch_event(session, batch, WebhookEvent.BATCH_ANCHORED, clock())
        session.commit()
    log.info(
        "batch anchored",
        extra={
            "batch_id": batch.id,
            "block_number": mined.block_number,
            "gas_used": mined.gas_used,
            "cost_wei": mined.cost_wei,
        },
    )
