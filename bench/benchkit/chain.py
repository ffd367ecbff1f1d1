"""Sections 3 and 4: gas per verified delta by batch size, and POST -> verified on Anvil with 1 s blocks."""

from __future__ import annotations

import itertools
import threading
import time
from typing import Any

import httpx

from benchkit.loadgen import percentile
from benchkit.node_harness import BenchNode
from benchkit.table import Row
from node.chain.client import AnchorClient, account_from_key, connect
from node.core.merkle import MerkleTree, compute_leaf_hashes
from node.dev.chain import (
    DEV_ANCHORER_KEY,
    DEV_OWNER_KEY,
    REPO_ROOT,
    deploy_dev_contract,
    deploy_dev_contract_v1,
    free_port,
    start_anvil,
)

# Reference designs (contracts/test/gas/AnchorDesigns.sol), measured beside the real contract at the
# target's batch size: what a commitment per batch in storage costs at the least, and what dropping it
# would save. (artifact name, description)
DESIGNS = (
    ("StorageFloorAnchor", "least possible with a storage commitment per batch: no authorisation, no event"),
    ("StorageEventFloorAnchor", "the same plus an event carrying the root"),
    ("HashChainAnchor", "no slot per batch (one running hash; batches proven from event logs)"),
)
DESIGN_BATCH = 1000


def _anchor(chain: AnchorClient, start: int, size: int, *, timeout: float = 60) -> tuple[int, float]:
    """Anchor ``size`` random leaves at ``start``; (gas used, seconds from send to mined)."""
    tree = MerkleTree.build(
        compute_leaf_hashes(start, [i.to_bytes(32, "big") for i in range(start + 1, start + size + 1)])
    )
    tx_hash, raw = chain.sign_anchor(start_index=start, count=size, root=tree.root, nonce=chain.pending_nonce())
    sent = time.perf_counter()
    chain.broadcast(raw)
    chain.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=timeout, poll_latency=0.02)  # type: ignore[arg-type]
    mined = chain.get_mined(tx_hash)
    assert mined is not None and mined.status == 1
    return mined.gas_used, time.perf_counter() - sent


