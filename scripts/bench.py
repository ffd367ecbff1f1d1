#!/usr/bin/env python3
"""Benchmarks that print figures (not tests).

    .venv/bin/python scripts/bench.py gas                  # gas per anchor() and per delta
    .venv/bin/python scripts/bench.py latency [--block-time 1] [-n 100] [--interval 1]
                                                           # POST -> verified, through a real node process

Each run starts its own Anvil on a free port and deploys a fresh contract.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from node.chain.client import AnchorClient, account_from_key, connect, deploy_anchor  # noqa: E402
from node.core.merkle import MerkleTree, compute_leaf_hash  # noqa: E402
from node.devchain import ARTIFACT, DEV_ANCHORER_KEY, DEV_OWNER_KEY, port_open, start_anvil  # noqa: E402
from node.store.db import Store  # noqa: E402
from node.store.keys import create_api_key  # noqa: E402


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _deploy(rpc_url: str) -> str:
    owner, anchorer = account_from_key(DEV_OWNER_KEY), account_from_key(DEV_ANCHORER_KEY)
    return deploy_anchor(
        connect(rpc_url), deployer=owner, owner=owner.address, anchorer=anchorer.address, artifact=ARTIFACT
    )


def bench_gas(_args: argparse.Namespace) -> None:
    anvil = start_anvil(port=_free_port())
    try:
        chain = AnchorClient(connect(anvil.rpc_url), _deploy(anvil.rpc_url), account_from_key(DEV_ANCHORER_KEY))
        print(f"{'batch size':>10} {'gas/anchor()':>13} {'gas/delta':>10}")
        start = 0
        for size in (1, 100, 1000, 10_000):
            for _repeat in range(3):
                tree = MerkleTree.build([compute_leaf_hash(start + i, secrets.token_bytes(32)) for i in range(size)])
                tx_hash, raw = chain.sign_anchor(
                    start_index=start, count=size, root=tree.root, nonce=chain.pending_nonce()
                )
                chain.broadcast(raw)
                chain.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)  # type: ignore[arg-type]
                mined = chain.get_mined(tx_hash)
                assert mined is not None and mined.status == 1
                start += size
            print(f"{size:>10} {mined.gas_used:>13,} {mined.gas_used / size:>10,.1f}")
    finally:
        anvil.stop()


def bench_latency(args: argparse.Namespace) -> None:
    anvil = start_anvil(port=_free_port(), block_time=args.block_time)
    tmp = Path(tempfile.mkdtemp(prefix="pacspace-bench-"))
    db_url = f"sqlite:///{tmp / 'bench.db'}"
    store = Store(db_url)
    store.create_schema()
    with store.session() as session:
        _row, token = create_api_key(session=session, tenant="bench", name="bench", scopes=("admin",))
    store.close()
    port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PACSPACE_")},
        "PACSPACE_DATABASE_URL": db_url,
        "PACSPACE_RPC_URL": anvil.rpc_url,
        "PACSPACE_CHAIN_ID": "31337",
        "PACSPACE_CONTRACT_ADDRESS": _deploy(anvil.rpc_url).lower(),
        "PACSPACE_SIGNER_KEY": DEV_ANCHORER_KEY,
        "PACSPACE_PORT": str(port),
        "PACSPACE_ANCHOR_INTERVAL_SECONDS": str(args.interval),
        "PACSPACE_LOG_LEVEL": "WARNING",
    }
    server = subprocess.Popen([sys.executable, "-m", "node.cli", "serve"], env=env, cwd=REPO)
    try:
        while not port_open("127.0.0.1", port):
            time.sleep(0.05)
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"})
        post_ms: list[float] = []
        verified_s: list[float] = []
        for i in range(args.n):
            t0 = time.perf_counter()
            response = client.post(
                "/v1/balance/delta", json={"customerId": "bench", "delta": 1, "reason": "bench", "referenceId": f"b{i}"}
            )
            post_ms.append((time.perf_counter() - t0) * 1000)
            receipt_id = response.json()["receiptId"]
            while client.get(f"/v1/receipts/{receipt_id}").json()["status"] != "verified":
                time.sleep(0.01)
            verified_s.append(time.perf_counter() - t0)
        mode = "automine" if args.block_time is None else f"{args.block_time:g} s blocks"
        quantiles = statistics.quantiles(verified_s, n=20)
        print(f"{args.n} deltas, {mode}, anchoring interval {args.interval:g} s, 1 confirmation")
        print(f"  POST 201         median {statistics.median(post_ms):7.1f} ms")
        print(
            f"  POST -> verified median {statistics.median(verified_s):7.3f} s   p95 {quantiles[18]:.3f} s   "
            f"max {max(verified_s):.3f} s"
        )
    finally:
        server.terminate()
        server.wait()
        anvil.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("gas").set_defaults(func=bench_gas)
    latency = sub.add_parser("latency")
    latency.add_argument("-n", type=int, default=100)
    latency.add_argument("--block-time", type=float, default=None)
    latency.add_argument("--interval", type=float, default=1.0)
    latency.set_defaults(func=bench_latency)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
