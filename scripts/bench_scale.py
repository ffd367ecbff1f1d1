"""Scale-out ingest on PostgreSQL: single-delta POSTs from concurrent clients to 1 and to N API processes.

Starts a throwaway PostgreSQL (fsync on, as in production), then for each process count a new
database, Anvil and contract and `pacspace-node serve` processes, and drives them with the
benchmark's load generator (clients spread round robin over the processes, as a load balancer
would). Prints deltas/s and latency per process count and the ratio against one process.

    .venv/bin/python scripts/bench_scale.py                    # 1 and 2 processes, 32 clients
    .venv/bin/python scripts/bench_scale.py --processes 1,2,3 --seconds 10
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
for path in (REPO, REPO / "scripts"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from benchkit import ingest  # noqa: E402
from benchkit.node_harness import start_node  # noqa: E402

from node.devchain import free_port  # noqa: E402
from node.devpostgres import start_postgres  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", default="1,2", help="comma-separated API process counts")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=5.0, help="per measurement (each repeated 3 times)")
    parser.add_argument("--pool-size", type=int, default=10, help="PACSPACE_DB_POOL_SIZE per process")
    args = parser.parse_args()
    counts = [int(n) for n in args.processes.split(",")]

    config = ingest.IngestConfig(seconds=args.seconds, clients=args.clients, bulk=False)
    postgres = start_postgres(free_port(), durable=True, max_connections=400)
    results: dict[int, tuple[float, str, float]] = {}
    try:
        for n in counts:
            url = postgres.create_database(f"scale_{n}")
            node = start_node(database_url=url, processes=n, extra_env={"PACSPACE_DB_POOL_SIZE": str(args.pool_size)})
            try:
                rows = ingest.run(node, config, label=f"PostgreSQL, {n} process(es)")
            finally:
                node.stop()
            single = next(r for r in rows if r.measure.startswith("single-delta"))
            trivial = next(r for r in rows if r.measure.startswith("trivial"))
            results[n] = (single.figure, single.note, trivial.figure)
    finally:
        postgres.stop()

    first = results[counts[0]][0]
    print(f"\nPostgreSQL (fsync on), {args.clients} concurrent clients, single-delta POST /v1/balance/delta")
    print(f"{'API processes':>14}  {'deltas/s':>10}  {'vs ' + str(counts[0]):>7}  {'GET /v1/me req/s':>17}  latency")
    for n in counts:
        rate, note, trivial = results[n]
        print(f"{n:>14}  {rate:>10,.0f}  {rate / first:>6.2f}x  {trivial:>17,.0f}  {note}")
    print("target (issue 8): 2 processes >= 1.5x one process")
    return 0


if __name__ == "__main__":
    sys.exit(main())
