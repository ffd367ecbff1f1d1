"""Usage: request counts aggregated in memory and flushed in batches, plus a per-day report
derived from the record itself (deltas, batches, gas), so most figures can never drift.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from node.core.usage import BatchShare, attributed_gas, attributed_wei, cost_per_delta_wei, wei_to_fiat
from node.store.db import Store
from node.store.usage import (
    SECONDS_PER_DAY,
    add_usage_counts,
    recorded_per_day,
    tenant_batch_shares,
    usage_counters,
)


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
        add_usage_counts(self.store, ((key.__dict__, n) for key, n in counts.items()))


@dataclass(frozen=True)
class RequestCount:
    key_id: str
    method: str
    route: str
    status_class: str
    count: int


@dataclass(frozen=True)
class UsageFigures:
    """One day's figures, or the whole range's. Gas attributed by the tenant's share of each batch."""

    request_count: int
    deltas_recorded: int
    deltas_verified: int
    batches_anchored: int
    gas_used: int
    cost_wei: int
    cost_per_verified_delta_wei: int | None
    cost_per_verified_delta_fiat: Decimal | None


@dataclass(frozen=True)
class UsageDay:
    date: str  # YYYY-MM-DD, UTC
    requests: list[RequestCount]
    deltas_recorded_by_key: dict[str, int]
    figures: UsageFigures


@dataclass(frozen=True)
class UsageReport:
    tenant: str
    first: date
    last: date
    currency: str
    native_price: Decimal | None
    days: list[UsageDay]
    totals: UsageFigures


@dataclass
class _Day:
    requests: list[RequestCount] = field(default_factory=list)
    by_key: dict[str, int] = field(default_factory=dict)
    deltas_recorded: int = 0
    deltas_verified: int = 0
    batches_anchored: int = 0
    gas_used: int = 0
    cost_wei: int = 0
    verified_cost_wei: int = 0

    def add(self, other: _Day) -> None:
        self.requests += other.requests
        self.deltas_recorded += other.deltas_recorded
        self.deltas_verified += other.deltas_verified
        self.batches_anchored += other.batches_anchored
        self.gas_used += other.gas_used
        self.cost_wei += other.cost_wei
        self.verified_cost_wei += other.verified_cost_wei

    def figures(self, native_price: Decimal | None) -> UsageFigures:
        per_delta = cost_per_delta_wei(self.verified_cost_wei, self.deltas_verified)
        return UsageFigures(
            request_count=sum(r.count for r in self.requests),
            deltas_recorded=self.deltas_recorded,
            deltas_verified=self.deltas_verified,
            batches_anchored=self.batches_anchored,
            gas_used=self.gas_used,
            cost_wei=self.cost_wei,
            cost_per_verified_delta_wei=per_delta,
            cost_per_verified_delta_fiat=None
            if per_delta is None or native_price is None
            else wei_to_fiat(per_delta, native_price),
        )


def _day_number(day: date) -> int:
    return (day - date(1970, 1, 1)).days


def _day(number: int) -> str:
    return (date(1970, 1, 1) + timedelta(days=number)).isoformat()


def build_usage_report(
    store: Store, *, tenant: str, first: date, last: date, native_price: Decimal | None, currency: str
) -> UsageReport:
    """Per UTC day from ``first`` to ``last`` inclusive."""
    lo, hi = _day_number(first), _day_number(last)
    t0, t1 = lo * SECONDS_PER_DAY, (hi + 1) * SECONDS_PER_DAY
    days: dict[int, _Day] = {n: _Day() for n in range(lo, hi + 1)}
    with store.session() as session:
        counters = usage_counters(
            session=session, tenant=tenant, first_day=first.isoformat(), last_day=last.isoformat()
        )
        recorded = recorded_per_day(session=session, tenant=tenant, t0=t0, t1=t1)
        shares = tenant_batch_shares(session=session, tenant=tenant, t0=t0, t1=t1)
    for c in counters:
        days[_day_number(date.fromisoformat(c.day))].requests.append(
            RequestCount(c.key_id, c.method, c.route, c.status_class, c.count)
        )
    for day_number, key_id, n in recorded:
        entry = days[day_number]
        entry.deltas_recorded += n
        entry.by_key[key_id or "unknown"] = entry.by_key.get(key_id or "unknown", 0) + n
    for anchored_at, verified_at, gas, price, batch_count, tenant_count, l1_fee in shares:
        share = BatchShare(gas or 0, price or 0, batch_count, tenant_count, l1_fee or 0)
        if anchored_at is not None and t0 <= anchored_at < t1:
            entry = days[anchored_at // SECONDS_PER_DAY]
            entry.batches_anchored += 1
            entry.gas_used += attributed_gas(share)
            entry.cost_wei += attributed_wei(share)
        if verified_at is not None and t0 <= verified_at < t1:
            entry = days[verified_at // SECONDS_PER_DAY]
            entry.deltas_verified += tenant_count
            entry.verified_cost_wei += attributed_wei(share)
    totals = _Day()
    out_days = []
    for number in range(lo, hi + 1):
        d = days[number]
        out_days.append(UsageDay(_day(number), d.requests, d.by_key, d.figures(native_price)))
        totals.add(d)
    return UsageReport(tenant, first, last, currency, native_price, out_days, totals.figures(native_price))
