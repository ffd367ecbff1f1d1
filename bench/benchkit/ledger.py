"""Sections 5 and 6 over one large record: proof serving with N deltas stored, derive, export, verifier.

The record is built without HTTP (signed deltas written straight to SQLite and anchored on Anvil
in batches of 10,000, with their stored trees, as the anchoring job would leave them), by
``bench/bench_ledger.py``'s builder.
"""

from __future__ import annotations

import random
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench_ledger import CUSTOMER, TENANT, build

from benchkit.loadgen import percentile, request_bytes, run_load
from benchkit.node_harness import REPO, start_node
from benchkit.table import Row
from node.dev.chain import deploy_dev_contract, free_port, start_anvil
from node.ledger.balances import derive_balance
from node.store.db import Store
from node.store.deltas import stream_customer_columns


def run(
    workdir: Path, *, deltas: int, seconds: float, clients: int, verifier_bundles: int, node_repo: Path | None = None
) -> list[Row]:
    rows: list[Row] = []
    db_path = workdir / "ledger.db"
    anvil = start_anvil(port=free_port())
    contract = deploy_dev_contract(anvil.rpc_url)
    started = time.perf_counter()
    build(db_path, anvil.rpc_url, contract, deltas, 10_000)
    setup = time.perf_counter() - started
    print(f"  record of {deltas:,} deltas built in {setup:.0f} s", file=sys.stderr)

    node = start_node(
        database_url=f"sqlite:///{db_path}",
        anvil=anvil,
        contract=contract,
        tenant=TENANT,
        extra_env={"PACSPACE_RUN_ANCHORER": "false"},
        node_repo=node_repo,
    )
    try:
        rng = random.Random(7)

        def receipt_path(suffix: str) -> tuple[bytes, int]:
            index = rng.randrange(deltas)
            return request_bytes("GET", f"/v1/receipts/rcpt_{index:024x}{suffix}", node.token), 1

        def check(status: int, body: bytes) -> None:
            if status != 200:
                raise AssertionError(f"{status}: {body[:300]!r}")

        # Latency of one request at a time (what a verifier or a customer sees), then the same under
        # ``clients`` concurrent clients (throughput; p99 there is mostly queueing behind the others).
        for concurrency in sorted({1, clients}):
            base = run_load(node.addresses, lambda: receipt_path(""), clients=concurrency, seconds=seconds, check=check)
            proofs = run_load(
                node.addresses, lambda: receipt_path("/proof"), clients=concurrency, seconds=seconds, check=check
            )
            p50, p99 = percentile(proofs.latencies, 0.5) * 1000, percentile(proofs.latencies, 0.99) * 1000
            base_p99 = percentile(base.latencies, 0.99) * 1000
            rows.append(
                Row(
                    "5",
                    f"GET …/proof p99, {deltas:,} stored, {concurrency} client(s)",
                    p99,
                    "ms",
                    base_p99,
                    "GET /v1/receipts/{id} p99",
                    target="<= 10 ms",
                    met=p99 <= 10,
                    note=f"p50 {p50:.1f} ms, {proofs.rate():,.0f} proofs/s",
                )
            )
        peak = node.sample_rss()
        rows.append(
            Row("5", "peak RSS of the node while serving proofs", peak, "MB", target="< 1,024 MB", met=peak < 1024)
        )
    finally:
        node.stop_processes()
    try:
        rows += _offline_figures(workdir, db_path, anvil.rpc_url, contract, deltas, verifier_bundles)
    finally:
        anvil.stop()
    return rows


def _offline_figures(
    workdir: Path, db_path: Path, rpc_url: str, contract: str, deltas: int, verifier_bundles: int
) -> list[Row]:
    rows: list[Row] = []

    store = Store(f"sqlite:///{db_path}")
    timings = []
    for _ in range(20):
        t = time.perf_counter()
        derive_balance(store, tenant=TENANT, customer_id=CUSTOMER)
        timings.append(time.perf_counter() - t)
    rows.append(Row("6", f"derive, {deltas:,} deltas of one customer", statistics.median(timings) * 1000, "ms"))
    t = time.perf_counter()
    scanned = sum(1 for _ in stream_customer_columns(store, tenant=TENANT, customer_id=CUSTOMER))
    scan_rate = scanned / (time.perf_counter() - t)
    store.close()

    export = workdir / "export.jsonl"
    out = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "bench_ledger.py"),
            "--export-child",
            str(db_path),
            contract,
            str(export),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    match = re.search(r"([\d,]+) bundles in ([\d.]+) s \(([\d,]+)/s\), peak RSS (\d+) MB", out.stdout)
    assert match is not None, out.stdout + out.stderr
    export_rate, export_s, export_rss = float(match[3].replace(",", "")), float(match[2]), float(match[4])
    rows.append(
        Row(
            "6",
            f"export, {deltas:,} proof bundles (JSON Lines)",
            export_rate,
            "bundles/s",
            scan_rate,
            "raw scan of the same rows, rows/s",
            note=f"{export_s:.0f} s, peak RSS {export_rss:.0f} MB",
        )
    )
    head = workdir / "export-head.jsonl"
    count = 0
    with export.open("rb") as src, head.open("wb") as dst:
        for line in src:
            if count == verifier_bundles:
                break
            dst.write(line)
            count += 1
    t = time.perf_counter()
    verifier = subprocess.run(
        [
            sys.executable,
            "-m",
            "pacspace_verify",
            "derive",
            str(head),
            "--rpc",
            rpc_url,
            "--contract",
            contract,
            "--quiet",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - t
    rows.append(
        Row(
            "6",
            f"verifier derive over {count:,} bundles",
            count / seconds,
            "bundles/s",
            export_rate,
            "node export bundles/s",
            note=f"exit {verifier.returncode}",
        )
    )
    return rows