def run_gas(sizes: list[int], gas_price_gwei: float, eth_usd: float, repeats: int = 3) -> list[Row]:
    anvil = start_anvil(port=free_port())
    rows: list[Row] = []
    try:
        chain = AnchorClient(
            connect(anvil.rpc_url), deploy_dev_contract(anvil.rpc_url), account_from_key(DEV_ANCHORER_KEY)
        )
        start = 0
        per_size: dict[int, int] = {}
        for size in sorted(set([1, *sizes])):
            used = []
            for _ in range(repeats):
                gas, _seconds = _anchor(chain, start, size)
                used.append(gas)
                start += size
            per_size[size] = sorted(used)[len(used) // 2]
        one_per_delta = per_size[1]  # one anchor transaction per delta: the baseline
        usd_per_gas = gas_price_gwei * 1e-9 * eth_usd
        for size in sizes:
            per_delta = per_size[size] / size
            target = "<= 50" if size == 1000 else ""
            rows.append(
                Row(
                    "3",
                    f"gas per delta, batches of {size:,} ({per_size[size]:,} per anchor())",
                    per_delta,
                    "gas",
                    one_per_delta,
                    "one anchor tx per delta",
                    target=target,
                    met=(per_delta <= 50) if size == 1000 else None,
                    note=f"${per_delta * usd_per_gas:.2g} per delta at {gas_price_gwei:g} gwei, ${eth_usd:,.0f}/ETH",
                )
            )
        if DESIGN_BATCH in sizes:
            rows += _design_rows(anvil.rpc_url, per_size[DESIGN_BATCH] / DESIGN_BATCH, repeats, usd_per_gas)
    finally:
        anvil.stop()
    return rows


def _design_rows(rpc_url: str, ours_per_delta: float, repeats: int, usd_per_gas: float) -> list[Row]:
    rows: list[Row] = []
    # The protocol v1 contract first: signer windows must cost anchor() nothing.
    designs = [("PacSpaceAnchorV1", "anchorers sign receipts, no signer windows"), *DESIGNS]
    for name, description in designs:
        if name == "PacSpaceAnchorV1":
            address = deploy_dev_contract_v1(rpc_url)
            kind, status = "protocol v1 contract", "what v1 deployments run"
        else:
            address = deploy_dev_contract(rpc_url, REPO_ROOT / "out" / "AnchorDesigns.sol" / f"{name}.json")
            kind, status = "reference design", "not deployed"
        chain = AnchorClient(connect(rpc_url), address, account_from_key(DEV_ANCHORER_KEY))
        used = [_anchor(chain, i * DESIGN_BATCH, DESIGN_BATCH)[0] for i in range(repeats + 1)][1:]  # first warms up
        per_delta = sorted(used)[len(used) // 2] / DESIGN_BATCH
        rows.append(
            Row(
                "3",
                f"gas per delta, batches of {DESIGN_BATCH:,}, {kind} {name}: {description}",
                per_delta,
                "gas",
                ours_per_delta,
                "PacSpaceAnchor, same batch size",
                note=f"${per_delta * usd_per_gas:.2g} per delta; {status}, for comparison",
            )
        )
    return rows


def _chain_floor(node: BenchNode, *, samples: int) -> float:
    """Median seconds from sending a plain transfer (another account than the anchorer) to its receipt."""
    w3 = connect(node.anvil.rpc_url)
    sender = account_from_key(DEV_OWNER_KEY)
    times = []
    for _ in range(samples):
        tx: dict[str, Any] = {
            "to": sender.address,
            "value": 0,
            "gas": 21_000,
            "maxFeePerGas": w3.eth.gas_price * 2 + 1,
            "maxPriorityFeePerGas": 1,
            "nonce": w3.eth.get_transaction_count(sender.address, "pending"),
            "chainId": w3.eth.chain_id,
        }
        signed = sender.sign_transaction(tx)
        sent = time.perf_counter()
        tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
        w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30, poll_latency=0.02)
        times.append(time.perf_counter() - sent)
    return sorted(times)[len(times) // 2]


def run_e2e(node: BenchNode, *, deltas: int, spacing: float, block_time: float, interval: float) -> list[Row]:
    """POST one delta every ``spacing`` s; each is timed from its POST until GET shows it verified."""
    started: dict[str, float] = {}
    verified: dict[str, float] = {}
    lock = threading.Lock()
    done = threading.Event()

    def poll() -> None:
        with httpx.Client(base_url=node.base_url, headers={"Authorization": f"Bearer {node.token}"}) as client:
            while not done.is_set() or len(verified) < len(started):
                with lock:
                    waiting = [r for r in started if r not in verified]
                for receipt_id in waiting:
                    if client.get(f"/v1/receipts/{receipt_id}").json()["status"] == "verified":
                        with lock:
                            verified[receipt_id] = time.perf_counter()
                time.sleep(0.02)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    refs = itertools.count()
    with httpx.Client(base_url=node.base_url, headers={"Authorization": f"Bearer {node.token}"}) as client:
        for _ in range(deltas):
            sent = time.perf_counter()
            body = {"customerId": "e2e", "delta": 1, "reason": "usage", "referenceId": f"e2e{next(refs)}"}
            receipt_id = client.post("/v1/balance/delta", json=body).json()["receiptId"]
            with lock:
                started[receipt_id] = sent
            time.sleep(spacing)
    done.set()
    poller.join(timeout=120)
    latencies = [verified[r] - started[r] for r in started if r in verified]
    baseline = _chain_floor(node, samples=5)
    target_s = block_time + interval + 1
    p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
    return [
        Row(
            "4",
            f"POST -> verified p50, {len(latencies)} deltas, {block_time:g} s blocks, {interval:g} s interval",
            p50,
            "s",
            baseline,
            "a plain transaction sent to mined, same chain",
            target=f"<= {target_s:g} s",
            met=p50 <= target_s,
            note=f"p99 {p99:.2f} s",
        ),
    ]
