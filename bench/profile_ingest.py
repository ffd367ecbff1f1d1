#!/usr/bin/env python3
"""Where a recorded delta's CPU goes: node CPU per delta split by component, from py-spy samples.

Starts the same node as ``bench/bench.py --sections ingest`` (SQLite, ``serve --workers N``, a record
of ``--recorded`` anchored deltas, the anchoring job running), drives bulk POSTs of 1,000 (or
single-delta POSTs with ``--single``) and, meanwhile, samples every node process with py-spy (only
threads on a CPU are sampled, so a thread waiting on fsync or a socket counts nothing). Each sample is
given to the innermost frame that names a component (signing, fingerprint, insert, ...); the node's
measured CPU per delta (user + system of all its processes, from /proc) is split in the samples'
proportions.

    .venv/bin/python bench/profile_ingest.py                         # bulk, --workers 2, 1,000,000 recorded
    .venv/bin/python bench/profile_ingest.py --single --seconds 20
    .venv/bin/python bench/profile_ingest.py --recorded 0 --workers 1
    .venv/bin/python bench/profile_ingest.py --single --recorded 0 --workers 1 --threads

``--threads`` attaches no sampler: it reads each thread's CPU (user + system) from
``/proc/<pid>/task/<tid>/stat`` before and after the load and prints it per delta, named by one
``py-spy dump`` (the event loop is ``MainThread``, the recorder ``pacspace-recorder``, the anchoring
job an APScheduler pool thread). Sampling with py-spy can count a thread waiting on a lock or a socket
as busy; these figures are what each thread really spent.

py-spy costs some CPU of its own (on the same cores), so the rate here is lower than bench.py's; the
split is what this prints for.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH), str(BENCH.parent)]

from benchkit.loadgen import request_bytes, run_load  # noqa: E402
from benchkit.node_harness import BenchNode, process_tree, start_node, thread_cpu_seconds  # noqa: E402

# A frame is py-spy's "function (path:line)". Whatever runs under the anchoring job counts as the
# anchoring job; otherwise the innermost frame naming a step counts (so the driver's time inside
# insert_deltas is the insert's); what matches no step falls to the innermost generic layer.
ANCHORING = ("node/anchoring/", "node/chain/")
STEPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("signature (secp256k1)", ("sign_digest", "coincurve")),
    ("fingerprint (EIP-712 struct hash, keccak)", ("compute_fingerprint", "compute_struct_hash", "typed_data.py")),
    ("request hash and core checks", ("validate_delta_request", "request_hash", "node/core/deltas.py")),
    ("chain heads (read)", ("chain_heads",)),
    ("insert (executemany)", ("insert_deltas",)),
    ("idempotency lookup (referenceIds)", ("deltas_by_reference",)),
    ("commit (WAL, fsync)", ("commit (",)),
    ("begin (BEGIN IMMEDIATE, locks)", ("lock_chains", "_begin", "begin (")),
    ("body parse and validation (JSON, pydantic)", ("json_text.py", "strict_json", "pydantic", "_validate_item")),
    ("response encoding", ("encoding.py", "orjson", "render_results", "json_bytes")),
    ("authentication, rate limit", ("node/api/auth.py", "node/keys/")),
)
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("recorder, other (queue, grouping, row building)", ("node/ledger/",)),
    ("database layer, other (SQLAlchemy, sqlite3)", ("node/store/", "sqlalchemy", "sqlite3", "psycopg")),
    ("HTTP server and framework", ("uvicorn", "starlette", "fastapi", "httptools", "asyncio", "uvloop", "node/api/")),
)


def classify(stack: list[str]) -> str:
    if any(needle in frame for frame in stack for needle in ANCHORING):
        return "anchoring job (its own thread)"
    for table in (STEPS, LAYERS):
        for frame in reversed(stack):  # innermost first
            for name, needles in table:
                if any(needle in frame for needle in needles):
                    return name
    return "other (threads idle in Python, start-up)"


def fold(raw: Path) -> Counter[str]:
    """py-spy --format raw: "frame;frame;... count" per line, outermost first."""
    counts: Counter[str] = Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack:
            counts[classify(stack.split(";"))] += int(count)
    return counts


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--recorded", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=20.0)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--single", action="store_true", help="single-delta POSTs (32 clients) instead of bulk")
    mode.add_argument("--get", action="store_true", help="the trivial authenticated GET /v1/me (32 clients)")
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second per process")
    parser.add_argument("--threads", action="store_true", help="CPU per thread from /proc instead of samples")
    parser.add_argument(
        "--record-cache",
        type=Path,
        default=Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "pacspace-bench",
    )
    parser.add_argument("--node-repo", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="pacspace-profile-"))
    node = start_node(
        workdir=work,
        workers=args.workers,
        record=args.recorded,
        record_cache=args.record_cache,
        node_repo=args.node_repo,
    )
    counter = itertools.count()

    def bulk() -> tuple[bytes, int]:
        items = []
        for _ in range(1000):
            i = next(counter)
            items.append(
                {"customerId": f"cust{i % 1000}", "delta": i % 97 + 1, "reason": "usage", "referenceId": f"b{i}"}
            )
        body = json.dumps({"deltas": items}, separators=(",", ":")).encode()
        return request_bytes("POST", "/v1/balance/deltas", node.token, body), 1000

    def single() -> tuple[bytes, int]:
        i = next(counter)
        body = b'{"customerId":"cust%d","delta":%d,"reason":"usage","referenceId":"s%d"}' % (i % 1000, i % 97 + 1, i)
        return request_bytes("POST", "/v1/balance/delta", node.token, body), 1

    me = request_bytes("GET", "/v1/me", node.token)

    def get() -> tuple[bytes, int]:
        return me, 1

    make = get if args.get else single if args.single else bulk
    clients = 4 if make is bulk else 32
    try:
        pids = [pid for proc in node.processes for pid in process_tree(proc.pid)]
        # Thread names from before the warm-up too: py-spy leaves out a thread it finds in native code.
        early = {pid: thread_names(pid) for pid in pids} if args.threads else {}
        run_load(node.addresses, make, clients=clients, seconds=2.0)
        if args.threads:
            return print_threads(node, pids, make, clients, args, early)
        spies = [
            subprocess.Popen(
                [
                    str(Path(sys.executable).with_name("py-spy")),
                    "record",
                    "--pid",
                    str(pid),
                    "--rate",
                    str(args.rate),
                    "--duration",
                    str(int(args.seconds)),
                    "--threads",
                    "--format",
                    "raw",
                    "--output",
                    str(work / f"{pid}.txt"),
                    "--nonblocking",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for pid in pids
        ]
        before = node.cpu_seconds()
        result = run_load(node.addresses, make, clients=clients, seconds=args.seconds)
        cpu = node.cpu_seconds() - before
        for spy in spies:
            spy.wait()
    finally:
        node.stop()
    counts: Counter[str] = Counter()
    for pid in pids:
        raw = work / f"{pid}.txt"
        if raw.exists():
            counts += fold(raw)
    total = sum(counts.values())
    per_item = cpu / result.items * 1e6
    unit = "request" if args.get else "delta"
    kind = "GET /v1/me" if args.get else "single-delta POST" if args.single else "bulk POST of 1,000"
    print(
        f"{kind}, serve --workers {args.workers}, {args.recorded:,} recorded: {result.item_rate():,.0f} deltas/s "
        f"under py-spy, node CPU {per_item:.0f} µs per {unit} ({total:,} samples)\n"
    )
    print(f"| component | share of samples | µs per {unit} |")
    print("|---|---|---|")
    for name, count in counts.most_common():
        print(f"| {name} | {count / total:.1%} | {per_item * count / total:.1f} |")
    return 0


def thread_names(pid: int) -> dict[int, str]:
    """Python's name of each thread (py-spy dump prints ``Thread <tid> (<state>): "<name>"``)."""
    spy = str(Path(sys.executable).with_name("py-spy"))
    dump = subprocess.run([spy, "dump", "--pid", str(pid)], capture_output=True, text=True, check=False).stdout
    return {int(m.group(1), 0): m.group(2) for m in re.finditer(r'^Thread (\S+) \(\w+\): "([^"]*)"', dump, re.M)}


def print_threads(
    node: BenchNode,
    pids: list[int],
    make: Callable[[], tuple[bytes, int]],
    clients: int,
    args: argparse.Namespace,
    early: dict[int, dict[int, str]],
) -> int:
    before = {pid: thread_cpu_seconds(pid) for pid in pids}
    result = run_load(node.addresses, make, clients=clients, seconds=args.seconds)
    after = {pid: thread_cpu_seconds(pid) for pid in pids}
    names = {pid: {**thread_names(pid), **early[pid]} for pid in pids}
    unit = "request" if args.get else "delta"
    print(f"{result.item_rate():,.0f} {unit}s/s over {args.seconds:.0f} s, no sampler attached\n")
    print(f"| process | thread | µs of CPU per {unit} |")
    print("|---|---|---|")
    total = 0.0
    for pid in pids:
        for tid, spent in sorted(after[pid].items()):
            used = spent - before[pid].get(tid, 0.0)
            total += used
            if used * 1e6 / result.items >= 1:
                name = names[pid].get(tid, f"thread {tid}")
                print(f"| {pid} | {name} | {used * 1e6 / result.items:,.0f} |")
    print(f"| all | | {total * 1e6 / result.items:,.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
