"""Section 1: ingest over HTTP, single-delta POSTs and bulk POSTs, against a trivial authenticated GET.

All three are driven by the same load generator over the same kind of connections, against the
same node processes, in the same run. The load generator's own ceiling (against a canned-answer
server) is measured first, so a figure near it would say "the generator is the limit".
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from benchkit.loadgen import LoadResult, median, percentile, request_bytes, run_load
from benchkit.node_harness import REPO, BenchNode
from benchkit.table import Row
from benchkit.targets import Target
from node.dev.chain import free_port, port_open


@dataclass
class IngestConfig:
    seconds: float = 5.0
    repeats: int = 3
    clients: int = 32
    bulk_clients: int = 4
    bulk_size: int = 1000
    customers: int = 1000
    warmup: float = 0.5
    baseline_path: str = "/v1/me"  # the trivial authenticated endpoint
    baseline_status: int = 200
    bulk: bool = True
    single_target: Target | None = None
    bulk_target: Target | None = None


def _repeat(
    config: IngestConfig, run: Callable[[], LoadResult], node: BenchNode | None = None
) -> tuple[float, float, float, float]:
    """(median rate, p50 ms, p99 ms, node CPU µs per item) over ``config.repeats`` runs; latencies pooled
    across runs. The CPU time (all node processes, warm-up included, so slightly high) per item is less
    sensitive than the rate to other work on the machine."""
    results: list[LoadResult] = []
    cpu_per_item: list[float] = []
    for _ in range(config.repeats):
        before = node.cpu_seconds() if node is not None else 0.0
        result = run()
        results.append(result)
        if node is not None and result.items:
            cpu_per_item.append((node.cpu_seconds() - before) / result.items * 1e6)
    rates = [r.item_rate() for r in results]
    latencies = [lat for r in results for lat in r.latencies]
    return median(rates), percentile(latencies, 0.5) * 1000, percentile(latencies, 0.99) * 1000, median(cpu_per_item)


def _expect(ok: int) -> Callable[[int, bytes], None]:
    def check(got: int, body: bytes) -> None:
        if got != ok:
            raise AssertionError(f"expected {ok}, got {got}: {body[:300]!r}")

    return check


def measure_ceiling(config: IngestConfig) -> float:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "benchkit.echo_server", str(port)], cwd=REPO / "bench", stdin=subprocess.DEVNULL
    )
    try:
        while not port_open("127.0.0.1", port):
            time.sleep(0.02)
        request = request_bytes("GET", "/", "x")
        rate, _p50, _p99, _cpu = _repeat(
            config,
            lambda: run_load(
                [("127.0.0.1", port)],
                lambda: (request, 1),
                clients=config.clients,
                seconds=config.seconds,
                warmup=config.warmup,
            ),
        )
        return rate
    finally:
        server.terminate()
        server.wait()


def run(node: BenchNode, config: IngestConfig, *, label: str) -> list[Row]:
    rows: list[Row] = []
    ceiling = measure_ceiling(config)
    me = request_bytes("GET", config.baseline_path, node.token)
    base_rate, base_p50, base_p99, base_cpu = _repeat(
        config,
        lambda: run_load(
            node.addresses,
            lambda: (me, 1),
            clients=config.clients,
            seconds=config.seconds,
            check=_expect(config.baseline_status),
        ),
        node,
    )
    rows.append(
        Row(
            "1",
            f"trivial authenticated GET {config.baseline_path}, {config.clients} clients, {label}",
            base_rate,
            "req/s",
            ceiling,
            "load generator's ceiling",
            note=f"p50 {base_p50:.1f} ms, p99 {base_p99:.1f} ms, node CPU {base_cpu:.0f} µs per request",
        )
    )
    node.sample_rss()

    counter = itertools.count()
    run_id = os.urandom(4).hex().encode()  # referenceIds new to a database an earlier run wrote to
    customers = config.customers

    def single() -> tuple[bytes, int]:
        i = next(counter)
        body = b'{"customerId":"cust%d","delta":%d,"reason":"usage","referenceId":"s%s-%d"}' % (
            i % customers,
            i % 97 + 1,
            run_id,
            i,
        )
        return request_bytes("POST", "/v1/balance/delta", node.token, body), 1

    rate, p50, p99, cpu = _repeat(
        config,
        lambda: run_load(
            node.addresses,
            single,
            clients=config.clients,
            seconds=config.seconds,
            warmup=config.warmup,
            check=_expect(201),
        ),
        node,
    )
    rows.append(
        Row(
            "1",
            f"single-delta POST, {config.clients} clients, {label}",
            rate,
            "deltas/s",
            base_rate,
            "trivial GET req/s",
            target=config.single_target.text if config.single_target else "",
            met=config.single_target.met(rate) if config.single_target else None,
            note=f"p50 {p50:.1f} ms, p99 {p99:.1f} ms, node CPU {cpu:.0f} µs per delta",
        )
    )
    node.sample_rss()

    if not config.bulk:
        peak = node.sample_rss()
        rows.append(
            Row(
                "1",
                f"peak RSS of a node process during ingest, {label}",
                peak,
                "MB",
                target="< 1,024 MB",
                met=peak < 1024,
            )
        )
        return rows

    def bulk() -> tuple[bytes, int]:
        items = []
        for _ in range(config.bulk_size):
            i = next(counter)
            items.append(
                {
                    "customerId": f"cust{i % customers}",
                    "delta": i % 97 + 1,
                    "reason": "usage",
                    "referenceId": f"b{run_id.decode()}-{i}",
                }
            )
        body = json.dumps({"deltas": items}, separators=(",", ":")).encode()
        return request_bytes("POST", "/v1/balance/deltas", node.token, body), config.bulk_size

    def check_bulk(status: int, body: bytes) -> None:
        if status != 200 or not body.endswith(b'"failed":0}'):
            raise AssertionError(f"bulk request not fully recorded: {status} {body[-300:]!r}")

    rate, p50, p99, cpu = _repeat(
        config,
        lambda: run_load(
            node.addresses,
            bulk,
            clients=config.bulk_clients,
            seconds=config.seconds,
            warmup=config.warmup,
            check=check_bulk,
        ),
        node,
    )
    rows.append(
        Row(
            "1",
            f"bulk POST of {config.bulk_size:,}, {config.bulk_clients} clients, {label}",
            rate,
            "deltas/s",
            base_rate,
            "trivial GET req/s",
            target=config.bulk_target.text if config.bulk_target else "",
            met=config.bulk_target.met(rate) if config.bulk_target else None,
            note=f"per request p50 {p50:.0f} ms, p99 {p99:.0f} ms, node CPU {cpu:.0f} µs per delta",
        )
    )
    peak = node.sample_rss()
    rows.append(
        Row("1", f"peak RSS of a node process during ingest, {label}", peak, "MB", target="< 1,024 MB", met=peak < 1024)
    )
    return rows
