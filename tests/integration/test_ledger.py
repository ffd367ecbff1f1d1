"""Derive, verify=true against tampering, export, checkpoints, countersignatures and corrections."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account

from node.core.checkpoints import decode_proof_token
from node.core.hashing import from_hex
from tests.conftest import Deployment, RunningNode, start_node, wait_for_status

CUSTOMER_KEY = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a"  # Anvil account 2


def _record(client: httpx.Client, customer: str, amounts: list[int], prefix: str, **extra: Any) -> list[dict[str, Any]]:
    out = []
    for i, amount in enumerate(amounts):
        response = client.post(
            "/v1/balance/delta",
            json={"customerId": customer, "delta": amount, "reason": "usage", "referenceId": f"{prefix}{i}", **extra},
        )
        assert response.status_code == 201, response.text
        out.append(response.json())
    return out


def _settle(client: httpx.Client, receipts: list[dict[str, Any]]) -> None:
    for receipt in receipts:
        wait_for_status(client, receipt["receiptId"], "verified")


def _db(node: RunningNode) -> sqlite3.Connection:
    return sqlite3.connect(node.db_url.removeprefix("sqlite:///"))


def test_derive_counts_verified_deltas_exactly_across_int256(node: RunningNode) -> None:
    amounts = [2**255 - 1, 2**255 - 1, -(2**255), 7, -3]
    with node.client() as client:
        receipts = _record(client, "big", amounts, "big")
        _settle(client, receipts)
        derived = client.get("/v1/balance/derive", params={"customerId": "big"}).json()
        other = client.get("/v1/balance/derive", params={"customerId": "nobody"})
    assert derived["balance"] == sum(amounts)  # beyond int256 itself: exact, no floats
    assert derived["pendingBalance"] == 0 and derived["pendingCount"] == 0 and derived["verifiedCount"] == 5
    assert derived["headIndex"] == 4 and derived["headFingerprint"] == receipts[-1]["fingerprint"]
    assert derived["asOfLogIndex"] >= 4
    assert other.status_code == 404 and other.json()["code"] == "not_found"


def test_pending_deltas_count_apart(deployment: Deployment, tmp_path: Path) -> None:
    paused = start_node(deployment, tmp_path, run_anchorer=False)
    try:
        with paused.client() as client:
            _record(client, "c", [100, -30], "p")
            derived = client.get("/v1/balance/derive", params={"customerId": "c"}).json()
    finally:
        paused.stop()
    assert (derived["balance"], derived["pendingBalance"], derived["pendingCount"]) == (0, 70, 2)


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        ("update deltas set amount = '-1' where reference_id = 't1'", "fingerprint_mismatch"),
        ("update deltas set reason = 'edited' where reference_id = 't1'", "fingerprint_mismatch"),
        (
            "update deltas set signature = (select signature from deltas where reference_id = 't0') "
            "where reference_id = 't1'",
            "bad_signature",
        ),
        ("update deltas set running_total = '0' where reference_id = 't2'", "running_total_mismatch"),
        ("update deltas set customer_index = 9 where reference_id = 't2'", "index_gap"),
        ("update batches set root = zeroblob(32)", "root_mismatch"),
        ("update customer_balances set verified_balance = '1'", "balance_mismatch"),
    ],
)
def test_verify_true_catches_an_edited_database(node: RunningNode, sql: str, reason: str) -> None:
    with node.client() as client:
        receipts = _record(client, "t", [10, 20, 30], "t")
        _settle(client, receipts)
        clean = client.get("/v1/balance/derive", params={"customerId": "t", "verify": "true"}).json()
        assert clean["verification"] == {"verified": True, "checked": 3, "discrepancies": []}
        with _db(node) as conn:
            conn.execute(sql)
        report = client.get("/v1/balance/derive", params={"customerId": "t", "verify": "true"}).json()
    assert report["verification"]["verified"] is False
    reasons = {d["reason"] for d in report["verification"]["discrepancies"]}
    assert reason in reasons, report
    if reason == "fingerprint_mismatch":
        named = [d for d in report["verification"]["discrepancies"] if d["reason"] == reason]
        assert named[0]["receiptId"] == receipts[1]["receiptId"]


def test_export_streams_verified_bundles_in_index_order(node: RunningNode) -> None:
    with node.client() as client:
        receipts = _record(client, "e", [5, -2, 9, 4], "e")
        _settle(client, receipts)
        _record(client, "e", [1], "late")  # may still be pending: never exported before it is verified
        response = client.get("/v1/balance/export", params={"customerId": "e", "toIndex": 3})
        ranged = client.get("/v1/balance/export", params={"customerId": "e", "fromIndex": 1, "toIndex": 2})
    assert response.headers["content-type"].startswith("application/x-ndjson")
    bundles = [json.loads(line) for line in response.text.splitlines()]
    assert [int(b["typedData"]["message"]["customerIndex"]) for b in bundles] == [0, 1, 2, 3]
    assert [b["receiptId"] for b in bundles] == [r["receiptId"] for r in receipts]
    assert sum(int(b["typedData"]["message"]["delta"]) for b in bundles) == 16
    assert [json.loads(line)["receiptId"] for line in ranged.text.splitlines()] == [
        receipts[1]["receiptId"],
        receipts[2]["receiptId"],
    ]


def test_checkpoints_cover_verified_ranges_without_overlap(node: RunningNode) -> None:
    with node.client() as client:
        first = _record(client, "k", [100, -40, 15], "k")
        _settle(client, first)
        created = client.post("/v1/checkpoints", json={"customerId": "k"})
        assert created.status_code == 201, created.text
        cp = created.json()
        assert cp["checkpointId"].startswith("chk_")
        assert (cp["fromIndex"], cp["toIndex"], cp["count"]) == (0, 2, 3)
        assert (cp["openingBalance"], cp["net"], cp["closingBalance"]) == (0, 75, 75)
        assert cp["headFingerprint"] == first[-1]["fingerprint"]

        nothing = client.post("/v1/checkpoints", json={"customerId": "k"})
        assert nothing.status_code == 409 and nothing.json()["code"] == "nothing_to_checkpoint"
        overlap = client.post("/v1/checkpoints", json={"customerId": "k", "fromIndex": 2, "toIndex": 2})
        assert overlap.status_code == 409 and overlap.json()["code"] == "checkpoint_overlap"
        assert cp["checkpointId"] in overlap.json()["detail"]
        assert overlap.json()["checkpointId"] == cp["checkpointId"]

        second = _record(client, "k", [5, 6], "k2")
        _settle(client, second)
        later = client.post("/v1/checkpoints", json={"customerId": "k"}).json()
        assert (later["fromIndex"], later["toIndex"], later["openingBalance"], later["closingBalance"]) == (
            3,
            4,
            75,
            86,
        )

        fetched = client.get(f"/v1/checkpoints/{cp['checkpointId']}").json()
        listed = client.get("/v1/checkpoints", params={"customerId": "k"}).json()["checkpoints"]
        assert fetched == cp and [c["checkpointId"] for c in listed] == [cp["checkpointId"], later["checkpointId"]]
        bad_range = client.post("/v1/checkpoints", json={"customerId": "k", "fromIndex": 4, "toIndex": 3})
        assert bad_range.status_code == 422
    decoded = decode_proof_token(cp["proofToken"])
    assert decoded.checkpoint.closing_balance == 75 and decoded.countersignature is None
    assert decoded.checkpoint.range_root == from_hex(cp["rangeRoot"])


def test_checkpoint_by_period_and_refusal_of_unverified_ranges(deployment: Deployment, tmp_path: Path) -> None:
    paused = start_node(deployment, tmp_path, run_anchorer=False)
    try:
        with paused.client() as client:
            _record(client, "u", [1, 2], "u")
            refused = client.post("/v1/checkpoints", json={"customerId": "u", "fromIndex": 0, "toIndex": 1})
            assert refused.status_code == 409 and refused.json()["code"] == "range_not_verified"
            now = int(time.time())
            by_time = client.post("/v1/checkpoints", json={"customerId": "u", "from": now - 3600, "to": now + 5})
            assert by_time.status_code == 409 and by_time.json()["code"] == "range_not_verified"
            empty = client.post("/v1/checkpoints", json={"customerId": "u", "from": 0, "to": 10})
            assert empty.status_code == 409 and empty.json()["code"] == "empty_range"
            mixed = client.post("/v1/checkpoints", json={"customerId": "u", "fromIndex": 0, "from": 0})
            assert mixed.status_code == 422
    finally:
        paused.stop()


def test_customer_countersigns_a_checkpoint(node: RunningNode) -> None:
    customer = Account.from_key(CUSTOMER_KEY)
    with node.client() as client:
        receipts = _record(client, "cs", [50], "cs")
        _settle(client, receipts)
        cp = client.post("/v1/checkpoints", json={"customerId": "cs"}).json()
        signed = Account.sign_typed_data(CUSTOMER_KEY, full_message=cp["typedData"])
        response = client.post(
            f"/v1/checkpoints/{cp['checkpointId']}/countersign", json={"signature": "0x" + signed.signature.hex()}
        )
        assert response.status_code == 200, response.text
        countersigned = response.json()
        again = client.post(
            f"/v1/checkpoints/{cp['checkpointId']}/countersign", json={"signature": "0x" + signed.signature.hex()}
        )
        malformed = client.post(f"/v1/checkpoints/{cp['checkpointId']}/countersign", json={"signature": "0x12"})
    assert countersigned["countersigner"] == customer.address.lower()
    decoded = decode_proof_token(countersigned["proofToken"])
    assert decoded.countersignature == bytes(signed.signature)
    assert again.status_code == 409 and again.json()["code"] == "already_countersigned"
    assert malformed.status_code == 422


def test_corrections_link_to_the_original_of_the_same_customer(node: RunningNode) -> None:
    with node.client() as client:
        original = _record(client, "r1", [-500], "orig")[0]
        _record(client, "r2", [-1], "someone-else")
        correction = _record(client, "r1", [200], "fix", correctsReceiptId=original["receiptId"])[0]
        unknown = client.post(
            "/v1/balance/delta",
            json={
                "customerId": "r1",
                "delta": 1,
                "reason": "x",
                "referenceId": "bad1",
                "correctsReceiptId": "rcpt_nope",
            },
        )
        foreign = client.post(
            "/v1/balance/delta",
            json={
                "customerId": "r2", "delta": 1, "reason": "x", "referenceId": "bad2",
                "correctsReceiptId": original["receiptId"],
            },
        )  # fmt: skip
        _settle(client, [original, correction])
        bundle = client.get(f"/v1/receipts/{correction['receiptId']}/proof").json()
    assert correction["correctsReceiptId"] == original["receiptId"]
    assert correction["corrects"] == original["fingerprint"]
    assert bundle["typedData"]["message"]["corrects"] == original["fingerprint"]
    for refused in (unknown, foreign):
        assert refused.status_code == 422
        assert refused.json()["errors"][0]["field"] == "correctsReceiptId"
