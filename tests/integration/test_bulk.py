"""POST /v1/balance/deltas on a real node, on SQLite and PostgreSQL: per-item results, idempotency, chain order,
limits."""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from node.core.hashing import from_hex
from node.core.signing import recover_signer
from tests.conftest import BOTH_BACKENDS, RunningNode
from tests.support import sql

pytestmark = BOTH_BACKENDS


def _item(ref: str, customer: str = "cust_bulk", delta: int = 10, **extra: Any) -> dict[str, Any]:
    return {"customerId": customer, "delta": delta, "reason": "usage", "referenceId": ref, **extra}


def _rows(node: RunningNode) -> list[tuple[str, int, str, bytes, bytes]]:
    rows = sql(
        node.db_url,
        "select customer_id, customer_index, reference_id, fingerprint, prev_fingerprint from deltas order by id",
    )
    return [(c, int(i), r, bytes(f), bytes(p)) for c, i, r, f, p in rows]


def test_each_item_gets_its_own_result_in_order(node: RunningNode) -> None:
    with node.client() as client:
        first = client.post("/v1/balance/delta", json=_item("already", delta=5)).json()
        response = client.post(
            "/v1/balance/deltas",
            json={
                "deltas": [
                    _item("a"),
                    _item("b", delta=0),  # invalid: zero
                    _item("already", delta=5),  # a retry of a recorded delta
                    _item("already", delta=6),  # the same reference with another payload
                    _item("c", customer="other", metadata={"price": 1.5}),  # invalid: float in metadata
                    "not an object",
                    _item("a"),  # duplicate inside the request: a replay of item 0
                    _item("a", delta=11),  # duplicate with another payload: conflict
                    _item("d", surprise=1),
                ]
            },
        )
    assert response.status_code == 200, response.text
    body = response.json()
    statuses = [r["status"] for r in body["results"]]
    assert statuses == [201, 422, 200, 409, 422, 422, 200, 409, 422]
    assert (body["created"], body["replayed"], body["failed"]) == (1, 2, 6)
    results = body["results"]
    assert results[2]["receipt"]["receiptId"] == first["receiptId"]
    assert results[3]["problem"]["code"] == "reference_conflict"
    assert results[3]["problem"]["receiptId"] == first["receiptId"]
    assert results[6]["receipt"]["receiptId"] == results[0]["receipt"]["receiptId"]
    assert results[7]["problem"]["receiptId"] == results[0]["receipt"]["receiptId"]
    fields = {i: [e["field"] for e in results[i]["problem"]["errors"]] for i in (1, 4, 5, 8)}
    assert fields == {
        1: ["deltas[1].delta"],
        4: ["deltas[4].metadata.price"],
        5: ["deltas[5]"],
        8: ["deltas[8].surprise"],
    }
    assert all(r["problem"]["type"].startswith("https://") for r in results if r.get("problem"))
    assert [(c, i, ref) for c, i, ref, _fp, _prev in _rows(node)] == [
        ("cust_bulk", 0, "already"),
        ("cust_bulk", 1, "a"),
    ]


