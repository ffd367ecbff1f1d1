#!/usr/bin/env python3
"""Benchmark derive, derive?verify=true and export over one customer with many deltas.

    .venv/bin/python bench/bench_ledger.py --deltas 1000000 [--batch 10000] [--keep DIR]

Builds a real record without going through HTTP (to keep set-up in minutes): signed deltas in
a SQLite file, anchored on a fresh Anvil in batches, then times

  derive             GET /v1/balance/derive's work (median of 20)
  derive verify=true the full replay against the chain
  export             every proof bundle as JSON Lines, in a child process, with its peak memory
  verifier derive    pacspace-verify derive over the first 100,000 lines of the export
"""

from __future__ import annotations

import argparse
import os
import resource
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sqlalchemy import insert  # noqa: E402

from node.chain.client import AnchorClient, account_from_key, connect  # noqa: E402
from node.core.hashing import ZERO32, from_hex  # noqa: E402
from node.core.merkle import MerkleTree, compute_leaf_hash  # noqa: E402
from node.core.signing import Signer  # noqa: E402
from node.core.typed_data import Delta, Domain, compute_fingerprint  # noqa: E402
from node.dev.chain import DEV_ANCHORER_KEY, deploy_dev_contract, free_port, start_anvil  # noqa: E402
from node.ledger.balances import derive_balance, replay_customer  # noqa: E402
from node.ledger.receipts import ReceiptReader  # noqa: E402
from node.store.db import Store  # noqa: E402
from node.store.keys import ensure_tenant  # noqa: E402
from node.store.migrate import upgrade  # noqa: E402
from node.store.models import BatchRow, BatchTreeRow, CustomerBalanceRow, DeltaRow  # noqa: E402

TENANT, CUSTOMER = "bench", "cust_bench"


