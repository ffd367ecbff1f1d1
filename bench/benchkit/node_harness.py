"""A real node for the benchmark: Anvil, a fresh contract, an API key, N ``pacspace-node serve`` processes.

Every process runs the anchoring job; the leader lock (node.store.leader) lets exactly one anchor,
as with replicas behind a load balancer.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchkit import prefill  # noqa: E402
from node.dev.chain import (  # noqa: E402
    DEV_ANCHORER_KEY,
    Anvil,
    deploy_dev_contract,
    free_port,
    port_open,
    start_anvil,
)


def peak_rss_mb(pid: int) -> float:
    """The process's high-water resident set (VmHWM) in MB, or nan once it has gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (uvicorn's worker processes), as far as they are still running."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    return [pid, *(descendant for child in children for descendant in process_tree(int(child)))]


def _stat_cpu(stat: Path) -> float:
    """User + system CPU seconds from a ``/proc/.../stat`` file (0 if the process or thread has gone)."""
    try:
        fields = stat.read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes so far (those that have gone count nothing)."""
    return sum(_stat_cpu(Path(f"/proc/{pid}/stat")) for pid in pids)


def thread_cpu_seconds(pid: int) -> dict[int, float]:
    """User + system CPU time of each thread of ``pid`` so far, by thread id."""
    return {int(task.name): _stat_cpu(task / "stat") for task in Path(f"/proc/{pid}/task").iterdir()}


_MAKE_KEY = """
import sys
from node.store.db import Store
from node.store.keys import create_api_key
from node.store.migrate import upgrade
store = Store(sys.argv[1])
upgrade(store)
with store.writer() as session:
    _row, token = create_api_key(
        session=session, tenant=sys.argv[2], name="bench", scopes=("admin",),
        rate_per_second=100_000, rate_burst=1_000_000,
    )
store.close()
print(token)
"""


def make_key(db_url: str, tenant: str = "bench", node_repo: Path | None = None) -> str:
    """An admin key whose rate limit never throttles the benchmark, made by the code of the node that
    will serve (``node_repo``, default this checkout), so the schema is the one that node runs at."""
    return subprocess.run(
        [sys.executable, "-c", _MAKE_KEY, db_url, tenant],
        cwd=node_repo or REPO,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()[-1]


@dataclass
class BenchNode:
    anvil: Anvil
    contract: str
    db_url: str
    token: str
    ports: list[int]
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    peak_rss: dict[int, float] = field(default_factory=dict)

    @property
    def addresses(self) -> list[tuple[str, int]]:
        return [("127.0.0.1", p) for p in self.ports]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.ports[0]}"

    def sample_rss(self) -> float:
        """Peak RSS (MB) of the largest node process so far (worker processes included)."""
        for proc in self.processes:
            for pid in process_tree(proc.pid):
                value = peak_rss_mb(pid)
                if not math.isnan(value):
                    self.peak_rss[pid] = max(self.peak_rss.get(pid, 0.0), value)
        return max(self.peak_rss.values(), default=float("nan"))

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the node processes and their workers have used so far."""
        return cpu_seconds([pid for proc in self.processes for pid in process_tree(proc.pid)])

    def stop(self) -> None:
        self.stop_processes()
        self.anvil.stop()

    def stop_processes(self) -> None:
        self.sample_rss()
        for proc in self.processes:
            proc.terminate()
        for proc in self.processes:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def schema_head(node_repo: Path) -> str:
    """The schema revision the node in ``node_repo`` runs at (it refuses a database at any other)."""
    return subprocess.run(
        [sys.executable, "-c", "from node.store.migrate import head_revision; print(head_revision())"],
        cwd=node_repo,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def start_node(
    *,
    database_url: str | None = None,
    processes: int = 1,
    block_time: float | None = None,
    interval: float = 1.0,
    extra_env: dict[str, str] | None = None,
    workdir: Path | None = None,
    anvil: Anvil | None = None,
    contract: str | None = None,
    tenant: str = "bench",
    node_repo: Path | None = None,
    workers: int = 1,
    record: int = 0,
    record_cache: Path | None = None,
) -> BenchNode:
    """Node processes on ``database_url`` (default: a new SQLite file), on a new Anvil and contract unless
    given. The node owns what it starts: ``stop()`` stops the given Anvil too. ``node_repo`` serves the
    node from another checkout (to measure a before/after pair with the same harness). ``workers`` > 1
    runs each process as ``serve --workers N``: N processes accepting on its one port. ``record`` > 0 starts
    the node on a new SQLite file that already holds that many anchored deltas (benchkit.prefill), built
    once into ``record_cache``."""
    if anvil is None:
        anvil = start_anvil(port=free_port(), block_time=block_time)
    if contract is None:
        contract = deploy_dev_contract(anvil.rpc_url)
    if database_url is None:
        work = workdir or Path(tempfile.mkdtemp(prefix="pacspace-bench-"))
        work.mkdir(parents=True, exist_ok=True)
        database_url = f"sqlite:///{work / 'bench.db'}"
        for leftover in ("bench.db", "bench.db-wal", "bench.db-shm"):
            (work / leftover).unlink(missing_ok=True)  # a reused --workdir starts from a new database too
        if record:
            cached = prefill.cached_record(
                record_cache or work / "record-cache",
                deltas=record,
                customers=1000,
                tenant=tenant,
                chain_id=31337,
                contract=contract,
                revision=None if node_repo is None else schema_head(node_repo),
            )
            prefill.prepare(cached, work / "bench.db", rpc_url=anvil.rpc_url, contract=contract)
    elif record:
        raise ValueError("a pre-recorded database is built on SQLite only; leave database_url unset")
    token = make_key(database_url, tenant, node_repo)
    node = BenchNode(anvil, contract, database_url, token, [free_port() for _ in range(processes)])
    base_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PACSPACE_")},
        "PACSPACE_DATABASE_URL": database_url,
        "PACSPACE_RPC_URL": anvil.rpc_url,
        "PACSPACE_CHAIN_ID": "31337",
        "PACSPACE_CONTRACT_ADDRESS": contract,
        "PACSPACE_SIGNER_KEY": DEV_ANCHORER_KEY,
        "PACSPACE_ANCHOR_INTERVAL_SECONDS": str(interval),
        "PACSPACE_LOG_LEVEL": "WARNING",
        **(extra_env or {}),
    }
    for port in node.ports:
        env = {**base_env, "PACSPACE_PORT": str(port)}
        node.processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "node.cli", "serve", *(["--workers", str(workers)] if workers > 1 else [])],
                env=env,
                cwd=node_repo or REPO,
                stdin=subprocess.DEVNULL,
            )
        )
    deadline = time.monotonic() + 60
    for proc, port in zip(node.processes, node.ports, strict=True):
        while not port_open("127.0.0.1", port) or (workers > 1 and len(process_tree(proc.pid)) < workers + 1):
            if proc.poll() is not None or time.monotonic() > deadline:
                node.stop()
                raise RuntimeError(f"node process on port {port} did not start")
            time.sleep(0.05)
    if workers > 1:
        # uvicorn's parent listens before its workers have built their apps: give them time to, so
        # the first measurement does not include their start-up.
        time.sleep(3.0)
    return node
