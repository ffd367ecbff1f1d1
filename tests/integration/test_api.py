"""The HTTP API of a real node (uvicorn on a loopback port) against a real Anvil, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from node.app import create_app
from node.chain.errors import ChainMismatch
from node.core.hashing import from_hex
from tests.conftest import (
    BOTH_BACKENDS,
    Deployment,
    RunningNode,
    create_key,
    node_settings,
    start_node,
    wait_for_status,
)
from tests.support import sql, wait_until

pytestmark = BOTH_BACKENDS


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(depth):
        value = {"a": value}
    return value


EXAMPLE = {"customerId": "cust_12345", "delta": -1000, "reason": "Monthly usage charge", "referenceId": "req_abc123"}


def _count_deltas(node: RunningNode) -> int:
    return int(sql(node.db_url, "select count(*) from deltas")[0][0])


def test_record_then_anchored_then_verified_with_a_proof(node: RunningNode, deployment: Deployment) -> None:
    with node.client() as client:
        response = client.post("/v1/balance/delta", json={**EXAMPLE, "metadata": {"plan": "pro"}})
        assert response.status_code == 201, response.text
        receipt = response.json()
        assert receipt["receiptId"].startswith("rcpt_")
        assert receipt["status"] == "pending"
        assert receipt["customerIndex"] == 0
        assert receipt["prevFingerprint"] == "0x" + "00" * 32
        assert len(from_hex(receipt["fingerprint"])) == 32 and len(from_hex(receipt["signature"])) == 65
        assert response.headers["location"] == f"/v1/receipts/{receipt['receiptId']}"

        verified = wait_for_status(client, receipt["receiptId"], "verified")
        assert verified["logIndex"] == 0 and verified["batchId"] == 0
        assert verified["blockNumber"] and verified["txHash"] and verified["confirmations"] >= 1  # type: ignore[operator]

        bundle_response = client.get(f"/v1/receipts/{receipt['receiptId']}/proof")
        assert bundle_response.headers["content-type"].startswith(
            "application/vnd.pacspace.proof.v2+json"
        )  # a v2 contract issues v2
        bundle = bundle_response.json()
    assert bundle["version"] == "pacspace.proof.v2"
    assert bundle["typedData"]["primaryType"] == "Delta"
    assert bundle["typedData"]["message"]["delta"] == "-1000"
    assert bundle["metadata"] == '{"plan":"pro"}'
    assert bundle["fingerprint"] == receipt["fingerprint"]
    assert bundle["contract"] == deployment.address and bundle["chainId"] == 31337
    assert set(bundle["batch"]) == {"id", "root", "startIndex", "count", "txHash", "blockNumber", "blockHash"}
    chain = deployment.client()
    assert chain.verify_on_chain(
        start_index=bundle["batch"]["startIndex"],
        count=bundle["batch"]["count"],
        root=from_hex(bundle["batch"]["root"]),
        log_index=bundle["logIndex"],
        fingerprint=from_hex(bundle["fingerprint"]),
        proof=[from_hex(p) for p in bundle["proof"]],
    )


def test_retry_returns_the_first_receipt_and_a_changed_payload_conflicts(node: RunningNode) -> None:
    with node.client() as client:
        first = client.post("/v1/balance/delta", json=EXAMPLE)
        again = client.post("/v1/balance/delta", json=EXAMPLE, headers={"Idempotency-Key": str(EXAMPLE["referenceId"])})
        changed = client.post("/v1/balance/delta", json={**EXAMPLE, "delta": -999})
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["receiptId"] == first.json()["receiptId"]
    assert again.json()["fingerprint"] == first.json()["fingerprint"]
    assert changed.status_code == 409
    problem = changed.json()
    assert problem["code"] == "reference_conflict" and problem["receiptId"] == first.json()["receiptId"]
    assert first.json()["receiptId"] in problem["detail"]
    assert _count_deltas(node) == 1


@pytest.mark.parametrize(
    ("body", "field", "fragment"),
    [
        ({**EXAMPLE, "delta": 10.0}, "delta", "integer"),
        ({**EXAMPLE, "delta": 10.5}, "delta", "integer"),
        ({**EXAMPLE, "delta": "1000"}, "delta", "integer"),
        ({**EXAMPLE, "delta": True}, "delta", "integer"),
        ({**EXAMPLE, "delta": 0}, "delta", "zero"),
        ({**EXAMPLE, "delta": 2**255}, "delta", f"less than or equal to {2**255 - 1}"),  # int256 max
        ({**EXAMPLE, "customerId": ""}, "customerId", "at least 1 character"),
        ({**EXAMPLE, "customerId": 12345}, "customerId", "valid string"),
        ({**EXAMPLE, "reason": "x" * 513}, "reason", "at most 512 characters"),
        ({**EXAMPLE, "referenceId": "bad\u0007id"}, "referenceId", "control"),
        ({k: v for k, v in EXAMPLE.items() if k != "reason"}, "reason", "required"),
        ({**EXAMPLE, "surprise": 1}, "surprise", "unknown"),
        ({**EXAMPLE, "metadata": {"price": 1.25}}, "metadata.price", "floats"),
        ({**EXAMPLE, "metadata": [1, 2]}, "metadata", "valid dictionary"),
        ({**EXAMPLE, "metadata": _nested(40)}, "metadata" + ".a" * 17, "nested deeper than 16"),
        ({**EXAMPLE, "customerId": "cust\u0000"}, "customerId", "control"),
        ({**EXAMPLE, "reason": "tab\there"}, "reason", "control"),
    ],
)
def test_bad_input_is_422_naming_the_field_and_stores_nothing(
    node: RunningNode, body: dict[str, Any], field: str, fragment: str
) -> None:
    with node.client() as client:
        response = client.post("/v1/balance/delta", json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert {"type", "title", "status", "code", "detail", "errors"} <= set(problem)
    messages = {e["field"]: e["message"] for e in problem["errors"]}
    assert field in messages, problem
    assert fragment and fragment in messages[field], messages[field]
    assert _count_deltas(node) == 0


def test_unicode_ids_are_kept_exactly(node: RunningNode) -> None:
    customer = "客户-🙂-עברית-\u00e9-\u1e9b\u0323"  # CJK, emoji, a right-to-left script, composed accents (NFC)
    with node.client() as client:
        created = client.post("/v1/balance/delta", json={**EXAMPLE, "customerId": customer, "referenceId": "ü-1"})
        assert created.status_code == 201, created.text
        assert created.json()["customerId"] == customer and created.json()["referenceId"] == "ü-1"
        derived = client.get("/v1/balance/derive", params={"customerId": customer}).json()
    assert derived["balance"] + derived["pendingBalance"] == -1000


def test_int256_limits_round_trip_exactly(node: RunningNode) -> None:
    with node.client() as client:
        for i, value in enumerate((2**255 - 1, -(2**255))):
            response = client.post("/v1/balance/delta", json={**EXAMPLE, "referenceId": f"edge{i}", "delta": value})
            assert response.status_code == 201, response.text
            assert json.loads(response.text)["delta"] == value


def test_malformed_json_wrong_type_and_oversized_bodies(node: RunningNode) -> None:
    with node.client() as client:
        malformed = client.post(
            "/v1/balance/delta", content=b'{"customerId": ', headers={"content-type": "application/json"}
        )
        wrong_type = client.post("/v1/balance/delta", content=b"customerId=x", headers={"content-type": "text/plain"})
        huge = client.post("/v1/balance/delta", json={**EXAMPLE, "metadata": {"blob": "x" * 100_000}})
    assert malformed.status_code == 400 and malformed.json()["code"] == "malformed_json"
    assert wrong_type.status_code == 415 and wrong_type.json()["code"] == "unsupported_media_type"
    assert huge.status_code == 413 and huge.json()["code"] == "payload_too_large"
    assert _count_deltas(node) == 0


def test_authentication_and_scopes(node: RunningNode) -> None:
    read_only = create_key(node.db_url, scope="read")
    cases = {
        "none": httpx.post(node.base_url + "/v1/balance/delta", json=EXAMPLE),
        "malformed": httpx.post(
            node.base_url + "/v1/balance/delta", json=EXAMPLE, headers={"Authorization": "Bearer nope"}
        ),
        "unknown": httpx.post(
            node.base_url + "/v1/balance/delta",
            json=EXAMPLE,
            headers={"Authorization": "Bearer sk_test_0123456789abcdef_" + "A" * 43},
        ),
        "wrong secret": httpx.post(
            node.base_url + "/v1/balance/delta",
            json=EXAMPLE,
            headers={"Authorization": "Bearer " + node.token[:-4] + "AAAA"},
        ),
    }
    for name, response in cases.items():
        assert response.status_code == 401, name
        assert response.json()["code"] == "unauthenticated", name
    with node.client(read_only) as client:
        forbidden = client.post("/v1/balance/delta", json=EXAMPLE)
        missing = client.get("/v1/receipts/rcpt_000000000000000000000000")
    assert forbidden.status_code == 403 and forbidden.json()["code"] == "forbidden"
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    assert _count_deltas(node) == 0


def test_proof_of_a_pending_receipt_is_409(deployment: Deployment, tmp_path: Path, db_url: str) -> None:
    paused = start_node(deployment, tmp_path, db_url, run_anchorer=False)
    try:
        with paused.client() as client:
            receipt = client.post("/v1/balance/delta", json=EXAMPLE).json()
            response = client.get(f"/v1/receipts/{receipt['receiptId']}/proof")
        assert response.status_code == 409 and response.json()["code"] == "not_anchored"
    finally:
        paused.stop()


def test_concurrent_writers_for_one_customer_build_one_gap_free_chain(node: RunningNode) -> None:
    total = 200

    def post(i: int) -> dict[str, Any]:
        with node.client() as client:
            response = client.post("/v1/balance/delta", json={**EXAMPLE, "referenceId": f"c{i}", "delta": i + 1})
            assert response.status_code == 201, response.text
            return response.json()  # type: ignore[no-any-return]

    with ThreadPoolExecutor(max_workers=16) as pool:
        receipts = list(pool.map(post, range(total)))
    by_index = {r["customerIndex"]: r for r in receipts}
    assert sorted(by_index) == list(range(total)), "indexes must be 0..n-1 with no gap and no duplicate"
    for index in range(1, total):
        assert by_index[index]["prevFingerprint"] == by_index[index - 1]["fingerprint"]


def test_node_refuses_to_start_on_the_wrong_chain_or_contract(deployment: Deployment, db_url: str) -> None:
    for overrides, message in (
        ({"chain_id": 1337}, "RPC reports chain id 31337, but the node is configured for 1337"),
        ({"contract_address": "0x" + "12" * 20}, "no contract at"),
        ({"signer_key": "0x" + "07" * 32}, "is not an authorised anchorer"),
    ):
        with pytest.raises(ChainMismatch, match=message):
            create_app(node_settings(deployment, db_url, 0, **overrides))


def test_enough_waiting_deltas_trigger_anchoring_before_the_interval(
    deployment: Deployment, tmp_path: Path, db_url: str
) -> None:
    slow = start_node(deployment, tmp_path, db_url, anchor_interval_seconds=3600, anchor_trigger_pending=5)
    try:
        with slow.client() as client:
            # The start-up cycle has run: from now on only the trigger can anchor.
            anchor = slow.services.anchor
            wait_until(lambda: anchor.last_cycle_at is not None, "the start-up anchoring cycle never ran", 15)
            receipts = [
                client.post("/v1/balance/delta", json={**EXAMPLE, "referenceId": f"t{i}"}).json() for i in range(5)
            ]
            for receipt in receipts:
                wait_for_status(client, receipt["receiptId"], "verified", timeout=15)
    finally:
        slow.stop()
