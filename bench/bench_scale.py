"""Scale-out ingest on PostgreSQL: single-delta POSTs from concurrent clients to 1 and to N API processes.

Starts a throwaway PostgreSQL (fsync on, as in production), then for each process count a new
database, Anvil and contract and `pacspace-node serve` processes, and drives them with the
benchmark's load generator (clients spread round robin over the processes, as a load balancer
would). Prints deltas/s and latency per process count and the ratio against one process.

Then, per process count, a cost pass less sensitive to what else runs on the machine than a
rate: CPU time of the node processes and of PostgreSQL's, and statements PostgreSQL executed
(pg_stat_statements, BEGIN/COMMIT/ROLLBACK included), per request of the same two loads.

    .venv/bin/python bench/bench_scale.py                      # 1 and 2 processes, 32 clients
    .venv/bin/python bench/bench_scale.py --processes 1,2,3 --seconds 10
    .venv/bin/python bench/bench_scale.py --node-repo /path/to/other/checkout   # A/B, same harness
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg

REPO = Path(__file__).resolve().parents[1]
for path in (REPO, REPO / "bench"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from benchkit import ingest  # noqa: E402
from benchkit.loadgen import request_bytes, run_load  # noqa: E402
from benchkit.node_harness import BenchNode, cpu_seconds, start_node  # noqa: E402

from node.dev.chain import free_port  # noqa: E402
from node.dev.postgres import Postgres, start_postgres  # noqa: E402

_TICK = os.sysconf("SC_CLK_TCK")


def _server_cpu_seconds(postgres: Postgres) -> float:
    """CPU of the postmaster and of every child it has had: backends come and go with the pools."""
    postmaster = int((postgres.data_dir / "postmaster.pid").read_text().split()[0])
    fields = Path(f"/proc/{postmaster}/stat").read_text().rsplit(")", 1)[1].split()
    total = sum(int(f) for f in fields[11:15]) / _TICK  # utime, stime, and its reaped children's
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == postmaster:
                    children.append(int(entry.name))
            except OSError:
                continue
    return total + cpu_seconds(children)


def _statements(dsn: str) -> int:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid "
            "WHERE d.datname = current_database() AND s.query NOT LIKE '%pg_stat_statements%'"
        ).fetchone()
    return int(row[0]) if row else 0


@dataclass
class Cost:
    requests: int
    node_cpu_ms: float
    postgres_cpu_ms: float
    statements: float


def measure_cost(
    node: BenchNode, postgres: Postgres, dsn: str, make: Callable[[], tuple[bytes, int]], clients: int, seconds: float
) -> Cost:
    """Per request of one load: node and PostgreSQL CPU (ms) and statements PostgreSQL executed."""
    node_pids = [proc.pid for proc in node.processes]
    node_before, server_before = cpu_seconds(node_pids), _server_cpu_seconds(postgres)
    statements_before = _statements(dsn)
    result = run_load(node.addresses, make, clients=clients, seconds=seconds, warmup=0.0)
    node_cpu, server_cpu = cpu_seconds(node_pids) - node_before, _server_cpu_seconds(postgres) - server_before
    statements = _statements(dsn) - statements_before - 1  # less the first reading's own statement
    n = max(1, result.requests)
    return Cost(result.requests, node_cpu / n * 1000, server_cpu / n * 1000, statements / n)


def cost_pass(node: BenchNode, postgres: Postgres, dsn: str, clients: int, seconds: float) -> tuple[Cost, Cost]:
    """The cost of GET /v1/me and of a single-delta POST (new referenceIds, 1,000 customers)."""
    me = request_bytes("GET", "/v1/me", node.token)
    counter = itertools.count()

    def single() -> tuple[bytes, int]:
        i = next(counter)
        body = b'{"customerId":"cust%d","delta":1,"reason":"usage","referenceId":"cost%d"}' % (i % 1000, i)
        return request_bytes("POST", "/v1/balance/delta", node.token, body), 1

    return (
        measure_cost(node, postgres, dsn, lambda: (me, 1), clients, seconds),
        measure_cost(node, postgres, dsn, single, clients, seconds),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", default="1,2", help="comma-separated API process counts")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=5.0, help="per measurement (each repeated 3 times)")
    parser.add_argument("--pool-size", type=int, default=10, help="PACSPACE_DB_POOL_SIZE per process")
    parser.add_argument("--node-repo", type=Path, help="serve the node from this checkout (a before/after pair)")
    parser.add_argument("--cost-seconds", type=float, default=5.0, help="length of each cost pass (0: none)")
    args = parser.parse_args()
    counts = [int(n) for n in args.processes.split(",")]

    config = ingest.IngestConfig(seconds=args.seconds, clients=args.clients, bulk=False)
    postgres = start_postgres(free_port(), durable=True, max_connections=400)
    postgres.options += ["-c shared_preload_libraries=pg_stat_statements", "-c pg_stat_statements.track=all"]
    postgres.stop_server()
    postgres.start_server()
    results: dict[int, tuple[float, str, float]] = {}
    costs: dict[int, tuple[Cost, Cost]] = {}
    try:
        for n in counts:
            url = postgres.create_database(f"scale_{n}")
            dsn = postgres.dsn(f"scale_{n}")
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute("CREATE EXTENSION pg_stat_statements")
            node = start_node(
                database_url=url,
                processes=n,
                extra_env={"PACSPACE_DB_POOL_SIZE": str(args.pool_size)},
                node_repo=args.node_repo,
            )
            try:
                rows = ingest.run(node, config, label=f"PostgreSQL, {n} process(es)")
                if args.cost_seconds > 0:
                    costs[n] = cost_pass(node, postgres, dsn, args.clients, args.cost_seconds)
            finally:
                node.stop()
            single_row = next(r for r in rows if r.measure.startswith("single-delta"))
            trivial_row = next(r for r in rows if r.measure.startswith("trivial"))
            results[n] = (single_row.figure, single_row.note, trivial_row.figure)
    finally:
        postgres.stop()

    first = results[counts[0]][0]
    print(f"\nPostgreSQL (fsync on), {args.clients} concurrent clients, single-delta POST /v1/balance/delta")
    print(f"{'API processes':>14}  {'deltas/s':>10}  {'vs ' + str(counts[0]):>7}  {'GET /v1/me req/s':>17}  latency")
    for n in counts:
        rate, note, trivial = results[n]
        print(f"{n:>14}  {rate:>10,.0f}  {rate / first:>6.2f}x  {trivial:>17,.0f}  {note}")
    print("target (issue 8): 2 processes >= 1.5x one process")
    if costs:
        print("\nCost per request (CPU ms of all node processes, of all PostgreSQL processes; statements executed)")
        print(
            f"{'API processes':>14}  {'load':<22}  {'requests':>8}  {'node CPU':>9}  {'PG CPU':>7}  {'statements':>10}"
        )
        for n, pair in costs.items():
            for name, cost in zip(("GET /v1/me", "POST /v1/balance/delta"), pair, strict=True):
                print(
                    f"{n:>14}  {name:<22}  {cost.requests:>8}  {cost.node_cpu_ms:>9.2f}  "
                    f"{cost.postgres_cpu_ms:>7.2f}  {cost.statements:>10.2f}"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
