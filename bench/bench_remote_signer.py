#!/usr/bin/env python3
"""Receipt signing rate: the in-memory key next to an external EIP-712 signer (eth_signTypedData_v4).

    .venv/bin/python bench/bench_remote_signer.py [--deltas 2000] [--batch 200] [--rounds 3]

The external signer is Anvil's own ``eth_signTypedData_v4`` for an unlocked account (the interface
Web3Signer serves), on loopback. Each figure is the median of ``--rounds`` runs over ``--deltas`` real
Delta typed data (random salts), every signature checked by recovery as the node does:

  local key              node.core.signing.Signer (coincurve), the default
  remote, batched        one JSON-RPC batch of --batch requests per HTTP round trip (what the node sends)
  remote, 2 threads      two batches in flight at once (the recorder's two signing threads)
  remote, one per call   one HTTP round trip per delta (a signer that takes no batches)
  record, local/remote   whole deltas through the Recorder into SQLite (signing inside the write)
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from node.chain.remote_signers import RemoteTypedDataSigner  # noqa: E402
from node.core.deltas import validate_delta_request  # noqa: E402
from node.core.hashing import from_hex  # noqa: E402
from node.core.signing import ReceiptSigner, Signer, SigningRequest  # noqa: E402
from node.core.typed_data import Delta, Domain, build_typed_data, compute_fingerprint  # noqa: E402
from node.dev.chain import DEV_ANCHORER_KEY, free_port, start_anvil  # noqa: E402
from node.ledger.recording import Recorder  # noqa: E402
from node.store.db import Store  # noqa: E402
from node.store.keys import ensure_tenant  # noqa: E402
from node.store.migrate import upgrade  # noqa: E402

DOMAIN = Domain(31337, bytes.fromhex("5fbdb2315678afecb367f032d93f642f64180aa3"))


def _requests(n: int) -> list[SigningRequest]:
    out: list[SigningRequest] = []
    for i in range(n):
        delta = Delta(
            tenant="bench",
            customer_id=f"cust_{i % 50}",
            delta=-(i + 1),
            reason="usage",
            reference_id=f"ref_{i}",
            metadata_hash=bytes(32),
            customer_index=i,
            prev_fingerprint=secrets.token_bytes(32),
            recorded_at=1_700_000_000 + i,
            salt=secrets.token_bytes(32),
        )
        out.append((compute_fingerprint(DOMAIN, delta), partial(build_typed_data, DOMAIN, delta)))
    return out


def _rate(n: int, run: Callable[[], object], rounds: int) -> float:
    seconds = []
    for _ in range(rounds):
        started = time.perf_counter()
        run()
        seconds.append(time.perf_counter() - started)
    return n / statistics.median(seconds)


def _in_batches(signer: ReceiptSigner, requests: Sequence[SigningRequest], batch: int, threads: int) -> None:
    chunks = [requests[i : i + batch] for i in range(0, len(requests), batch)]
    if threads == 1:
        for chunk in chunks:
            signer.sign_typed(chunk)
        return
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(signer.sign_typed, chunks))


def _record(signer: ReceiptSigner, n: int, workdir: Path) -> float:
    """Deltas per second through the Recorder (SQLite, group commit), submitted in groups of 100."""
    store = Store(f"sqlite:///{workdir / f'rec-{secrets.token_hex(4)}.db'}")
    upgrade(store)
    with store.writer() as session:
        ensure_tenant(session=session, tenant="default")
        session.commit()
    recorder = Recorder(store=store, domain=DOMAIN, signer=signer)
    requests = [
        validate_delta_request(customer_id=f"c{i % 20}", delta=1, reason="u", reference_id=f"r{i}", metadata=None)
        for i in range(n)
    ]
    started = time.perf_counter()
    for i in range(0, n, 100):
        recorder.record_many(tenant="default", requests=requests[i : i + 100])
    elapsed = time.perf_counter() - started
    recorder.close()
    store.close()
    return n / elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deltas", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    os.environ.setdefault("ETH_HASH_BACKEND", "pysha3")
    anvil = start_anvil(port=free_port())
    try:
        local = Signer(from_hex(DEV_ANCHORER_KEY, length=32))
        remote = RemoteTypedDataSigner(anvil.rpc_url, local.address)
        remote.check()
        requests = _requests(args.deltas)
        assert remote.sign_typed(requests[:3]) == local.sign_typed(requests[:3]), "both sign the same bytes"
        n, rounds, batch = args.deltas, args.rounds, args.batch
        one_per_call = requests[: min(n, 300)]
        two_threads = f"remote, batches of {batch}, 2 threads"
        rows = [
            ("local key", _rate(n, lambda: _in_batches(local, requests, batch, 1), rounds)),
            (f"remote, batches of {batch}", _rate(n, lambda: _in_batches(remote, requests, batch, 1), rounds)),
            (
                two_threads,
                _rate(n, lambda: _in_batches(remote, requests, batch, 2), rounds),
            ),
            (
                "remote, one request per call",
                _rate(len(one_per_call), lambda: [remote.sign_typed([r]) for r in one_per_call], rounds),
            ),
        ]
        with tempfile.TemporaryDirectory() as tmp:
            rows.append(("record through the Recorder, local key", _record(local, n, Path(tmp))))
            rows.append(("record through the Recorder, remote signer", _record(remote, n, Path(tmp))))
        remote.close()
    finally:
        anvil.stop()
    print(f"receipt signatures per second ({n} deltas, median of {rounds}; remote = Anvil eth_signTypedData_v4)")
    print("| measure | signatures/s |")
    print("|---|---:|")
    for name, rate in rows:
        print(f"| {name} | {rate:,.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
