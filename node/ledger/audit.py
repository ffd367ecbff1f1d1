"""``pacspace-node audit``: the whole database checked against itself and against the chain.

Every batch (contiguous log, leaves rebuild the root, the contract holds the commitment, the
anchoring transaction's block is still canonical), the log's completeness against the contract's
batch history (node.core.completeness: nothing anchored is missing, nothing unanchored is claimed),
then every customer's chain (fingerprints, signatures, links, running totals, verified balance).
A finding names what and where.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from node.chain.client import AnchorClient
from node.core.audit import Discrepancy
from node.core.hashing import to_hex
from node.core.typed_data import Domain
from node.ledger.balances import check_stored_batch, replay_customer, signer_windows
from node.ledger.completeness import completeness_findings
from node.store.batches import batch_leaves, list_batches
from node.store.db import Store
from node.store.deltas import count_deltas, list_customers
from node.store.models import BatchRow, BatchStatus


@dataclass
class AuditReport:
    batches: int = 0
    customers: int = 0
    deltas: int = 0
    findings: list[Discrepancy] = field(default_factory=list)
    by_customer: dict[str, list[Discrepancy]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.findings and not any(self.by_customer.values())


def audit_database(
    store: Store,
    chain: AnchorClient,
    *,
    domain: Domain,
    from_block: int = 0,
    log_span: int = 10_000,
    progress: Callable[[str, int, int], None] | None = None,
) -> AuditReport:
    """``from_block``/``log_span``: where and in what block ranges to read the batch history.
    ``progress(stage, done, total)`` is told how far each stage ("batches", "customers") has come."""
    report = AuditReport()
    step = progress or (lambda _stage, _done, _total: None)
    with store.session() as session:
        batches = list(list_batches(session=session))
        customers = list_customers(session=session)
    expected_start = 0
    for batch in batches:
        step("batches", report.batches, len(batches))
        report.batches += 1
        if batch.start_index != expected_start:
            report.findings.append(
                Discrepancy(
                    "log_gap",
                    f"batch starts at {batch.start_index}, expected {expected_start}",
                    None,
                    None,
                    batch.start_index,
                )
            )
        expected_start = batch.start_index + batch.count
        assert batch.id is not None
        with store.session() as session:
            leaves = batch_leaves(session=session, batch_id=batch.id)
        if batch.status in (BatchStatus.ANCHORED, BatchStatus.VERIFIED):
            report.findings += check_stored_batch(chain, batch, leaves)
            report.findings += _check_transaction(chain, batch)
    on_chain_next = chain.next_index()
    if on_chain_next < expected_start and not any(
        b.status in (BatchStatus.PREPARED, BatchStatus.SENT) for b in batches
    ):
        report.findings.append(
            Discrepancy(
                "chain_behind",
                f"the contract's nextIndex is {on_chain_next}; the database anchored up to {expected_start}",
            )
        )
    report.findings += completeness_findings(store, chain, from_block=from_block, span=log_span)
    windows = signer_windows(chain)  # shared by every customer's replay
    step("batches", report.batches, len(batches))
    for tenant, customer_id in customers:
        step("customers", report.customers, len(customers))
        report.customers += 1
        found = replay_customer(
            store,
            chain,
            domain=domain,
            tenant=tenant,
            customer_id=customer_id,
            check_batches=False,
            signer_window=windows,
        )
        report.by_customer[f"{tenant}/{customer_id}"] = found
    step("customers", report.customers, len(customers))
    with store.session() as session:
        report.deltas = count_deltas(session=session)
    return report


def _check_transaction(chain: AnchorClient, batch: BatchRow) -> list[Discrepancy]:
    assert batch.tx_hash is not None
    mined = chain.get_mined(batch.tx_hash)
    if mined is None:
        return [
            Discrepancy(
                "tx_missing", f"transaction {to_hex(batch.tx_hash)} is not on the chain", None, None, batch.start_index
            )
        ]
    found = []
    if mined.block_hash != batch.block_hash or mined.block_number != batch.block_number:
        found.append(
            Discrepancy(
                "block_mismatch",
                f"transaction is in block {mined.block_number} ({to_hex(mined.block_hash)}), the database says "
                f"{batch.block_number}",
                None,
                None,
                batch.start_index,
            )
        )
    if chain.block_hash_at(mined.block_number) != mined.block_hash:
        found.append(Discrepancy("not_canonical", "the anchoring block left the chain", None, None, batch.start_index))
    return found
