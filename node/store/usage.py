"""Queries behind usage: the request counters, and per-day figures read from deltas and batches."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from node.store.db import Store
from node.store.models import BatchRow, DeltaRow, UsageCounterRow

SECONDS_PER_DAY = 86_400
COUNTER_KEY = ("tenant", "key_id", "day", "method", "route", "status_class")


def add_usage_counts(store: Store, counts: Iterable[tuple[Mapping[str, str], int]]) -> None:
    """Add each count to its counter (``COUNTER_KEY`` fields), one atomic upsert per counter:
    processes flushing the same counter add, never overwrite."""
    table = UsageCounterRow.__table__  # type: ignore[attr-defined]
    with store.writer() as session:
        for key, n in counts:
            insert = store.insert(table).values(**key, count=n)
            session.execute(
                insert.on_conflict_do_update(
                    index_elements=list(COUNTER_KEY),
                    set_={"count": table.c.count + insert.excluded.count},
                )
            )
        session.commit()


def usage_counters(*, session: Session, tenant: str, first_day: str, last_day: str) -> Sequence[UsageCounterRow]:
    """The tenant's counters from ``first_day`` to ``last_day`` (YYYY-MM-DD, inclusive), by day, key, route."""
    stmt = (
        select(UsageCounterRow)
        .where(UsageCounterRow.tenant == tenant, col(UsageCounterRow.day).between(first_day, last_day))
        .order_by(col(UsageCounterRow.day), col(UsageCounterRow.key_id), col(UsageCounterRow.route))
    )
    return session.exec(stmt).all()


def recorded_per_day(*, session: Session, tenant: str, t0: int, t1: int) -> list[tuple[int, str | None, int]]:
    """(day number, API key id, deltas) of the tenant's deltas recorded in [t0, t1)."""
    recorded_day = col(DeltaRow.recorded_at) // SECONDS_PER_DAY
    stmt = (
        sa_select(recorded_day, col(DeltaRow.api_key_id), func.count())
        .where(col(DeltaRow.tenant) == tenant, col(DeltaRow.recorded_at) >= t0, col(DeltaRow.recorded_at) < t1)
        .group_by(recorded_day, col(DeltaRow.api_key_id))
    )
    return [(int(day), key_id, int(n)) for day, key_id, n in session.execute(stmt).all()]


def tenant_batch_shares(
    *, session: Session, tenant: str, t0: int, t1: int
) -> list[tuple[int | None, int | None, int | None, int | None, int, int, int | None]]:
    """(anchored at, verified at, gas used, gas price, batch size, the tenant's deltas in it, L1 data fee)
    of every batch holding the tenant's deltas that was anchored or verified in [t0, t1)."""
    stmt = (
        sa_select(
            col(BatchRow.anchored_at),
            col(BatchRow.verified_at),
            col(BatchRow.gas_used),
            col(BatchRow.effective_gas_price),
            col(BatchRow.count),
            func.count(col(DeltaRow.id)),
            col(BatchRow.l1_fee),
        )
        .select_from(DeltaRow)
        .join(BatchRow, col(DeltaRow.batch_id) == col(BatchRow.id))
        .where(col(DeltaRow.tenant) == tenant, col(BatchRow.anchored_at).is_not(None))
        .where(
            ((col(BatchRow.anchored_at) >= t0) & (col(BatchRow.anchored_at) < t1))
            | ((col(BatchRow.verified_at) >= t0) & (col(BatchRow.verified_at) < t1))
        )
        .group_by(col(BatchRow.id))
    )
    return [(a, v, g, p, int(c), int(n), f) for a, v, g, p, c, n, f in session.execute(stmt).all()]