def build(db_path: Path, rpc_url: str, address: str, n: int, batch_size: int) -> None:
    store = Store(f"sqlite:///{db_path}")
    upgrade(store)
    signer = Signer(from_hex(DEV_ANCHORER_KEY, length=32))
    domain = Domain(31337, from_hex(address, length=20))
    chain = AnchorClient(connect(rpc_url), address, account_from_key(DEV_ANCHORER_KEY))
    with store.session() as session:
        ensure_tenant(session=session, tenant=TENANT)
        session.commit()
    prev, total, started = ZERO32, 0, time.perf_counter()
    for batch_no, start in enumerate(range(0, n, batch_size)):
        rows = []
        for i in range(start, min(n, start + batch_size)):
            amount = (i % 97) - 40 or 1
            delta = Delta(TENANT, CUSTOMER, amount, "usage", f"ref{i}", ZERO32, i, prev, 1_770_000_000 + i,
                          secrets.token_bytes(32))  # fmt: skip
            fingerprint = compute_fingerprint(domain, delta)
            total += amount
            rows.append((delta, fingerprint))
            prev = fingerprint
        tree = MerkleTree.build([compute_leaf_hash(d.customer_index, fp) for d, fp in rows])
        tx_hash, raw = chain.sign_anchor(
            start_index=start, count=len(rows), root=tree.root, nonce=chain.pending_nonce()
        )
        chain.broadcast(raw)
        receipt = chain.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=60)  # type: ignore[arg-type]
        with store.writer() as session:
            session.add(BatchRow(id=batch_no + 1, start_index=start, count=len(rows), root=tree.root, status="verified",
                                 onchain_batch_id=batch_no, tx_hash=tx_hash, block_number=receipt["blockNumber"],
                                 block_hash=bytes(receipt["blockHash"]), gas_used=receipt["gasUsed"],
                                 effective_gas_price=receipt["effectiveGasPrice"], created_at=0, anchored_at=0,
                                 verified_at=0))  # fmt: skip
            session.add(BatchTreeRow(batch_id=batch_no + 1, nodes=tree.pack()))  # as the anchoring job stores it
            running = total - sum(d.delta for d, _ in rows)
            values = []
            for delta, fingerprint in rows:
                running += delta.delta
                values.append({
                    "receipt_id": f"rcpt_{delta.customer_index:024x}", "tenant": TENANT, "customer_id": CUSTOMER,
                    "reference_id": delta.reference_id, "amount": str(delta.delta), "reason": delta.reason,
                    "metadata_json": None, "metadata_hash": ZERO32, "customer_index": delta.customer_index,
                    "prev_fingerprint": delta.prev_fingerprint, "recorded_at": delta.recorded_at, "salt": delta.salt,
                    "fingerprint": fingerprint, "signature": signer.sign_digest(fingerprint), "request_hash": ZERO32,
                    "status": "verified", "log_index": delta.customer_index, "batch_id": batch_no + 1,
                    "api_key_id": None, "corrects": ZERO32, "corrects_receipt_id": None, "running_total": str(running),
                    "signer": signer.address,
                })  # fmt: skip
            session.execute(insert(DeltaRow), values)
            session.commit()
        if batch_no % 10 == 9:
            print(f"  built {start + len(rows):,} deltas ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    with store.writer() as session:
        session.add(CustomerBalanceRow(tenant=TENANT, customer_id=CUSTOMER, verified_balance=str(total),
                                       verified_count=n))  # fmt: skip
        session.commit()
    store.close()


def export_child(db_path: Path, address: str, out: Path) -> None:
    store = Store(f"sqlite:///{db_path}")
    reader = ReceiptReader(store=store, domain=Domain(31337, from_hex(address, length=20)))
    started = time.perf_counter()
    count = 0
    with out.open("wb") as sink:
        for line in reader.export_lines(tenant=TENANT, customer_id=CUSTOMER, from_index=0, to_index=None):
            sink.write(line)
            count += 1
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"export             {count:,} bundles in {seconds:.1f} s ({count / seconds:,.0f}/s), peak RSS {peak_mb:.0f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deltas", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--keep", type=Path, help="directory for the database and export (kept)")
    parser.add_argument("--export-child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.export_child:
        export_child(Path(args.export_child[0]), args.export_child[1], Path(args.export_child[2]))
        return
    work = args.keep or Path(tempfile.mkdtemp(prefix="pacspace-ledger-"))
    work.mkdir(parents=True, exist_ok=True)
    db_path = work / "ledger.db"
    anvil = start_anvil(port=free_port())
    try:
        address = deploy_dev_contract(anvil.rpc_url)
        anchorer = account_from_key(DEV_ANCHORER_KEY)
        t0 = time.perf_counter()
        build(db_path, anvil.rpc_url, address, args.deltas, args.batch)
        print(f"set-up             {args.deltas:,} deltas in {time.perf_counter() - t0:.0f} s")

        store = Store(f"sqlite:///{db_path}")
        timings = []
        for _ in range(20):
            t = time.perf_counter()
            result = derive_balance(store, tenant=TENANT, customer_id=CUSTOMER)
            timings.append(time.perf_counter() - t)
        print(f"derive             median {statistics.median(timings) * 1000:.2f} ms "
              f"(balance {result.balance}, {result.verified_count:,} verified)")  # fmt: skip
        chain = AnchorClient(connect(anvil.rpc_url), address, anchorer)
        t = time.perf_counter()
        findings = replay_customer(store, chain, domain=Domain(31337, from_hex(address, length=20)), tenant=TENANT,
                                   customer_id=CUSTOMER)  # fmt: skip
        print(f"derive verify=true {time.perf_counter() - t:.1f} s, {len(findings)} discrepancies")
        store.close()

        export = work / "export.jsonl"
        subprocess.run([sys.executable, __file__, "--export-child", str(db_path), address, str(export)], check=True)
        head = work / "export-100k.jsonl"
        with export.open("rb") as src, head.open("wb") as dst:
            for i, line in enumerate(src):
                if i == 100_000:
                    break
                dst.write(line)
        t = time.perf_counter()
        verifier = subprocess.run(
            [sys.executable, "-m", "pacspace_verify", "derive", str(head), "--rpc", anvil.rpc_url,
             "--quiet"], capture_output=True, text=True, env={**os.environ}, check=False,
        )  # fmt: skip
        lines = min(args.deltas, 100_000)
        last = verifier.stdout.strip().splitlines()[-1] if verifier.stdout else verifier.stderr[-500:]
        print(
            f"verifier derive    {lines:,} bundles in {time.perf_counter() - t:.1f} s "
            f"(exit {verifier.returncode}): {last}"
        )
    finally:
        anvil.stop()


if __name__ == "__main__":
    main()
