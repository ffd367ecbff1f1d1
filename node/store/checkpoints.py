"""Queries over checkpoints: a customer's signed ranges."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session, col, select

from node.store.models import CheckpointRow


def list_checkpoints(*, session: Session, tenant: str, customer_id: str | None = None) -> Sequence[CheckpointRow]:
    stmt = select(CheckpointRow).where(CheckpointRow.tenant == tenant)
    if customer_id is not None:
        stmt = stmt.where(CheckpointRow.customer_id == customer_id)
    return session.exec(stmt.order_by(col(CheckpointRow.customer_id), col(CheckpointRow.from_index))).all()


def overlapping_checkpoint(
    *, session: Session, tenant: str, customer_id: str, from_index: int, to_index: int
) -> CheckpointRow | None:
    stmt = select(CheckpointRow).where(
        CheckpointRow.tenant == tenant,
        CheckpointRow.customer_id == customer_id,
        col(CheckpointRow.from_index) <= to_index,
        col(CheckpointRow.to_index) >= from_index,
    )
    return session.exec(stmt).first()


def last_checkpoint(*, session: Session, tenant: str, customer_id: str) -> CheckpointRow | None:
    stmt = (
        select(CheckpointRow)
        .where(CheckpointRow.tenant == tenant, CheckpointRow.customer_id == customer_id)
        .order_by(col(CheckpointRow.to_index).desc())
        .limit(1)
    )
    return session.exec(stmt).first()


def get_checkpoint(*, session: Session, checkpoint_id: str, for_update: bool = False) -> CheckpointRow | None:
    """``for_update``: locked for the transaction (one countersignature wins)."""
    return session.get(CheckpointRow, checkpoint_id, with_for_update=for_update)
