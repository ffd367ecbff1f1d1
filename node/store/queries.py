"""The queries the node needs. Every function takes a keyword-only session."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from node.store.models import BatchRow, BatchStatus, DeltaRow, DeltaStatus


def get_delta_by_reference(*, session: Session, tenant: str, reference_id: str) -> DeltaRow | None:
    stmt = select(DeltaRow).where(DeltaRow.tenant == tenant, DeltaRow.reference_id == reference_id)
    return session.exec(stmt).first()


def get_delta_by_receipt(*, session: Session, tenant: str, receipt_id: str) -> DeltaRow | None:
    stmt = select(DeltaRow).where(DeltaRow.tenant == tenant, DeltaRow.receipt_id == receipt_id)
    return session.exec(stmt).first()


def get_chain_head(*, session: Session, tenant: str, customer_id: str) -> DeltaRow | None:
    stmt = (
        select(DeltaRow)
        .where(DeltaRow.tenant == tenant, DeltaRow.customer_id == customer_id)
        .order_by(col(DeltaRow.customer_index).desc())
        .limit(1)
    )
    return session.exec(stmt).first()


def list_unbatched(*, session: Session, limit: int) -> Sequence[DeltaRow]:
    """Pending deltas with no log index yet, in the order they were acknowledged."""
    stmt = select(DeltaRow).where(col(DeltaRow.log_index).is_(None)).order_by(col(DeltaRow.id)).limit(limit)
    return session.exec(stmt).all()


def count_unbatched(*, session: Session) -> int:
    stmt = select(func.count()).select_from(DeltaRow).where(col(DeltaRow.log_index).is_(None))
    return int(session.exec(stmt).one())


def list_batch_deltas(*, session: Session, batch_id: int) -> Sequence[DeltaRow]:
    stmt = select(DeltaRow).where(DeltaRow.batch_id == batch_id).order_by(col(DeltaRow.log_index))
    return session.exec(stmt).all()


def get_batch(*, session: Session, batch_id: int) -> BatchRow | None:
    return session.get(BatchRow, batch_id)


def list_batches_in_status(*, session: Session, statuses: Sequence[str]) -> Sequence[BatchRow]:
    stmt = select(BatchRow).where(col(BatchRow.status).in_(statuses)).order_by(col(BatchRow.start_index))
    return session.exec(stmt).all()


def next_log_index(*, session: Session) -> int:
    """One past the highest log index the database has handed out."""
    stmt = select(func.max(BatchRow.start_index + BatchRow.count))
    value = session.exec(stmt).one()
    return int(value or 0)


def set_batch_deltas_status(*, session: Session, batch_id: int, status: str) -> None:
    session.execute(update(DeltaRow).where(col(DeltaRow.batch_id) == batch_id).values(status=status))


def open_batches(*, session: Session) -> Sequence[BatchRow]:
    return list_batches_in_status(
        session=session,
        statuses=(BatchStatus.PREPARED, BatchStatus.SENT, BatchStatus.ANCHORED),
    )


__all__ = [
    "DeltaStatus",
    "count_unbatched",
    "get_batch",
    "get_chain_head",
    "get_delta_by_receipt",
    "get_delta_by_reference",
    "list_batch_deltas",
    "list_batches_in_status",
    "list_unbatched",
    "next_log_index",
    "open_batches",
    "set_batch_deltas_status",
]


@dataclass(frozen=True)
class AnchoringSnapshot:
    unverified: int
    oldest_unverified_at: int | None
    last_anchored_block: int | None
    total_gas_used: int


def anchoring_snapshot(*, session: Session) -> AnchoringSnapshot:
    unverified_stmt = select(func.count(), func.min(DeltaRow.recorded_at)).where(
        DeltaRow.status != DeltaStatus.VERIFIED
    )
    count, oldest = session.exec(unverified_stmt).one()
    batch_stmt = select(func.max(BatchRow.block_number), func.coalesce(func.sum(BatchRow.gas_used), 0))
    last_block, gas = session.exec(batch_stmt).one()
    return AnchoringSnapshot(int(count or 0), oldest, last_block, int(gas or 0))
