"""Deleted or forged batches and deltas, caught by name by all three tools (issue 15).

A real Anvil and a real node record three rounds of deltas for customers ``c`` and ``d`` (one
round, one or more batches). Customer ``c`` keeps its receipts and countersigns two checkpoints.
Then the operator edits the database at rest (and fixes the balance cache so the edit looks
self-consistent), restarts the node, and ``GET /v1/balance/derive?verify=true``, ``pacspace-node
audit`` and the standalone verifier's ``derive --receipts --checkpoint`` over the tampered export
must each name what happened.
"""

from __future__ import annotations

import contextlib
import io
import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account
from sqlalchemy import text

from node.core.canonical_json import compute_metadata_hash
from node.core.completeness import DatabaseBatch, compare_with_chain
from node.core.hashing import from_hex
from node.core.merkle import MerkleTree, compute_leaf_hash
from node.core.signing import Signer
from node.core.typed_data import Delta, Domain, compute_fingerprint
from node.dev.chain import DEV_ANCHORER_KEY
from node.store.db import Store
from tests.conftest import Deployment, RunningNode, run_audit, start_node, wait_for_status
from tests.support import load_verifier

VERIFIER = load_verifier()
CUSTOMER_KEY = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a"  # Anvil account 2


@dataclass
class Recorded:
    kept: list[dict[str, Any]]  # what customer c received: POST responses, GET /v1/receipts/{id} bodies
    tokens: list[str]  # c's countersigned checkpoints


def _round(client: httpx.Client, n: int) -> list[dict[str, Any]]:
    items = [
        {"customerId": customer, "delta": 10 * n + k, "reason": "usage", "referenceId": f"{customer}{n}"}
        for k, customer in enumerate(("c", "d"), start=1)
    ]
    response = client.post("/v1/balance/deltas", json={"deltas": items})
    assert response.status_code == 200, response.text
    receipts = [r["receipt"] for r in response.json()["results"]]
    for receipt in receipts:
        wait_for_status(client, receipt["receiptId"], "verified")
    return receipts


def _countersigned_checkpoint(client: httpx.Client) -> str:
    cp = client.post("/v1/checkpoints", json={"customerId": "c"}).json()
    signed = Account.sign_typed_data(CUSTOMER_KEY, full_message=cp["typedData"])
    response = client.post(
        f"/v1/checkpoints/{cp['checkpointId']}/countersign", json={"signature": "0x" + signed.signature.hex()}
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["proofToken"]
    return token


def _record(node: RunningNode) -> Recorded:
    kept: list[dict[str, Any]] = []
    tokens = []
    with node.client() as client:
        for n in range(3):
            receipts = _round(client, n)
            mine = receipts[0]
            assert mine["customerId"] == "c" and mine["customerIndex"] == n
            # Both shapes: the POST response (pending then) and the receipt once verified.
            kept.append(mine if n % 2 == 0 else client.get(f"/v1/receipts/{mine['receiptId']}").json())
            if n >= 1:
                tokens.append(_countersigned_checkpoint(client))  # 0..1, then 2..2
    node.stop()
    return Recorded(kept, tokens)


def _db(node: RunningNode) -> sqlite3.Connection:
    return sqlite3.connect(node.db_url.removeprefix("sqlite:///"))


def _batch_of(conn: sqlite3.Connection, reference_id: str) -> tuple[int, int, int]:
    row = conn.execute(
        "select b.id, b.start_index, b.count from batches b join deltas d on d.batch_id = b.id "
        "where d.reference_id = ?",
        (reference_id,),
    ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2])


def _unverify_balances(conn: sqlite3.Connection, where: str, args: tuple[Any, ...]) -> None:
    """Take deltas out of the balance cache, as a careful tamperer would before deleting them."""
    for tenant, customer, amount in conn.execute(
        "select tenant, customer_id, amount from deltas "
        f"where batch_id in (select id from batches where status = 'verified') and {where}",
        args,
    ).fetchall():
        balance, count = conn.execute(
            "select verified_balance, verified_count from customer_balances where tenant = ? and customer_id = ?",
            (tenant, customer),
        ).fetchone()
        conn.execute(
            "update customer_balances set verified_balance = ?, verified_count = ? "
            "where tenant = ? and customer_id = ?",
            (str(int(balance) - int(amount)), count - 1, tenant, customer),
        )


def _delete_batch(conn: sqlite3.Connection, batch_id: int) -> None:
    _unverify_balances(conn, "batch_id = ?", (batch_id,))
    conn.execute("delete from deltas where batch_id = ?", (batch_id,))
    conn.execute("delete from batch_trees where batch_id = ?", (batch_id,))
    conn.execute("delete from batches where id = ?", (batch_id,))


