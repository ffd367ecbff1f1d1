"""Read-only queries behind the dashboard's pages, each limited to one tenant.

Batches are shared by every tenant whose deltas they hold; a tenant sees only the batches that
hold at least one of its deltas, and only its own count of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Select, func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from node.store.batches import unverified
from node.store.models import (
    BatchRow,
    BatchStatus,
    ComparisonRow,
    CustomerBalanceRow,
    DeltaRow,
    DeltaStatus,
    delta_status,
)


@dataclass(frozen=True)
class TenantAnchoring:
    """Deltas not yet verified (their count and the oldest one's recording time)."""

    unverified: int
    oldest_unverified_at: int | None


def tenant_anchoring(*, session: Session, tenant: str) -> TenantAnchoring:
    # Grouped by tenant rather than filtered by it: a tenant filter in the statement let SQLite read the
    # tenant's every delta by its index (0.9 s at 1,000,000) instead of just the unverified ones (0.3 ms).
    stmt = (
        sa_select(col(DeltaRow.tenant), func.count(), func.min(col(DeltaRow.recorded_at)))
        .where(unverified())
        .group_by(col(DeltaRow.tenant))
    )
    for row_tenant, count, oldest in session.execute(stmt).all():
        if row_tenant == tenant:
            return TenantAnchoring(int(count), int(oldest))
    return TenantAnchoring(0, None)


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


@dataclass(frozen=True)
class ListedDelta:
    """A delta as the pages list it: its columns and its status (its batch's)."""

    receipt_id: str
    customer_id: str
    reference_id: str
    reason: str
    amount: str
    customer_index: int
    recorded_at: int
    status: DeltaStatus


_LISTED = sa_select(
    col(DeltaRow.receipt_id),
    col(DeltaRow.customer_id),
    col(DeltaRow.reference_id),
    col(DeltaRow.reason),
    col(DeltaRow.amount),
    col(DeltaRow.customer_index),
    col(DeltaRow.recorded_at),
    col(BatchRow.status),
).outerjoin(BatchRow, col(BatchRow.id) == col(DeltaRow.batch_id))


def _listed(session: Session, stmt: Select[str, str, str, str, str, int, int, str]) -> list[ListedDelta]:
    return [
        ListedDelta(receipt, customer, reference, reason, amount, index, at, delta_status(batch_status))
        for receipt, customer, reference, reason, amount, index, at, batch_status in session.execute(stmt).all()
    ]


def recent_deltas(
    *, session: Session, tenant: str, customer_id: str, limit: int, below: int | None = None
) -> list[ListedDelta]:
    """The customer's latest deltas, newest first; ``below`` pages back by customer index."""
    stmt = _LISTED.where(col(DeltaRow.tenant) == tenant, col(DeltaRow.customer_id) == customer_id)
    if below is not None:
        stmt = stmt.where(col(DeltaRow.customer_index) < below)
    return _listed(session, stmt.order_by(col(DeltaRow.customer_index).desc()).limit(limit))


def recent_receipts(*, session: Session, tenant: str, limit: int) -> list[ListedDelta]:
    """The tenant's latest deltas, newest first."""
    stmt = _LISTED.where(col(DeltaRow.tenant) == tenant)
    return _listed(session, stmt.order_by(col(DeltaRow.id).desc()).limit(limit))
