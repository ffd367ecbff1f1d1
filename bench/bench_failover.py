"""Anchoring leader failover on PostgreSQL: how long until a standby anchors after the leader dies.

Starts scripts/cluster's topology (a throwaway PostgreSQL, Anvil, N API processes), posts deltas
to a standby, then SIGKILLs the current leader ``--kills`` times (restarting it
as a standby each time) and prints, per kill, the seconds until another process reports
``anchoringLeader`` and until a delta posted after the kill is verified. Every run ends by
checking that no anchor transaction reverted.

    .venv/bin/python bench/bench_failover.py --kills 10 --interval 1
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from node.dev.cluster import Cluster  # noqa: E402


def _leader(cluster: Cluster, timeout: float = 30) -> int:
    deadline = time.monotonic() + timeout
    while True:
        leaders = cluster.leaders()
        if len(leaders) == 1:
            return leaders[0]
        if time.monotonic() > deadline:
            raise RuntimeError(f"leaders: {leaders}")
        time.sleep(0.02)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--api", type=int, default=2, help="API processes")
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--interval", type=float, default=1.0, help="PACSPACE_ANCHOR_INTERVAL_SECONDS")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="pacspace-failover-") as work:
        cluster = Cluster(Path(work), api_count=args.api, anchor_interval=args.interval, durable=True).start()
        counter = itertools.count()
        try:
            headers = {"Authorization": f"Bearer {cluster.admin_key}"}
            takeovers: list[float] = []
            verified_after: list[float] = []
            for _kill in range(args.kills):
                leader = _leader(cluster)
                standby = next(i for i in range(len(cluster.apis)) if i != leader)
                client = httpx.Client(base_url=cluster.apis[standby].url, headers=headers, timeout=30)

                def post(client: httpx.Client = client) -> str:
                    n = next(counter)
                    body = {"customerId": f"c{n % 5}", "delta": 1, "reason": "usage", "referenceId": f"f{n}"}
                    response = client.post("/v1/balance/delta", json=body)
                    response.raise_for_status()
                    return str(response.json()["receiptId"])

                for _ in range(20):
                    post()
                cluster.kill(leader)
                killed = time.monotonic()
                receipt = post()
                while not (cluster.health(standby) or {}).get("anchoringLeader"):
                    time.sleep(0.005)
                takeovers.append(time.monotonic() - killed)
                while client.get(f"/v1/receipts/{receipt}").json()["status"] != "verified":
                    time.sleep(0.01)
                verified_after.append(time.monotonic() - killed)
                client.close()
                cluster.restart(leader)
            reverted = len(cluster.reverted_anchor_transactions())
        finally:
            cluster.stop()

    def line(name: str, values: list[float]) -> str:
        return (
            f"{name:<34} median {statistics.median(values):6.3f} s   "
            f"min {min(values):6.3f} s   max {max(values):6.3f} s"
        )

    print(f"PostgreSQL, {args.api} API processes, anchoring interval {args.interval} s, {args.kills} kills (SIGKILL)")
    print(line("kill -> a standby is leader", takeovers))
    print(line("kill -> a new delta is verified", verified_after))
    print(
        f"target: takeover <= {2 * args.interval:.1f} s (twice the interval); reverted anchor transactions: {reverted}"
    )
    return 0 if reverted == 0 and max(takeovers) <= 2 * args.interval else 1


if __name__ == "__main__":
    sys.exit(main())
