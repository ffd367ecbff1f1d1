"""Queries over comparisons and the tenant's comparison tolerance.

Comparison rows are never deleted (they and their settlements are part of the record's history);
only a row's evidence lists may expire, leaving its counts (``expire_evidence``).
"""

from __future__ import annotations

import json

from sqlmodel import Session, col, select

from node.store.models import ComparisonRow, TenantRow


def get_comparison(*, session: Session, comparison_id: str) -> ComparisonRow | None:
    return session.get(ComparisonRow, comparison_id)


def get_tenant(*, session: Session, tenant: str) -> TenantRow | None:
    return session.get(TenantRow, tenant)


def find_settlement(*, session: Session, tenant: str, settlement_key: str) -> ComparisonRow | None:
    """The comparison that settled this settlement key, if one did."""
    stmt = select(ComparisonRow).where(
        col(ComparisonRow.tenant) == tenant, col(ComparisonRow.settlement_key) == settlement_key
    )
    return session.exec(stmt).first()


def expire_evidence(*, session: Session, created_before: int, now: int, limit: int = 500) -> int:
    """Empty the evidence lists of up to ``limit`` comparisons created before ``created_before``, keeping
    their counts and limit; returns how many (the caller commits, and calls again until 0)."""
    stmt = (
        select(ComparisonRow)
        .where(col(ComparisonRow.created_at) < created_before, col(ComparisonRow.evidence_expired_at).is_(None))
        .limit(limit)
    )
    rows = list(session.exec(stmt))
    for row in rows:
        evidence = json.loads(row.evidence)
        kept = {k: ([] if isinstance(v, list) else v) for k, v in evidence.items()}
        row.evidence = json.dumps(kept, separators=(",", ":"))
        row.evidence_expired_at = now
        session.add(row)
    return len(rows)
