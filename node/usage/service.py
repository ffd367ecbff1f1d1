"""Usage: request counts aggregated in memory and flushed in batches, plus a per-day report
derived from the record itself (deltas, batches, gas), so most figures can never drift.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import col, select

from node.core.usage import BatchShare, attributed_gas, attributed_wei, cost_per_delta_wei, wei_to_fiat
from node.store.db import Store
from node.store.models import BatchRow, DeltaRow, UsageCounterRow

SECONDS_PER_DAY = 86_400


@dataclass(frozen=True)
class CounterKey:
    tenant: str
    key_id: str
    day: str
    method: str
    route: str
    status_class: str


class UsageMeter:
    """Counts requests in memory; ``flush`` adds them to the database (at most a few seconds lost on a crash)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._counts: Counter[CounterKey] = Counter()
        self._lock = threading.Lock()
        self._day: tuple[int, str] = (-1, "")  # the last day number seen and its YYYY-MM-DD

    def count(self, *, tenant: str, key_id: str, method: str, route: str, status: int, at: float) -> None:
        number = int(at // SECONDS_PER_DAY)
        cached, day = self._day
        if number != cached:  # formatting the date is most of a count's cost: once a day
            day = datetime.fromtimestamp(number * SECONDS_PER_DAY, UTC).strftime("%Y-%m-%d")
            self._day = (number, day)
        with self._lock:
            self._counts[CounterKey(tenant, key_id, day, method, route, f"{status // 100}xx")] += 1

    def flush(self) -> None:
        with self._lock:
            counts, self._counts = self._counts, Counter()
        if not counts:
            return
        # One atomic upsert per counter: processes flushing the same counter add, never overwrite.
        table = UsageCounterRow.__table__  # type: ignore[attr-defined]
        with self.store.writer() as session:
            for key, n in counts.items():
                insert = self.store.insert(table).values(**key.__dict__, count=n)
                session.execute(
                    insert.on_conflict_do_update(
                        index_elements=["tenant", "key_id", "day", "method", "route", "status_class"],
                        set_={"count": table.c.count + insert.excluded.count},
                    )
                )
            session.commit()


@dataclass
class _Day:
    requests: list[dict[str, Any]]
    deltas_recorded: int = 0
    by_key: dict[str, int] | None = None
    deltas_verified: int = 0
    batches_anchored: int = 0
    gas_used: int = 0
    cost_wei: int = 0
    verified_cost_wei: int = 0


def _day_number(day: date) -> int:
    return (day - date(1970, 1, 1)).days


def _day(number: int) -> str:
    return (date(1970, 1, 1) + timedelta(days=number)).isoformat()


def build_usage_report(
    store: Store, *, tenant: str, first: date, last: date, native_price: Decimal | None, currency: str
) -> dict[str, Any]:
    """Per UTC day from ``first`` to ``last`` inclusive. Wei amounts are decimal strings."""
    lo, hi = _day_number(first), _day_number(last)
    t0, t1 = lo * SECONDS_PER_DAY, (hi + 1) * SECONDS_PER_DAY
    days: dict[int, _Day] = {n: _Day(requests=[], by_key={}) for n in range(lo, hi + 1)}
    with store.session() as session:
        counters = session.exec(
            select(UsageCounterRow)
            .where(
                UsageCounterRow.tenant == tenant, col(UsageCounterRow.day).between(first.isoformat(), last.isoformat())
            )
            .order_by(col(UsageCounterRow.day), col(UsageCounterRow.key_id), col(UsageCounterRow.route))
        ).all()
        recorded_day = col(DeltaRow.recorded_at) // SECONDS_PER_DAY
        recorded = session.execute(
            sa_select(recorded_day, col(DeltaRow.api_key_id), func.count())
            .where(col(DeltaRow.tenant) == tenant, col(DeltaRow.recorded_at) >= t0, col(DeltaRow.recorded_at) < t1)
            .group_by(recorded_day, col(DeltaRow.api_key_id))
        ).all()
        shares = session.execute(
            sa_select(
                col(BatchRow.anchored_at),
                col(BatchRow.verified_at),
                col(BatchRow.gas_used),
                col(BatchRow.effective_gas_price),
                col(BatchRow.count),
                func.count(col(DeltaRow.id)),
            )
            .select_from(DeltaRow)
            .join(BatchRow, col(DeltaRow.batch_id) == col(BatchRow.id))
            .where(col(DeltaRow.tenant) == tenant, col(BatchRow.anchored_at).is_not(None))
            .where(
                ((col(BatchRow.anchored_at) >= t0) & (col(BatchRow.anchored_at) < t1))
                | ((col(BatchRow.verified_at) >= t0) & (col(BatchRow.verified_at) < t1))
            )
            .group_by(col(BatchRow.id))
        ).all()
    for c in counters:
        days[_day_number(date.fromisoformat(c.day))].requests.append(
            {"keyId": c.key_id, "method": c.method, "route": c.route, "statusClass": c.status_class, "count": c.count}
        )
    for day_number, key_id, n in recorded:
        entry = days[int(day_number)]
        entry.deltas_recorded += n
        assert entry.by_key is not None
        entry.by_key[key_id or "unknown"] = entry.by_key.get(key_id or "unknown", 0) + n
    for anchored_at, verified_at, gas, price, batch_count, tenant_count in shares:
        share = BatchShare(gas or 0, price or 0, batch_count, tenant_count)
        if anchored_at is not None and t0 <= anchored_at < t1:
            entry = days[anchored_at // SECONDS_PER_DAY]
            entry.batches_anchored += 1
            entry.gas_used += attributed_gas(share)
            entry.cost_wei += attributed_wei(share)
        if verified_at is not None and t0 <= verified_at < t1:
            entry = days[verified_at // SECONDS_PER_DAY]
            entry.deltas_verified += tenant_count
            entry.verified_cost_wei += attributed_wei(share)

    def money(cost: int, deltas: int) -> dict[str, str | None]:
        per_delta = cost_per_delta_wei(cost, deltas)
        fiat = None if per_delta is None or native_price is None else str(wei_to_fiat(per_delta, native_price))
        return {
            "costPerVerifiedDeltaWei": None if per_delta is None else str(per_delta),
            "costPerVerifiedDeltaFiat": fiat,
        }

    out_days = []
    totals = _Day(requests=[])
    for number in range(lo, hi + 1):
        d = days[number]
        out_days.append(
            {
                "date": _day(number),
                "requests": d.requests,
                "requestCount": sum(r["count"] for r in d.requests),
                "deltasRecorded": d.deltas_recorded,
                "deltasRecordedByKey": d.by_key,
                "deltasVerified": d.deltas_verified,
                "batchesAnchored": d.batches_anchored,
                "gasUsed": d.gas_used,
                "costWei": str(d.cost_wei),
                **money(d.verified_cost_wei, d.deltas_verified),
            }
        )
        totals.deltas_recorded += d.deltas_recorded
        totals.deltas_verified += d.deltas_verified
        totals.batches_anchored += d.batches_anchored
        totals.gas_used += d.gas_used
        totals.cost_wei += d.cost_wei
        totals.verified_cost_wei += d.verified_cost_wei
    return {
        "tenant": tenant,
        "from": first.isoformat(),
        "to": last.isoformat(),
        "currency": currency,
        "nativePrice": None if native_price is None else str(native_price),
        "days": out_days,
        "totals": {
            "requestCount": sum(r["requestCount"] for r in out_days),
            "deltasRecorded": totals.deltas_recorded,
            "deltasVerified": totals.deltas_verified,
            "batchesAnchored": totals.batches_anchored,
            "gasUsed": totals.gas_used,
            "costWei": str(totals.cost_wei),
            **money(totals.verified_cost_wei, totals.deltas_verified),
        },
    }
