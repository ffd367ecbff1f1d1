"""Prometheus metrics (names documented in docs/OPERATIONS.md). One registry per app, not the global one."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from node.chain.providers import DOWN, LAGGING, UNKNOWN, UP, ProviderPool
from node.store.batches import anchoring_snapshot
from node.store.db import Store


class NodeMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.http_requests = Counter(
            "pacspace_http_requests",
            "HTTP requests by method, route template and status class",
            ["method", "route", "status_class"],
            registry=self.registry,
        )
        self.http_latency = Histogram(
            "pacspace_http_request_duration_seconds",
            "HTTP request latency by method and route template",
            ["method", "route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=self.registry,
        )
        self.deltas_recorded = Counter(
            "pacspace_deltas_recorded", "Deltas recorded (new receipts) by this process", registry=self.registry
        )
        self.batches_anchored = Counter(
            "pacspace_batches_anchored", "Batches mined by this process's anchoring job", registry=self.registry
        )
        self.deltas_verified = Counter(
            "pacspace_deltas_verified", "Deltas that reached the configured confirmations", registry=self.registry
        )
        self.gas_used = Counter("pacspace_anchor_gas_used", "Gas used by anchor transactions", registry=self.registry)
        self.cost_wei = Counter(
            "pacspace_anchor_cost_wei", "Wei spent on anchor transactions (gas x price)", registry=self.registry
        )
        self.cycle_failures = Counter(
            "pacspace_anchor_cycle_failures",
            "Anchoring cycles that failed, by reason (chain_unavailable, signer_unavailable, error)",
            ["reason"],
            registry=self.registry,
        )

        self.anchor_backoff = Gauge(
            "pacspace_anchor_backoff_seconds",
            "Current wait before the next anchoring attempt after the chain was unreachable (0 when healthy)",
            registry=self.registry,
        )
        self.anchor_leader = Gauge(
            "pacspace_anchor_leader",
            "1 while this process holds the anchoring leader lock, else 0 (exactly one process reads 1)",
            registry=self.registry,
        )

        self.anchor_held = Gauge(
            "pacspace_anchor_held",
            "1 while deltas wait unsent for this reason (fees_above_cap, daily_budget_spent), else 0",
            ["reason"],
            registry=self.registry,
        )
        self.base_fee = Gauge(
            "pacspace_chain_base_fee_wei", "The latest base fee the anchoring job saw", registry=self.registry
        )
        self.fee_cap = Gauge(
            "pacspace_anchor_max_fee_wei", "The configured cap on maxFeePerGas (0: none)", registry=self.registry
        )
        self.replacements_capped = Counter(
            "pacspace_anchor_replacements_capped",
            "Stuck anchor transactions not replaced because the replacement would pass a fee cap",
            registry=self.registry,
        )
        self.batches_reorged = Counter(
            "pacspace_batches_reorged",
            "Batches whose block was reorganised away (anchored, or verified above the finalized block)",
            registry=self.registry,
        )
        self.verification_waiting = Gauge(
            "pacspace_verification_waiting",
            "1 while an anchored batch is not verified for this reason (not_final, quorum, providers_disagree)",
            ["reason"],
            registry=self.registry,
        )

    def watch_store(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self.registry.register(_StoreCollector(store, clock))

    def watch_providers(self, pool: ProviderPool) -> None:
        self.registry.register(_ProviderCollector(pool))


class _ProviderCollector(Collector):
    """Each RPC provider's state, by position and redacted URL (never its path, query or credentials)."""

    def __init__(self, pool: ProviderPool) -> None:
        self.pool = pool

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        labels = ["provider", "url"]
        up = GaugeMetricFamily(
            "pacspace_rpc_provider_up", "1 if the provider answers and is not lagging", labels=labels
        )
        state = GaugeMetricFamily(
            "pacspace_rpc_provider_state", "1 for the provider's current state", labels=[*labels, "state"]
        )
        head = GaugeMetricFamily("pacspace_rpc_provider_head_block", "The provider's last head block", labels=labels)
        lag = GaugeMetricFamily("pacspace_rpc_provider_lag_blocks", "Blocks behind the best provider", labels=labels)
        failures = CounterMetricFamily(
            "pacspace_rpc_provider_failures", "Requests the provider could not serve", labels=labels
        )
        for view in self.pool.views():
            names = [view.name, view.url]
            up.add_metric(names, 1 if view.state == UP else 0)
            for name in (UP, LAGGING, DOWN, UNKNOWN):
                state.add_metric([*names, name], 1 if view.state == name else 0)
            if view.head_block is not None:
                head.add_metric(names, view.head_block)
            if view.lag_blocks is not None:
                lag.add_metric(names, view.lag_blocks)
            failures.add_metric(names, view.failures)
        yield from (up, state, head, lag, failures)


class _StoreCollector(Collector):
    """Gauges read from the database at scrape time, so every replica reports the same truth."""

    def __init__(self, store: Store, clock: Callable[[], float]) -> None:
        self.store = store
        self.clock = clock

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with self.store.session() as session:
            snap = anchoring_snapshot(session=session)
        yield GaugeMetricFamily(
            "pacspace_deltas_pending", "Deltas recorded but not yet verified", value=snap.unverified
        )
        lag = 0.0 if snap.oldest_unverified_at is None else max(0.0, self.clock() - snap.oldest_unverified_at)
        yield GaugeMetricFamily(
            "pacspace_anchoring_lag_seconds", "Age of the oldest delta that is not yet verified", value=lag
        )
        yield GaugeMetricFamily(
            "pacspace_last_anchored_block",
            "Block number of the most recently mined anchor transaction",
            value=snap.last_anchored_block or 0,
        )
        yield GaugeMetricFamily(
            "pacspace_gas_spent", "Gas used by all anchor transactions on record", value=snap.total_gas_used
        )