def test_items_extend_each_customers_chain_in_request_order(node: RunningNode) -> None:
    items = [_item(f"r{i}", customer=f"c{i % 3}", delta=i + 1) for i in range(60)]
    with node.client() as client:
        response = client.post("/v1/balance/deltas", json={"deltas": items})
    receipts = [r["receipt"] for r in response.json()["results"]]
    assert [r["referenceId"] for r in receipts] == [f"r{i}" for i in range(60)]
    assert [r["customerIndex"] for r in receipts] == [i // 3 for i in range(60)]
    signer = from_hex(receipts[0]["signer"])
    by_customer: dict[str, list[dict[str, Any]]] = {}
    for receipt in receipts:
        by_customer.setdefault(receipt["customerId"], []).append(receipt)
        assert recover_signer(from_hex(receipt["fingerprint"]), from_hex(receipt["signature"])) == signer
    for chain in by_customer.values():
        assert chain[0]["prevFingerprint"] == "0x" + "00" * 32
        assert all(b["prevFingerprint"] == a["fingerprint"] for a, b in itertools.pairwise(chain))
    stored = {ref: (index, "0x" + fp.hex()) for _c, index, ref, fp, _prev in _rows(node)}
    assert all(stored[r["referenceId"]] == (r["customerIndex"], r["fingerprint"]) for r in receipts)


def test_a_retried_bulk_request_records_nothing_twice(node: RunningNode) -> None:
    body = {"deltas": [_item(f"retry{i}", customer=f"c{i % 4}") for i in range(200)]}

    def post(_i: int) -> list[tuple[int, str]]:
        with node.client() as client:
            response = client.post("/v1/balance/deltas", json=body, headers={"Idempotency-Key": "batch-7"})
            assert response.status_code == 200, response.text
            assert response.headers["idempotency-key"] == "batch-7"
            return [(r["status"], r["receipt"]["receiptId"]) for r in response.json()["results"]]

    with ThreadPoolExecutor(max_workers=6) as pool:
        attempts = list(pool.map(post, range(6)))
    for position in range(200):
        outcomes = [attempt[position] for attempt in attempts]
        assert sorted(status for status, _ in outcomes) == [200] * 5 + [201]
        assert len({receipt for _, receipt in outcomes}) == 1
    rows = _rows(node)
    assert len(rows) == 200
    for customer in ("c0", "c1", "c2", "c3"):
        assert sorted(i for c, i, *_ in rows if c == customer) == list(range(50))


def test_limits_refuse_the_whole_request_and_store_nothing(node: RunningNode) -> None:
    with node.client() as client:
        too_many = client.post("/v1/balance/deltas", json={"deltas": [_item(f"x{i}") for i in range(1001)]})
        empty = client.post("/v1/balance/deltas", json={"deltas": []})
        not_a_list = client.post("/v1/balance/deltas", json={"deltas": {"a": 1}})
        huge = client.post(
            "/v1/balance/deltas",
            json={"deltas": [_item(f"y{i}", reason="r" * 500) for i in range(1000)]} | {"pad": "x" * 4_200_000},
        )
        bad_key = client.post("/v1/balance/deltas", json={"deltas": [_item("z")]}, headers={"Idempotency-Key": ""})
    assert too_many.status_code == 422
    assert [e["field"] for e in too_many.json()["errors"]] == ["deltas"]
    assert "1000" in too_many.json()["errors"][0]["message"]
    assert empty.status_code == 422 and not_a_list.status_code == 422
    assert huge.status_code == 413 and huge.json()["code"] == "payload_too_large"
    assert bad_key.status_code == 422
    assert _rows(node) == []


def test_a_read_key_cannot_record_in_bulk(node: RunningNode) -> None:
    from tests.conftest import create_key

    reader = create_key(node.db_url, scope="read")
    with node.client(reader) as client:
        response = client.post("/v1/balance/deltas", json={"deltas": [_item("r")]})
    assert response.status_code == 403 and response.json()["code"] == "forbidden"
    assert _rows(node) == []


def test_the_python_client_records_in_bulk_with_typed_outcomes(node: RunningNode) -> None:
    from node.client import ConflictError, PacSpaceClient, ValidationError

    with PacSpaceClient(node.base_url, node.token) as client:
        first = client.balance.delta(customer_id="cust_py", delta=3, reason="usage", reference_id="py0")
        outcomes = client.balance.deltas(
            [
                {"customer_id": "cust_py", "delta": 4, "reason": "usage", "reference_id": "py1", "metadata": {"a": 1}},
                {"customer_id": "cust_py", "delta": 3, "reason": "usage", "reference_id": "py0"},
                {"customer_id": "cust_py", "delta": 9, "reason": "usage", "reference_id": "py0"},
                {"customer_id": "cust_py", "delta": 0, "reason": "usage", "reference_id": "py2"},
            ]
        )
    assert [o.status for o in outcomes] == [201, 200, 409, 422]
    assert outcomes[0].receipt is not None and outcomes[0].receipt.customer_index == 1
    assert outcomes[1].receipt is not None and outcomes[1].receipt.receipt_id == first.receipt_id
    assert isinstance(outcomes[2].error, ConflictError) and outcomes[2].error.receipt_id == first.receipt_id
    assert isinstance(outcomes[3].error, ValidationError)
    assert outcomes[3].error.errors == [("deltas[3].delta", "must not be zero")]


def test_int256_extremes_and_non_ascii_text_come_back_exactly(node: RunningNode) -> None:
    # Integers beyond 64 bits take the encoder's fallback path; the others its fast path.
    items = [
        _item("big_max", delta=2**255 - 1),
        _item("big_min", customer="cust_ünï", delta=-(2**255)),
        _item("small", customer="cust_ünï", delta=-(2**63)),
    ]
    with node.client() as client:
        response = client.post("/v1/balance/deltas", json={"deltas": items})
        small_only = client.post(
            "/v1/balance/deltas", json={"deltas": [_item("small", customer="cust_ünï", delta=-(2**63))]}
        )
    assert response.status_code == 200, response.text
    receipts = [r["receipt"] for r in response.json()["results"]]
    assert [r["delta"] for r in receipts] == [2**255 - 1, -(2**255), -(2**63)]
    assert [r["customerId"] for r in receipts] == ["cust_bulk", "cust_ünï", "cust_ünï"]
    assert small_only.status_code == 200, small_only.text
    replay = small_only.json()["results"][0]
    assert replay["status"] == 200
    assert replay["receipt"] == receipts[2]
