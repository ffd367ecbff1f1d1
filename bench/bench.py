#!/usr/bin/env python3
"""The performance benchmark: one table, each figure a median beside a baseline measured in the same run.

    .venv/bin/python bench/bench.py                   # the full run (about 15 minutes on 2 cores)
    .venv/bin/python bench/bench.py --quick           # smaller sizes, a few minutes
    .venv/bin/python bench/bench.py --sections tree,gas
    .venv/bin/python bench/bench.py --sections ingest --database-url postgresql+psycopg://… --processes 2
    .venv/bin/python bench/bench.py --sections ingest --workers 2   # `serve --workers 2` on one port

Sections (docs/PERFORMANCE.md explains each and its baseline):
  ingest   single-delta POSTs (32 clients) and bulk POSTs of 1,000, against GET /v1/me, with the
           load generator's own ceiling; run again on --postgres-url when given
  tree     build + every proof for 10k, 100k, 1M leaves against @openzeppelin/merkle-tree in node;
           --tree-backends python,native compares the pure-Python and native builders back to back
  gas      gas per delta at batch sizes 1 .. 10,000 against one anchor transaction per delta, in USD
  e2e      POST -> verified on Anvil with 1 s blocks, against a plain transaction's own latency
  record   with 1,000,000 deltas stored: proof serving p50/p99, derive, export, verifier bundles/s
  compare  another tenant's read latency (p50/p99) while a customer key posts a maximal compare body
           (the node's item cap: 1,000,000 theirDeltas), against the same reads with no compare running
  events   CloudEvents ingest (batches of 1,000 to /v1/events, single structured events) against the bulk
           and single-delta POSTs, interleaved in the same run
  verifiers  the TypeScript verifier's bundles/s against the Python verifier's, derive over one export

Everything runs here: its own Anvil, contract, SQLite file and `pacspace-node serve` processes.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH), str(BENCH.parent)]

from benchkit import chain, events, hostile_compare, ingest, ledger, tree, verifiers  # noqa: E402
from benchkit.node_harness import start_node  # noqa: E402
from benchkit.table import Row, render, save  # noqa: E402
from benchkit.targets import SCALE_OUT  # noqa: E402
from benchkit.targets import ingest_targets as targets_for  # noqa: E402

SECTIONS = ("ingest", "tree", "gas", "e2e", "record", "events", "verifiers", "compare")
SIZES = {
    "full": {"seconds": 5.0, "repeats": 3, "tree": [10_000, 100_000, 1_000_000], "oz_max": 100_000, "tree_repeats": 3,
             "gas": [1, 10, 100, 1000, 10_000], "e2e": 40, "record": 1_000_000, "verifier": 100_000,
             "verifiers": 20_000, "recorded": 1_000_000, "compare": 1_000_000},
    "quick": {"seconds": 2.0, "repeats": 1, "tree": [10_000, 100_000], "oz_max": 10_000, "tree_repeats": 1,
              "gas": [1, 10, 100, 1000], "e2e": 10, "record": 20_000, "verifier": 5_000, "verifiers": 5_000,
              "recorded": 0, "compare": 1_000_000},
    "smoke": {"seconds": 0.3, "repeats": 1, "tree": [1000], "oz_max": 1000, "tree_repeats": 1,
              "gas": [1, 10], "e2e": 2, "record": 2000, "verifier": 200, "verifiers": 200, "recorded": 0,
              "compare": 2000},
}  # fmt: skip


def _number(value: object) -> float:
    assert isinstance(value, int | float), value
    return float(value)


def _backend(database_url: str | None) -> str:
    if database_url is None:
        return "SQLite"
    return "PostgreSQL" if database_url.startswith("postgresql") else "given database"


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3]) if Path("/proc/loadavg").exists() else "?"


def main(argv: list[str] | None = None) -> int:  # noqa: PLR0915 (one flat list of sections)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sections", default=",".join(SECTIONS), help=f"comma-separated, from {', '.join(SECTIONS)}")
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="smaller sizes and shorter runs")
    size.add_argument("--smoke", action="store_true", help="tiny sizes: checks that every part runs (tests)")
    parser.add_argument("--database-url", help="database of the ingest section (default: a new SQLite file)")
    parser.add_argument("--postgres-url", help="also run the ingest section on this PostgreSQL database")
    parser.add_argument("--processes", type=int, default=1, help="API processes for ingest, each on its own port")
    parser.add_argument(
        "--workers", type=int, default=1, help="worker processes per API process (`serve --workers N`, one port)"
    )
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients for single-delta ingest")
    parser.add_argument("--bulk-clients", type=int, default=4)
    parser.add_argument("--oz-max", type=int, help="largest tree also built by @openzeppelin/merkle-tree")
    parser.add_argument("--tree-sizes", help="comma-separated leaf counts for the tree section (default by mode)")
    parser.add_argument(
        "--tree-backends",
        default="auto",
        help="tree builders to compare back to back: native, python, auto (the node's choice); e.g. python,native",
    )
    parser.add_argument("--tree-repeats", type=int, help="interleaved runs per size and backend (median)")
    parser.add_argument("--gas-price-gwei", type=float, default=1.0, help="for the USD cost per delta")
    parser.add_argument("--eth-usd", type=float, default=3000.0, help="for the USD cost per delta")
    parser.add_argument("--record-deltas", type=int, help="deltas stored for the record section")
    parser.add_argument(
        "--recorded",
        type=int,
        help="deltas already recorded (1,000 customers, anchored) when the SQLite ingest section starts "
        "(default 1,000,000; 0 with --quick)",
    )
    parser.add_argument(
        "--record-cache",
        type=Path,
        default=Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "pacspace-bench",
        help="where the pre-recorded database is built once and kept (default ~/.cache/pacspace-bench)",
    )
    parser.add_argument("--workdir", type=Path, help="keep databases and exports here")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON here")
    # For before/after pairs: serve an older checkout of the node with the same harness.
    parser.add_argument("--node-repo", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--baseline-path", default="/v1/me", help=argparse.SUPPRESS)
    parser.add_argument("--baseline-status", type=int, default=200, help=argparse.SUPPRESS)
    parser.add_argument("--no-bulk", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")
    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    sizes = SIZES[mode]
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="pacspace-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    load_before = _load()
    started = time.perf_counter()
    rows: list[Row] = []

    if "ingest" in sections:
        config = ingest.IngestConfig(
            seconds=float(sizes["seconds"]),  # type: ignore[arg-type]
            repeats=int(sizes["repeats"]),  # type: ignore[call-overload]
            clients=args.clients if not args.smoke else 4,
            bulk_clients=args.bulk_clients if not args.smoke else 1,
            bulk_size=1000 if not args.smoke else 100,
            baseline_path=args.baseline_path,
            baseline_status=args.baseline_status,
            bulk=not args.no_bulk,
            warmup=0.1 if args.smoke else 0.5,
        )
        targets = [(_backend(args.database_url), args.database_url)]
        if args.postgres_url:
            targets.append(("PostgreSQL", args.postgres_url))
        recorded = args.recorded if args.recorded is not None else int(_number(sizes["recorded"]))
        for label, url in targets:
            postgres = url is not None and url.startswith("postgresql")
            scale_out = postgres and args.processes == 1 and args.workers == 1  # then also 2 processes
            processes = [1, 2] if scale_out else [args.processes]
            bulk_rates: list[float] = []
            for count in processes:
                node = start_node(
                    database_url=url,
                    processes=count,
                    workdir=workdir,
                    node_repo=args.node_repo,
                    workers=args.workers,
                    record=recorded if url is None else 0,
                    record_cache=args.record_cache,
                )
                shape = f"{count} process(es)" + (f" x {args.workers} workers" if args.workers > 1 else "")
                if url is None and recorded:
                    shape += f", {recorded:,} deltas recorded before"
                single_target, bulk_target = targets_for(
                    postgres=postgres, processes=count, workers=args.workers, recorded=recorded if url is None else 0
                )
                shaped = replace(config, single_target=single_target, bulk_target=bulk_target)
                try:
                    measured = ingest.run(node, shaped, label=f"{label}, {shape}")
                finally:
                    node.stop()
                rows += measured
                bulk_rates += [row.figure for row in measured if row.measure.startswith("bulk POST")]
            if len(bulk_rates) == 2:  # PostgreSQL with 1 and 2 API processes, one after the other
                rows.append(
                    Row(
                        "1",
                        f"bulk POST, 2 API processes against 1, {label}",
                        bulk_rates[1],
                        "deltas/s",
                        bulk_rates[0],
                        "1 process, same run",
                        target=f">= {SCALE_OUT}x",
                        met=bulk_rates[1] >= SCALE_OUT * bulk_rates[0],
                    )
                )
    if "events" in sections:
        config = ingest.IngestConfig(
            seconds=_number(sizes["seconds"]),
            repeats=int(_number(sizes["repeats"])),
            clients=args.clients if not args.smoke else 4,
            bulk_clients=args.bulk_clients if not args.smoke else 1,
            bulk_size=1000 if not args.smoke else 100,
            warmup=0.1 if args.smoke else 0.5,
        )
        node = start_node(database_url=args.database_url, workdir=workdir / "events", processes=args.processes)
        try:
            rows += events.run(node, config, label=_backend(args.database_url))
        finally:
            node.stop()
    if "verifiers" in sections:
        (workdir / "verifiers").mkdir(exist_ok=True)
        rows += verifiers.run(
            workdir / "verifiers",
            bundles=int(_number(sizes["verifiers"])),
            repeats=1 if args.smoke else 3,
        )
    if "tree" in sections:
        rows += tree.run(
            [int(n) for n in args.tree_sizes.split(",")] if args.tree_sizes else list(sizes["tree"]),  # type: ignore[call-overload]
            args.oz_max if args.oz_max is not None else int(sizes["oz_max"]),  # type: ignore[call-overload]
            backends=[b.strip() for b in args.tree_backends.split(",") if b.strip()],
            repeats=args.tree_repeats or int(sizes["tree_repeats"]),  # type: ignore[call-overload]
        )
    if "gas" in sections:
        rows += chain.run_gas(list(sizes["gas"]), args.gas_price_gwei, args.eth_usd, repeats=1 if args.smoke else 3)  # type: ignore[call-overload]
    if "e2e" in sections:
        node = start_node(block_time=1.0, interval=1.0, workdir=workdir / "e2e")
        try:
            rows += chain.run_e2e(node, deltas=int(sizes["e2e"]), spacing=0.25, block_time=1.0, interval=1.0)  # type: ignore[call-overload]
        finally:
            node.stop()
    if "record" in sections:
        record_dir = workdir / "record"
        record_dir.mkdir(exist_ok=True)
        rows += ledger.run(
            record_dir,
            node_repo=args.node_repo,
            deltas=args.record_deltas or int(sizes["record"]),  # type: ignore[call-overload]
            seconds=float(sizes["seconds"]),  # type: ignore[arg-type]
            clients=args.clients if not args.smoke else 4,
            verifier_bundles=int(sizes["verifier"]),  # type: ignore[call-overload]
        )
    if "compare" in sections:
        items = int(_number(sizes["compare"]))
        node = start_node(workdir=workdir / "compare", extra_env={"PACSPACE_MAX_COMPARE_ITEMS": str(items)})
        try:
            rows += hostile_compare.run(
                node,
                items=items,
                clients=2,
                baseline_seconds=_number(sizes["seconds"]),
            )
        finally:
            node.stop()

    header = (
        f"PacSpace node benchmark ({mode}): {os.cpu_count()} cores shared by the node, the load generator and "
        f"Anvil; load average {load_before} before, {_load()} after; {time.perf_counter() - started:.0f} s"
    )
    print(render(rows, header))
    if args.json:
        save(rows, args.json, {"mode": mode, "load_before": load_before, "load_after": _load()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
