"""Another tenant's latency while a customer-scoped key posts a maximal compare body (issue 17).

The node runs as `pacspace-node serve` (one process). Tenant "other" reads one of its receipts in a closed
loop (``clients`` connections): first alone (the baseline), then while a customer key of tenant "bench"
posts ``items`` theirDeltas (the node's item cap, 1,000,000 by default: about 45 MB of JSON) that the
node must parse, validate and compare. Rows: the other tenant's p50 and p99 during the compare against
the same run's baseline, how long the compare took, and the node's peak memory.
"""

from __future__ import annotations

import threading
import time

import httpx

from benchkit.loadgen import LoadResult, percentile, request_bytes, run_load
from benchkit.node_harness import BenchNode, make_key
from benchkit.table import Row

SECTION = "7"  # the table numbers its sections: compare is the seventh


def _body(items: int) -> bytes:
    parts = [b'{"theirDeltas":[']
    parts.append(b",".join(b'{"referenceId":"ref-%07d","delta":%d}' % (i, (i % 997) - 498) for i in range(items)))
    parts.append(b"]}")
    return b"".join(parts)


def _reads(node: BenchNode, token: str, receipt_id: str, clients: int, until: threading.Event) -> LoadResult:
    """The other tenant's reads in 1 s windows until ``until`` is set; every response counted."""
    request = request_bytes("GET", f"/v1/receipts/{receipt_id}", token)
    total = LoadResult()
    while not until.is_set():
        window = run_load(node.addresses, lambda: (request, 1), clients=clients, seconds=1.0, warmup=0.0)
        total.latencies += window.latencies
        total.statuses.update(window.statuses)
        total.seconds += window.seconds
    return total


def run(node: BenchNode, *, items: int, clients: int, baseline_seconds: float) -> list[Row]:
    other = make_key(node.db_url, tenant="other")
    with httpx.Client(base_url=node.base_url, timeout=900) as http:
        admin = {"Authorization": f"Bearer {node.token}"}
        http.post(
            "/v1/balance/delta",
            headers=admin,
            json={"customerId": "cust_cmp", "delta": 5, "reason": "bench", "referenceId": "cmp-seed"},
        ).raise_for_status()
        key = http.post(
            "/v1/keys", headers=admin, json={"name": "customer", "scopes": ["read"], "customerId": "cust_cmp"}
        )
        key.raise_for_status()
        customer = key.json()["secret"]
        receipt = http.post(
            "/v1/balance/delta",
            headers={"Authorization": f"Bearer {other}"},
            json={"customerId": "o1", "delta": 1, "reason": "bench", "referenceId": "other-1"},
        )
        receipt.raise_for_status()
        receipt_id = receipt.json()["receiptId"]
        body = _body(items)
        read = request_bytes("GET", f"/v1/receipts/{receipt_id}", other)
        baseline = run_load(node.addresses, lambda: (read, 1), clients=clients, seconds=baseline_seconds, warmup=0.5)

        done = threading.Event()
        statuses: list[int] = []
        durations: list[float] = []

        def post_compare() -> None:
            started = time.perf_counter()
            try:
                answer = http.post(
                    "/v1/balance/compare",
                    params={"customerId": "cust_cmp"},
                    content=body,
                    headers={"Authorization": f"Bearer {customer}", "Content-Type": "application/json"},
                )
                statuses.append(answer.status_code)
            finally:
                durations.append(time.perf_counter() - started)
                done.set()

        poster = threading.Thread(target=post_compare)
        poster.start()
        during = _reads(node, other, receipt_id, clients, done)
        poster.join()
    compare_seconds = durations[0]
    status = statuses[0] if statuses else "none (the request failed)"
    p99, base_p99 = percentile(during.latencies, 0.99) * 1000, percentile(baseline.latencies, 0.99) * 1000
    note = f"{items:,} items, {len(body) / 1e6:.0f} MB JSON, answered {status} in {compare_seconds:.1f} s"
    return [
        Row(
            SECTION,
            "other tenant's GET receipt p99 during a maximal compare",
            p99,
            "ms",
            base_p99,
            "no compare running",
            "< 100 ms",
            p99 < 100,
            note=note,
        ),
        Row(
            SECTION,
            "other tenant's GET receipt p50 during the compare",
            percentile(during.latencies, 0.5) * 1000,
            "ms",
            percentile(baseline.latencies, 0.5) * 1000,
            "no compare running",
            note=f"{during.requests:,} reads at {during.rate():.0f}/s by {clients} clients "
            f"(baseline {baseline.rate():.0f}/s)",
        ),
        Row(SECTION, "maximal compare, POST to answer", compare_seconds, "s", note=f"status {status}"),
        Row(SECTION, "node peak RSS after the compare", node.sample_rss(), "MB"),
    ]
