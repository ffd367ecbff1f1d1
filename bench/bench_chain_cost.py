#!/usr/bin/env python3
"""Cost per verified delta on the chain configurations of docs/DEPLOYMENT.md, at stated gas prices.

    .venv/bin/python bench/bench_chain_cost.py [--eth-usd 3000]

For each configuration the node's own anchoring job anchors real batches on a fresh Anvil whose base
fee is set to the configuration's, under the configuration's fee caps, and the cost is read back the way
the node accounts it (gas used x effective gas price, per batch). A rollup's L1 data fee cannot be
produced by Anvil: it is estimated with the OP Stack Fjord upper bound (GasPriceOracle
``getL1FeeUpperBound``) on the batch's actual signed transaction, at the stated L1 prices and scalars;
a running node reads the real figure from each receipt's ``l1Fee``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sqlmodel import select  # noqa: E402
from web3.types import RPCEndpoint  # noqa: E402

from node.anchoring.cycle import AnchorPolicy, run_anchor_cycle  # noqa: E402
from node.chain.client import AnchorClient, account_from_key, connect  # noqa: E402
from node.core.deltas import validate_delta_request  # noqa: E402
from node.core.fees import WEI_PER_GWEI, FeePolicy, gwei_to_wei  # noqa: E402
from node.core.hashing import from_hex  # noqa: E402
from node.core.signing import Signer  # noqa: E402
from node.core.typed_data import Domain  # noqa: E402
from node.dev.chain import DEV_ANCHORER_KEY, deploy_dev_contract, free_port, start_anvil  # noqa: E402
from node.ledger.recording import Recorder  # noqa: E402
from node.store.db import Store  # noqa: E402
from node.store.keys import ensure_tenant  # noqa: E402
from node.store.migrate import upgrade  # noqa: E402
from node.store.models import BatchRow  # noqa: E402

WEI_PER_ETH = 10**18


@dataclass(frozen=True)
class Config:
    name: str
    base_fee_gwei: str  # the chain's execution base fee
    tip_cap_gwei: str  # PACSPACE_MAX_PRIORITY_FEE_GWEI (the tip paid is the RPC suggestion, up to this)
    max_fee_gwei: str  # PACSPACE_MAX_FEE_GWEI
    batch_size: int  # PACSPACE_MAX_BATCH_SIZE, a full batch
    batches_per_day: int  # from PACSPACE_ANCHOR_INTERVAL_SECONDS at this load
    l1: tuple[str, str, int, int] | None = None  # L1 base fee gwei, blob base fee gwei, base/blob fee scalars


CONFIGS = [
    Config("Ethereum mainnet, quiet (base 2 gwei)", "2", "1", "30", 1000, 24),
    Config("Ethereum mainnet, busy (base 20 gwei)", "20", "2", "30", 1000, 24),
    Config("Ethereum mainnet, daily batch of 10,000", "10", "1", "30", 10000, 1),
    Config("OP Stack L2 (Base-like), every minute", "0.01", "0.001", "0.5", 100, 1440, ("10", "1", 2269, 1055762)),
    Config("OP Stack L2 (Base-like), every 10 s", "0.01", "0.001", "0.5", 20, 8640, ("10", "1", 2269, 1055762)),
]


def l1_fee_upper_bound(tx_size: int, l1_base_fee: int, blob_base_fee: int, base_scalar: int, blob_scalar: int) -> int:
    """OP Stack Fjord ``getL1FeeUpperBound``: FastLZ size bounded by size + size/255 + 16, then
    estimatedSize x (baseFeeScalar x l1BaseFee x 16 + blobBaseFeeScalar x blobBaseFee) / 1e12."""
    flz_upper = tx_size + tx_size // 255 + 16
    estimated = max(100 * 1_000_000, -42_585_600 + 836_500 * flz_upper)
    return estimated * (base_scalar * l1_base_fee * 16 + blob_scalar * blob_base_fee) // 10**12


def run(config: Config, rpc_url: str, workdir: Path) -> dict[str, float]:
    w3 = connect(rpc_url)
    address = deploy_dev_contract(rpc_url)
    store = Store(f"sqlite:///{workdir / f'cost-{time.monotonic_ns()}.db'}")
    upgrade(store)
    with store.writer() as session:
        ensure_tenant(session=session, tenant="default")
        session.commit()
    recorder = Recorder(
        store=store,
        domain=Domain(31337, from_hex(address, length=20)),
        signer=Signer(from_hex(DEV_ANCHORER_KEY, length=32)),
    )
    requests = [
        validate_delta_request(customer_id=f"c{i % 100}", delta=-1, reason="usage", reference_id=f"r{i}", metadata=None)
        for i in range(config.batch_size)
    ]
    for start in range(0, len(requests), 1000):
        recorder.record_many(tenant="default", requests=requests[start : start + 1000])
    recorder.close()
    policy = AnchorPolicy(
        max_batch_size=config.batch_size,
        fees=FeePolicy(max_fee=gwei_to_wei(config.max_fee_gwei), max_priority_fee=gwei_to_wei(config.tip_cap_gwei)),
    )
    chain = AnchorClient(w3, address, account_from_key(DEV_ANCHORER_KEY))
    # The block the anchor lands in (the next one) has the configuration's base fee; the node reads the
    # latest block's when it prices, so mine one at that fee first.
    base_fee = hex(gwei_to_wei(config.base_fee_gwei))
    for _ in range(2):
        w3.provider.make_request(RPCEndpoint("anvil_setNextBlockBaseFeePerGas"), [base_fee])
        if _ == 0:
            w3.provider.make_request(RPCEndpoint("evm_mine"), [])
    report = run_anchor_cycle(store, chain, time.time, policy)
    assert report.deltas_verified == config.batch_size and report.held is None, report
    with store.session() as session:
        (batch,) = session.exec(select(BatchRow)).all()
    store.close()
    gas, price = batch.gas_used or 0, batch.effective_gas_price or 0
    l1_fee = 0
    if config.l1 is not None:
        l1_base, blob_base, base_scalar, blob_scalar = config.l1
        raw_size = len(batch.raw_tx or b"")
        l1_fee = l1_fee_upper_bound(raw_size, gwei_to_wei(l1_base), gwei_to_wei(blob_base), base_scalar, blob_scalar)
    per_batch = gas * price + l1_fee
    return {
        "gas": gas,
        "price_gwei": price / WEI_PER_GWEI,
        "tx_bytes": len(batch.raw_tx or b""),
        "l1_fee": l1_fee,
        "per_batch": per_batch,
        "per_delta": per_batch / config.batch_size,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--eth-usd", type=float, default=3000.0, help="stated price of one ETH in USD")
    args = parser.parse_args(argv)
    os.environ.setdefault("ETH_HASH_BACKEND", "pysha3")
    anvil = start_anvil(port=free_port())
    try:
        with tempfile.TemporaryDirectory() as tmp:
            rows = [(config, run(config, anvil.rpc_url, Path(tmp))) for config in CONFIGS]
    finally:
        anvil.stop()
    print(f"cost per verified delta, ETH at ${args.eth_usd:,.0f} (execution measured on Anvil; L1 fee: Fjord bound)")
    columns = ["configuration", "base + tip paid (gwei)", "batch", "gas / anchor", "L1 data fee / anchor"]
    columns += ["per anchor", "per verified delta", "anchors / day", "per day"]
    print("| " + " | ".join(columns) + " |")
    print("|---|---|" + "---:|" * (len(columns) - 2))
    usd = args.eth_usd / WEI_PER_ETH
    for config, r in rows:
        tip = r["price_gwei"] - float(config.base_fee_gwei)
        l1 = f"{r['l1_fee'] / WEI_PER_ETH:.2e} ETH" if config.l1 else "none"
        cells = [
            config.name,
            f"{config.base_fee_gwei} + {tip:.3g}",
            f"{config.batch_size:,}",
            f"{r['gas']:,.0f}",
            l1,
            f"{r['per_batch'] / WEI_PER_ETH:.2e} ETH (${r['per_batch'] * usd:.4f})",
            f"{r['per_delta']:,.0f} wei (${r['per_delta'] * usd:.6f})",
            f"{config.batches_per_day:,}",
            f"${r['per_batch'] * usd * config.batches_per_day:,.2f}",
        ]
        print("| " + " | ".join(cells) + " |")
    print("L1 assumptions for the OP Stack rows: L1 base fee 10 gwei, blob base fee 1 gwei, scalars 2269 / 1055762.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
