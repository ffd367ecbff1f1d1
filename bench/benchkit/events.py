"""CloudEvents ingest beside the delta routes it shares its recording path with, in the same run.

Batches of 1,000 CloudEvents (``application/cloudevents-batch+json`` to ``POST /v1/events``) against bulk POSTs
of 1,000 deltas (``POST /v1/balance/deltas``), and single structured events against single-delta POSTs, the
pairs interleaved so both sides see the same machine. What the events cost beyond the deltas is reading the
envelope and mapping it (node.core.cloudevents); recording is the same.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable

from benchkit.ingest import IngestConfig
from benchkit.loadgen import LoadResult, median, percentile, request_bytes, run_load
from benchkit.node_harness import BenchNode
from benchkit.table import Row
from benchkit.targets import EVENTS_WITHIN

STRUCTURED = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"


def _check(ok: int, batch: bool) -> Callable[[int, bytes], None]:
    def check(status: int, body: bytes) -> None:
        if status != ok or (batch and not body.endswith(b'"failed":0}')):
            raise AssertionError(f"not fully recorded: {status} {body[-300:]!r}")

    return check


def _pair(
    config: IngestConfig, node: BenchNode, ours: Callable[[], LoadResult], theirs: Callable[[], LoadResult]
) -> tuple[tuple[float, float, float, float], tuple[float, float, float, float]]:
    """(rate, p50 ms, p99 ms, node CPU µs per item) of each, the runs interleaved ``config.repeats`` times
    (which goes first alternates). The CPU time per item moves less than the rate on a shared machine."""
    results: tuple[list[LoadResult], list[LoadResult]] = ([], [])
    cpu: tuple[list[float], list[float]] = ([], [])
    for repeat in range(config.repeats):
        order = (0, 1) if repeat % 2 == 0 else (1, 0)
        for side in order:
            before = node.cpu_seconds()
            result = (ours, theirs)[side]()
            results[side].append(result)
            if result.items:
                cpu[side].append((node.cpu_seconds() - before) / result.items * 1e6)
            node.sample_rss()
    out = []
    for runs, per_item in zip(results, cpu, strict=True):
        latencies = [lat for r in runs for lat in r.latencies]
        rate = median([r.item_rate() for r in runs])
        out.append((rate, percentile(latencies, 0.5) * 1000, percentile(latencies, 0.99) * 1000, median(per_item)))
    return out[0], out[1]


def run(node: BenchNode, config: IngestConfig, *, label: str) -> list[Row]:
    counter = itertools.count()
    customers = config.customers

    def event(i: int) -> dict[str, object]:
        return {
            "specversion": "1.0",
            "id": f"e{i}",
            "source": "bench",
            "type": "api_usage",
            "subject": f"cust{i % customers}",
            "data": {"delta": i % 97 + 1, "endpoint": "/v1/search"},
        }

    def delta(i: int) -> dict[str, object]:
        # The same fields as the event's: its data beyond delta is metadata, so the delta carries that too.
        return {
            "customerId": f"cust{i % customers}",
            "delta": i % 97 + 1,
            "reason": "api_usage",
            "referenceId": f"bench#d{i}",
            "metadata": {"endpoint": "/v1/search"},
        }

    def bulk_events() -> tuple[bytes, int]:
        body = json.dumps([event(next(counter)) for _ in range(config.bulk_size)], separators=(",", ":")).encode()
        return request_bytes("POST", "/v1/events", node.token, body, content_type=BATCH), config.bulk_size

    def bulk_deltas() -> tuple[bytes, int]:
        items = [delta(next(counter)) for _ in range(config.bulk_size)]
        body = json.dumps({"deltas": items}, separators=(",", ":")).encode()
        return request_bytes("POST", "/v1/balance/deltas", node.token, body), config.bulk_size

    def one_event() -> tuple[bytes, int]:
        body = json.dumps(event(next(counter)), separators=(",", ":")).encode()
        return request_bytes("POST", "/v1/events", node.token, body, content_type=STRUCTURED), 1

    def one_delta() -> tuple[bytes, int]:
        body = json.dumps(delta(next(counter)), separators=(",", ":")).encode()
        return request_bytes("POST", "/v1/balance/delta", node.token, body), 1

    def load(make: Callable[[], tuple[bytes, int]], clients: int, ok: int, batch: bool) -> Callable[[], LoadResult]:
        return lambda: run_load(
            node.addresses, make, clients=clients, seconds=config.seconds, warmup=config.warmup, check=_check(ok, batch)
        )

    rows: list[Row] = []
    (ev, ev_p50, ev_p99, ev_cpu), (de, de_p50, de_p99, de_cpu) = _pair(
        config,
        node,
        load(bulk_events, config.bulk_clients, 200, True),
        load(bulk_deltas, config.bulk_clients, 200, True),
    )
    rows.append(
        Row(
            "7",
            f"CloudEvents batch POST of {config.bulk_size:,} (/v1/events), {config.bulk_clients} clients, {label}",
            ev,
            "events/s",
            de,
            "bulk POST deltas/s",
            target=f">= {1 - EVENTS_WITHIN:.1f}x (within {EVENTS_WITHIN:.0%} of bulk)",
            met=ev >= (1 - EVENTS_WITHIN) * de,
            note=f"per request p50 {ev_p50:.0f} ms, p99 {ev_p99:.0f} ms, node CPU {ev_cpu:.0f} µs per event; "
            f"bulk deltas p50 {de_p50:.0f} ms, p99 {de_p99:.0f} ms, {de_cpu:.0f} µs per delta",
        )
    )
    (ev, ev_p50, ev_p99, ev_cpu), (de, de_p50, de_p99, de_cpu) = _pair(
        config,
        node,
        load(one_event, config.clients, 201, False),
        load(one_delta, config.clients, 201, False),
    )
    rows.append(
        Row(
            "7",
            f"single structured CloudEvent POST, {config.clients} clients, {label}",
            ev,
            "events/s",
            de,
            "single-delta POST deltas/s",
            note=f"p50 {ev_p50:.1f} ms, p99 {ev_p99:.1f} ms, node CPU {ev_cpu:.0f} µs per event; "
            f"deltas p50 {de_p50:.1f} ms, p99 {de_p99:.1f} ms, {de_cpu:.0f} µs per delta",
        )
    )
    return rows
