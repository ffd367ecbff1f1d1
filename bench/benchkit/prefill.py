"""A record that is already large when the ingest figures are taken: 1,000,000 signed deltas by default.

Inserts slow down as the deltas table and its indexes grow (two of them on random keys), so the
ingest section measures against a database that already holds a realistic record: deltas of the
same 1,000 customers the load generator uses (so new deltas extend chains that are 1,000 long), each
one validated, chained, fingerprinted and signed with the node's own functions (node.core), in
anchored batches of 10,000 with their stored Merkle trees and the customers' verified balances,
exactly the rows the recorder and the anchoring job leave behind.

Building 1,000,000 takes a few minutes, so the file is built once per (size, chain id, contract address,
schema revision) into a cache directory and copied for each run. A fresh Anvil deploys the dev contract at the same
address every time (same deployer, nonce 0), so the cached fingerprints stay valid; each run then
anchors the cached batches on its own chain (one transaction per batch) before the node starts.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine

from node.chain.client import AnchorClient, account_from_key, connect
from node.core.deltas import ChainHead, build_delta, validate_delta_request
from node.core.hashing import from_hex
from node.core.merkle import MerkleTree
from node.core.protocol import LATEST
from node.core.signing import Signer
from node.core.typed_data import Domain, compute_fingerprint
from node.dev.chain import DEV_ANCHORER_KEY
from node.native.loader import merkle_backend
from node.store.db import Store
from node.store.keys import ensure_tenant
from node.store.migrate import MIGRATIONS, head_revision, upgrade
from node.store.models import DELTA_COLUMNS

BATCH = 10_000
RECORDED_AT = 1_770_000_000
_INSERTED = tuple(name for name in DELTA_COLUMNS if name != "id")


def cached_record(
    cache: Path, *, deltas: int, customers: int, tenant: str, chain_id: int, contract: str, revision: str | None = None
) -> Path:
    """The cached SQLite file of ``deltas`` recorded deltas for this domain, built first if missing, at
    schema ``revision`` (default: this checkout's head; an older revision, for an older checkout served
    with ``--node-repo``, is reached by migrating a copy down)."""
    cache.mkdir(parents=True, exist_ok=True)
    # The schema revision is part of the name: a node refuses a database at another revision.
    stem = f"record-{deltas}-{customers}-{tenant}-{chain_id}-{contract.lower()}-schema"
    path = cache / f"{stem}{head_revision()}.db"
    if revision is not None and revision != head_revision():
        older = cache / f"{stem}{revision}.db"
        if not older.exists():
            head = cached_record(
                cache, deltas=deltas, customers=customers, tenant=tenant, chain_id=chain_id, contract=contract
            )
            partial = older.with_suffix(".partial")
            shutil.copyfile(head, partial)
            started = time.perf_counter()
            with create_engine(f"sqlite:///{partial}").begin() as connection:
                config = Config()
                config.set_main_option("script_location", str(MIGRATIONS))
                config.attributes["connection"] = connection
                command.downgrade(config, revision)
            partial.rename(older)
            print(f"  migrated the record down to {revision} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        return older
    if not path.exists():
        partial = path.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        started = time.perf_counter()
        build_record(partial, deltas=deltas, customers=customers, tenant=tenant, chain_id=chain_id, contract=contract)
        partial.rename(path)
        seconds = time.perf_counter() - started
        print(f"  built a record of {deltas:,} deltas in {seconds:.0f} s: {path}", file=sys.stderr)
    return path


def build_record(path: Path, *, deltas: int, customers: int, tenant: str, chain_id: int, contract: str) -> None:
    """Write ``deltas`` deltas of ``customers`` chains (``cust0``…) into a new SQLite file at ``path``."""
    store = Store(f"sqlite:///{path}")
    upgrade(store)
    with store.writer() as session:
        ensure_tenant(session=session, tenant=tenant)
        session.commit()
    store.close()
    domain = Domain(chain_id, from_hex(contract, length=20), LATEST)
    signer = Signer(from_hex(DEV_ANCHORER_KEY, length=32))
    heads: dict[str, ChainHead] = {}
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")  # a throwaway file until it is renamed into the cache
    insert = f"INSERT INTO deltas ({','.join(_INSERTED)}) VALUES ({','.join('?' * len(_INSERTED))})"
    with ThreadPoolExecutor(2) as pool:  # signing releases the GIL
        for batch_no, start in enumerate(range(0, deltas, BATCH)):
            rows = _batch_rows(domain, tenant, heads, start, min(deltas, start + BATCH), customers, batch_no + 1)
            fingerprints = [row["fingerprint"] for row in rows]
            for row, signature in zip(rows, pool.map(signer.sign_digest, fingerprints, chunksize=500), strict=True):
                row["signature"], row["signer"] = signature, signer.address
            tree = MerkleTree.of(start, fingerprints, backend=merkle_backend())
            db.execute("BEGIN")
            db.execute(
                "INSERT INTO batches (id, start_index, count, root, status, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (batch_no + 1, start, len(rows), tree.root, "verified", RECORDED_AT),
            )
            db.execute("INSERT INTO batch_trees (batch_id, nodes) VALUES (?, ?)", (batch_no + 1, tree.pack()))
            db.executemany(insert, [tuple(row[name] for name in _INSERTED) for row in rows])
            db.execute("COMMIT")
    db.executemany(
        "INSERT INTO customer_balances (tenant, customer_id, verified_balance, verified_count) VALUES (?, ?, ?, ?)",
        [(tenant, customer, str(head.running_total), head.customer_index + 1) for customer, head in heads.items()],
    )
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def _batch_rows(
    domain: Domain, tenant: str, heads: dict[str, ChainHead], start: int, end: int, customers: int, batch_id: int
) -> list[dict[str, Any]]:
    randomness = os.urandom(44 * (end - start))
    rows: list[dict[str, Any]] = []
    for i in range(start, end):
        entropy = randomness[(i - start) * 44 : (i - start + 1) * 44]
        customer = f"cust{i % customers}"
        request = validate_delta_request(
            customer_id=customer, delta=i % 97 + 1, reason="usage", reference_id=f"p{i}", metadata=None
        )
        head = heads.get(customer)
        delta = build_delta(
            tenant=tenant, request=request, head=head, recorded_at=RECORDED_AT + i // 1000, salt=entropy[:32]
        )
        fingerprint = compute_fingerprint(domain, delta)
        running_total = (0 if head is None else head.running_total) + delta.delta
        heads[customer] = ChainHead(delta.customer_index, fingerprint, running_total)
        rows.append(
            {
                "receipt_id": "rcpt_" + entropy[32:].hex(),
                "tenant": tenant,
                "customer_id": customer,
                "reference_id": request.reference_id,
                "amount": str(delta.delta),
                "reason": delta.reason,
                "metadata_json": None,
                "metadata_hash": delta.metadata_hash,
                "customer_index": delta.customer_index,
                "prev_fingerprint": delta.prev_fingerprint,
                "recorded_at": delta.recorded_at,
                "salt": delta.salt,
                "fingerprint": fingerprint,
                "request_hash": request.request_hash,
                "log_index": i,
                "batch_id": batch_id,
                "api_key_id": None,
                "corrects": delta.corrects,
                "corrects_receipt_id": None,
                "running_total": str(running_total),
            }
        )
    return rows


def prepare(cached: Path, target: Path, *, rpc_url: str, contract: str) -> None:
    """Copy the cached record to ``target`` and anchor its batches on this chain's (fresh) contract."""
    for leftover in (target, Path(f"{target}-wal"), Path(f"{target}-shm")):
        leftover.unlink(missing_ok=True)  # an older run's WAL would be applied to the new copy
    shutil.copyfile(cached, target)
    target.chmod(0o600)  # as the node keeps its database (its WAL and shared memory files follow the mode)
    chain = AnchorClient(connect(rpc_url), contract, account_from_key(DEV_ANCHORER_KEY))
    db = sqlite3.connect(target, isolation_level=None)
    try:
        batches = db.execute("SELECT id, start_index, count, root FROM batches ORDER BY start_index").fetchall()
        nonce = chain.pending_nonce()
        sent = []
        for batch_id, start, count, root in batches:
            tx_hash, raw = chain.sign_anchor(start_index=start, count=count, root=bytes(root), nonce=nonce)
            chain.broadcast(raw)
            sent.append((batch_id, tx_hash, nonce))
            nonce += 1
        db.execute("BEGIN")
        for batch_id, tx_hash, tx_nonce in sent:
            mined = None
            while mined is None:
                mined = chain.get_mined(tx_hash)
                if mined is None:
                    time.sleep(0.01)
            if mined.status != 1:
                raise RuntimeError(f"anchoring cached batch {batch_id} reverted")
            db.execute(
                "UPDATE batches SET onchain_batch_id = ?, tx_hash = ?, tx_nonce = ?, block_number = ?, block_hash = ?,"
                " gas_used = ?, effective_gas_price = ?, anchored_at = ?, verified_at = ? WHERE id = ?",
                (mined.batch_id, mined.tx_hash, tx_nonce, mined.block_number, mined.block_hash, mined.gas_used,
                 mined.effective_gas_price, RECORDED_AT, RECORDED_AT, batch_id),
            )  # fmt: skip
        db.execute("COMMIT")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()
