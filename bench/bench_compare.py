#!/usr/bin/env python3
"""Benchmark compare: N of their deltas against N record deltas (one customer).

    .venv/bin/python bench/bench_ledger.py --deltas 1000000 --keep /tmp/ledger1m   # builds the record once
    .venv/bin/python bench/bench_compare.py --db /tmp/ledger1m/ledger.db

Their view differs from the record in 0.1% of rows (amounts, missing and extra references),
so the evidence lists are realistic. Prints time and this process's peak memory.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from node.compare.service import CompareRequest, Comparisons  # noqa: E402
from node.store.db import Store  # noqa: E402
from node.store.deltas import stream_customer_columns  # noqa: E402
from node.store.migrate import upgrade  # noqa: E402


def prepare(store: Store, tenant: str, customer: str, csv_path: Path) -> int:
    """Their view as a CSV file, differing from the record in 0.1% of rows each way."""
    rows = sorted(stream_customer_columns(store, tenant=tenant, customer_id=customer), key=lambda r: r[2])
    count = 0
    with csv_path.open("w") as out:
        out.write("referenceId,delta\n")
        for i, (reference, amount, *_rest) in enumerate(rows):
            if i % 1000 == 1:
                continue  # missing from theirs
            out.write(f"{reference},{int(amount) + (1 if i % 1000 == 2 else 0)}\n")
            count += 1
            if i % 1000 == 3:
                out.write(f"extra-{i},5\n")
                count += 1
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--tenant", default="bench")
    parser.add_argument("--customer", default="cust_bench")
    parser.add_argument("--csv", type=Path, help="their view (written on first use)")
    args = parser.parse_args()
    csv_path = args.csv or args.db.with_name("theirs.csv")
    store = Store(f"sqlite:///{args.db}")
    upgrade(store)
    if not csv_path.exists():
        print(f"their deltas: {prepare(store, args.tenant, args.customer, csv_path):,} in {csv_path}", file=sys.stderr)
        # Measure in a fresh process, so the preparation's memory does not count.
        raise SystemExit(subprocess.call([sys.executable, *sys.argv, "--csv", str(csv_path)]))

    class NoRecorder:  # the benchmark measures the comparison, not a settlement delta
        def record(self, **_kwargs: object) -> None:
            raise AssertionError("no settlement expected")

    started = time.perf_counter()
    with csv_path.open() as source:
        next(source)
        theirs = [(ref, int(amount)) for ref, amount in (line.rstrip("\n").split(",") for line in source)]
    parsed = time.perf_counter() - started
    comparisons = Comparisons(store=store, recorder=NoRecorder())  # type: ignore[arg-type]
    started = time.perf_counter()
    row = comparisons.run(
        tenant=args.tenant,
        key_id="bench",
        req=CompareRequest(customer_id=args.customer, their_deltas=iter(theirs), their_balance=None),
    ).row
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    counts = json.loads(row.evidence)["counts"]
    print(f"parse their CSV   {len(theirs):,} rows in {parsed:.2f} s")
    print(f"compare           {seconds:.2f} s against the record; peak RSS {peak:.0f} MB (whole process)")
    print(f"                  resolution {row.resolution}, variance {row.variance}, {counts}")


if __name__ == "__main__":
    main()
