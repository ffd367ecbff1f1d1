"""Queries over comparisons and the tenant's comparison tolerance."""

from __future__ import annotations

from sqlmodel import Session

from node.store.models import ComparisonRow, TenantRow


def get_comparison(*, session: Session, comparison_id: str) -> ComparisonRow | None:
    return session.get(ComparisonRow, comparison_id)


def get_tenant(*, session: Session, tenant: str) -> TenantRow | None:
    return session.get(TenantRow, tenant)
