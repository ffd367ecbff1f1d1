"""The completeness check's adapter: the database's batches and the contract's history, compared.

Used by ``pacspace-node audit`` and ``GET /v1/balance/derive?verify=true``; the comparison itself
is ``node.core.completeness.compare_with_chain``.
"""

from __future__ import annotations

from node.chain.client import AnchorClient
from node.chain.errors import ChainUnavailable
from node.core.audit import Discrepancy
from node.core.completeness import DatabaseBatch, compare_with_chain
from node.store.batches import batch_log_indexes, batch_row_counts, batch_summaries
from node.store.db import Store


def stored_batches(store: Store) -> list[DatabaseBatch]:
    """Every batch with its delta-row count; the log indexes of the rows only for short batches."""
    with store.session() as session:
        summaries = batch_summaries(session=session)
        counts = batch_row_counts(session=session)
        out = []
        for batch_id, start, count, root, status in summaries:
            rows = counts.get(batch_id, 0)
            indexes = None if rows == count else batch_log_indexes(session=session, batch_id=batch_id)
            out.append(DatabaseBatch(start, count, root, status, rows, indexes))
    return out


def completeness_findings(store: Store, chain: AnchorClient, *, from_block: int, span: int) -> list[Discrepancy]:
    """Findings of ``compare_with_chain``, or one ``chain_unavailable`` when the history cannot be read."""
    batches = stored_batches(store)
    try:
        next_index, history = chain.batch_history(from_block=from_block, span=span)
    except ChainUnavailable as exc:
        return [Discrepancy("chain_unavailable", f"could not read the contract's batch history: {exc}")]
    return compare_with_chain(batches, history, next_index)
