"""Read-only queries behind the dashboard's pages, each limited to one tenant.

Batches are shared by every tenant whose deltas they hold; a tenant sees only the batches that
hold at least one of its deltas, and only its own count of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from node.store.models import BatchRow, BatchStatus, ComparisonRow, CustomerBalanceRow, DeltaRow, DeltaStatus


@dataclass(frozen=True)
class TenantAnchoring:
    """Deltas not yet verified (their count and the oldest one's recording time)."""

    unverified: int
    oldest_unverified_at: int | None


def tenant_anchoring(*, session: Session, tenant: str) -> TenantAnchoring:
    stmt = select(func.count(), func.min(DeltaRow.recorded_at)).where(
        DeltaRow.tenant == tenant, DeltaRow.status != DeltaStatus.VERIFIED
    )
    count, oldest = session.exec(stmt).one()
    return TenantAnchoring(int(count or 0), None if oldest is None else int(oldest))


@dataclass(frozen=True)
class TenantBatch:
    batch: BatchRow
    tenant_deltas: int  # this tenant's deltas in the batch


def tenant_batches(
    *, session: Session, tenant: str, limit: int, below_start: int | None = None, mined_only: bool = False
) -> list[TenantBatch]:
    """Batches holding the tenant's deltas, newest first; ``below_start`` pages back by start index."""
    stmt = (
        sa_select(BatchRow, func.count(col(DeltaRow.id)))
        .join(DeltaRow, col(DeltaRow.batch_id) == col(BatchRow.id))
        .where(col(DeltaRow.tenant) == tenant)
        .group_by(col(BatchRow.id))
        .order_by(col(BatchRow.start_index).desc())
        .limit(limit)
    )
    if below_start is not None:
        stmt = stmt.where(col(BatchRow.start_index) < below_start)
    if mined_only:
        stmt = stmt.where(col(BatchRow.status).in_((BatchStatus.ANCHORED, BatchStatus.VERIFIED)))
    return [TenantBatch(batch, int(n)) for batch, n in session.execute(stmt).all()]


@dataclass(frozen=True)
class CustomerSummary:
    customer_id: str
    deltas: int  # head index + 1
    verified_count: int
    verified_balance: int
    last_recorded_at: int


def tenant_customers(
    *, session: Session, tenant: str, limit: int, after: str | None = None, search: str | None = None
) -> list[CustomerSummary]:
    """Customers in id order (``after`` pages on), optionally those whose id contains ``search``."""
    stmt = (
        sa_select(
            col(DeltaRow.customer_id),
            func.max(col(DeltaRow.customer_index)),
            func.max(col(DeltaRow.recorded_at)),
        )
        .where(col(DeltaRow.tenant) == tenant)
        .group_by(col(DeltaRow.customer_id))
        .order_by(col(DeltaRow.customer_id))
        .limit(limit)
    )
    if after is not None:
        stmt = stmt.where(col(DeltaRow.customer_id) > after)
    if search:
        stmt = stmt.where(col(DeltaRow.customer_id).contains(search, autoescape=True))
    heads = session.execute(stmt).all()
    balances = {
        b.customer_id: b
        for b in session.exec(
            select(CustomerBalanceRow).where(
                CustomerBalanceRow.tenant == tenant,
                col(CustomerBalanceRow.customer_id).in_([h[0] for h in heads]),
            )
        ).all()
    }
    out = []
    for customer_id, head_index, last_at in heads:
        balance = balances.get(customer_id)
        out.append(
            CustomerSummary(
                customer_id=customer_id,
                deltas=int(head_index) + 1,
                verified_count=0 if balance is None else balance.verified_count,
                verified_balance=0 if balance is None else int(balance.verified_balance),
                last_recorded_at=int(last_at),
            )
        )
    return out


def customer_comparisons(*, session: Session, tenant: str, customer_id: str, limit: int) -> Sequence[ComparisonRow]:
    stmt = (
        select(ComparisonRow)
        .where(ComparisonRow.tenant == tenant, ComparisonRow.customer_id == customer_id)
        .order_by(col(ComparisonRow.created_at).desc(), col(ComparisonRow.id))
        .limit(limit)
    )
    return session.exec(stmt).all()


def recent_deltas(
    *, session: Session, tenant: str, customer_id: str, limit: int, below: int | None = None
) -> Sequence[DeltaRow]:
    """The customer's latest deltas, newest first; ``below`` pages back by customer index."""
    stmt = select(DeltaRow).where(DeltaRow.tenant == tenant, DeltaRow.customer_id == customer_id)
    if below is not None:
        stmt = stmt.where(DeltaRow.customer_index < below)
    return session.exec(stmt.order_by(col(DeltaRow.customer_index).desc()).limit(limit)).all()


def recent_receipts(*, session: Session, tenant: str, limit: int) -> Sequence[DeltaRow]:
    """The tenant's latest deltas, newest first."""
    stmt = select(DeltaRow).where(DeltaRow.tenant == tenant).order_by(col(DeltaRow.id).desc()).limit(limit)
    return session.exec(stmt).all()