def delete_last_batch(conn: sqlite3.Connection, deployment: Deployment) -> tuple[int, int]:
    """(a): the newest anchored batch, its deltas and its stored tree."""
    batch_id, start, count = conn.execute(
        "select id, start_index, count from batches order by start_index desc limit 1"
    ).fetchone()
    assert _batch_of(conn, "c2")[0] == batch_id  # the tampering touches c's deltas
    _delete_batch(conn, batch_id)
    return start, start + count - 1


def delete_middle_batch(conn: sqlite3.Connection, deployment: Deployment) -> tuple[int, int]:
    """(b): the batch holding c's second delta, with batches before and after it."""
    batch_id, start, count = _batch_of(conn, "c1")
    _delete_batch(conn, batch_id)
    return start, start + count - 1


def delete_last_delta(conn: sqlite3.Connection, deployment: Deployment) -> tuple[int, int]:
    """(c): one row, c's newest delta, out of its batch (which keeps its row, root and tree)."""
    (log_index,) = conn.execute("select log_index from deltas where reference_id = 'c2'").fetchone()
    _unverify_balances(conn, "reference_id = ?", ("c2",))
    conn.execute("delete from deltas where reference_id = 'c2'")
    return int(log_index), int(log_index)


def forge_batch(conn: sqlite3.Connection, deployment: Deployment) -> tuple[int, int]:
    """(d): a credit for c, properly signed with the node's key, in a verified batch never anchored."""
    start = int(conn.execute("select max(start_index + count) from batches").fetchone()[0])
    head = conn.execute(
        "select customer_index, fingerprint, running_total from deltas where customer_id = 'c' "
        "order by customer_index desc limit 1"
    ).fetchone()
    domain = Domain(31337, from_hex(deployment.address, length=20))
    signer = Signer(from_hex(DEV_ANCHORER_KEY, length=32))
    delta = Delta(
        tenant="default",
        customer_id="c",
        delta=5000,
        reason="credit",
        reference_id="forged",
        metadata_hash=compute_metadata_hash(None),
        customer_index=head[0] + 1,
        prev_fingerprint=bytes(head[1]),
        recorded_at=1_770_000_000,
        salt=b"\x42" * 32,
    )
    fingerprint = compute_fingerprint(domain, delta)
    root = MerkleTree.build([compute_leaf_hash(start, fingerprint)]).root  # a well-formed tree, never anchored
    cursor = conn.execute(
        "insert into batches (start_index, count, root, status, onchain_batch_id, tx_hash, block_number, "
        "block_hash, created_at, anchored_at, verified_at) values (?, 1, ?, 'verified', 99, ?, 1, ?, 1, 1, 1)",
        (start, root, b"\x0f" * 32, b"\x0e" * 32),
    )
    conn.execute(
        "insert into deltas (receipt_id, tenant, customer_id, reference_id, amount, reason, metadata_hash, "
        "customer_index, prev_fingerprint, recorded_at, salt, fingerprint, signature, request_hash, "
        "log_index, batch_id, corrects, running_total, signer) values "
        "('rcpt_forged', 'default', 'c', 'forged', '5000', 'credit', "
        "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            delta.metadata_hash,
            delta.customer_index,
            delta.prev_fingerprint,
            delta.recorded_at,
            delta.salt,
            fingerprint,
            signer.sign_digest(fingerprint),
            b"\x00" * 32,
            start,
            cursor.lastrowid,
            b"\x00" * 32,
            str(int(head[2]) + 5000),
            signer.address,
        ),
    )
    conn.execute(
        "update customer_balances set verified_balance = verified_balance + 5000, verified_count = verified_count + 1 "
        "where customer_id = 'c'"
    )
    return start, start


Tampering = Callable[[sqlite3.Connection, Deployment], tuple[int, int]]


def _verify_derive(tmp_path: Path, rpc_url: str, export: str, recorded: Recorded) -> dict[str, Any]:
    (tmp_path / "export.jsonl").write_text(export)
    (tmp_path / "kept.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recorded.kept))
    (tmp_path / "second.token").write_text(recorded.tokens[1] + "\n")
    argv = ["derive", str(tmp_path / "export.jsonl"), "--rpc", rpc_url, "--json", "--quiet"]
    argv += ["--receipts", str(tmp_path / "kept.jsonl")]
    argv += ["--checkpoint", recorded.tokens[0], "--checkpoint", "@" + str(tmp_path / "second.token")]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = VERIFIER.main(argv)
    report: dict[str, Any] = json.loads(out.getvalue())
    assert code == (0 if report["ok"] else 1)
    return report


def _verifier_failures(report: dict[str, Any]) -> set[str]:
    failed = {f["check"] for f in report["failures"]}
    return failed | {c["name"] for c in report.get("checks", []) if not c["ok"]}


@pytest.mark.parametrize(
    ("tamper", "node_finding", "verifier_checks"),
    [
        (delete_last_batch, "missing_tail", {"kept_receipts", "checkpoints"}),
        (delete_middle_batch, "missing_batch", {"kept_receipts", "checkpoints", "gap"}),
        (delete_last_delta, "missing_rows", {"kept_receipts", "checkpoints"}),
        (forge_batch, "unanchored_batch", {"commitment"}),
    ],
    ids=["last_batch", "middle_batch", "last_delta", "forged_batch"],
)
def test_each_tool_names_the_tampering(
    node: RunningNode,
    deployment: Deployment,
    tmp_path: Path,
    tamper: Tampering,
    node_finding: str,
    verifier_checks: set[str],
) -> None:
    recorded = _record(node)
    code, clean = run_audit(node.db_url, deployment)
    assert code == 0 and clean["ok"], clean

    with _db(node) as conn:
        first, last = tamper(conn, deployment)
    restarted = start_node(deployment, tmp_path, node.db_url)
    try:
        with restarted.client() as client:
            derived = client.get("/v1/balance/derive", params={"customerId": "c", "verify": "true"}).json()
            export = client.get("/v1/balance/export", params={"customerId": "c"}).text
    finally:
        restarted.stop()

    # 1. derive?verify=true: verified false, the finding names the log indexes.
    verification = derived["verification"]
    assert verification["verified"] is False
    named = [d for d in verification["discrepancies"] if d["reason"] == node_finding]
    assert named, verification
    assert (named[0]["fromLogIndex"], named[0]["toLogIndex"]) == (first, last), named

    # 2. pacspace-node audit: exit 1, the same finding in --json.
    code, report = run_audit(node.db_url, deployment)
    assert code == 1 and not report["ok"]
    audited = [f for f in report["findings"] if f["reason"] == node_finding]
    assert audited and (audited[0]["fromLogIndex"], audited[0]["toLogIndex"]) == (first, last), report

    # 3. The verifier over the tampered export, with what the customer kept before the tampering.
    result = _verify_derive(tmp_path, deployment.rpc_url, export, recorded)
    assert result["ok"] is False
    assert verifier_checks <= _verifier_failures(result), result
    if "kept_receipts" in verifier_checks:
        gone = {(m["customerIndex"], m["receiptId"]) for m in result["missing"] if m["check"] == "kept_receipts"}
        lost = 1 if node_finding == "missing_batch" else 2
        assert gone == {(lost, recorded.kept[lost]["receiptId"])}, result


def test_the_untampered_export_passes_the_completeness_checks(
    node: RunningNode, deployment: Deployment, tmp_path: Path
) -> None:
    recorded = _record(node)
    restarted = start_node(deployment, tmp_path, node.db_url)
    try:
        with restarted.client() as client:
            derived = client.get("/v1/balance/derive", params={"customerId": "c", "verify": "true"}).json()
            export = client.get("/v1/balance/export", params={"customerId": "c"}).text
    finally:
        restarted.stop()
    assert derived["verification"]["verified"] is True, derived
    report = _verify_derive(tmp_path, deployment.rpc_url, export, recorded)
    assert report["ok"] is True and [c["name"] for c in report["checks"]] == ["kept_receipts", "checkpoints"]
    assert all(c["ok"] for c in report["checks"]) and report["missing"] == []


def test_batch_history_reads_every_event_in_bounded_ranges(node: RunningNode, deployment: Deployment) -> None:
    with node.client() as client:
        for n in range(3):
            _round(client, n)
    store = Store(node.db_url)
    with store.session() as session:
        rows = session.execute(
            text(
                "select onchain_batch_id, start_index, count, root, tx_hash, block_number from batches "
                "order by start_index"
            )
        ).all()
    store.close()
    stored = [(int(i), int(s), int(n), bytes(r), bytes(t), int(b)) for i, s, n, r, t, b in rows]
    chain = deployment.client()
    for span in (1, 2, 10_000):
        next_index, history = chain.batch_history(from_block=0, span=span)
        assert next_index == sum(n for _i, _s, n, *_ in stored) == 6
        got = [(c.batch_id, c.start_index, c.count, c.root, c.tx_hash, c.block_number) for c in history]
        assert got == stored, span
    # Starting after the first anchor leaves a hole the comparison reports instead of trusting.
    first_block = stored[0][5]
    next_index, late = chain.batch_history(from_block=first_block + 1, span=3)
    assert len(late) == len(stored) - 1
    found = compare_with_chain(
        [DatabaseBatch(s, n, r, "verified", n) for _i, s, n, r, _t, _b in stored], late, next_index
    )
    assert [(f.reason, f.log_from) for f in found] == [("chain_history_gap", 0)]
