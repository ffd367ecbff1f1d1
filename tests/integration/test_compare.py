"""Compare against the record: match, evidence, tolerance and settlement, CSV, bad input."""

from __future__ import annotations

import contextlib
import io
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import LOCAL_RECEIVERS, Deployment, RunningNode, create_key, start_node, wait_for_status
from tests.support import load_verifier

AMOUNTS = {"r0": 100, "r1": -30, "r2": 45, "r3": 7}


@pytest.fixture
def ledger(deployment: Deployment, tmp_path: Path) -> Iterator[tuple[RunningNode, httpx.Client]]:
    """Four verified deltas of customer c, and one still pending (r4)."""
    node = start_node(deployment, tmp_path, run_anchorer=False, **LOCAL_RECEIVERS)
    services = node.services
    client = node.client()
    for ref, amount in AMOUNTS.items():
        client.post("/v1/balance/delta", json={"customerId": "c", "delta": amount, "reason": "u", "referenceId": ref})
    services.anchor.run_once()
    client.post("/v1/balance/delta", json={"customerId": "c", "delta": 1000, "reason": "u", "referenceId": "r4"})
    try:
        yield node, client
    finally:
        client.close()
        node.stop()


def _compare(client: httpx.Client, customer: str = "c", **body: Any) -> httpx.Response:
    return client.post("/v1/balance/compare", params={"customerId": customer}, json=body)


def _theirs(amounts: dict[str, int]) -> list[dict[str, Any]]:
    return [{"referenceId": r, "delta": a} for r, a in amounts.items()]


def _count(node: RunningNode) -> int:
    with sqlite3.connect(node.db_url.removeprefix("sqlite:///")) as conn:
        return int(conn.execute("select count(*) from comparisons").fetchone()[0])


def test_identical_views_match_and_pending_is_listed_apart(ledger: tuple[RunningNode, httpx.Client]) -> None:
    _node, client = ledger
    result = _compare(client, theirDeltas=_theirs({**AMOUNTS, "r4": 1000})).json()
    assert result["comparisonId"].startswith("cmp_")
    assert (result["recordBalance"], result["theirBalance"], result["variance"]) == (122, 122, 0)
    assert result["resolution"] == "match"
    evidence = result["evidence"]
    assert [p["referenceId"] for p in evidence["pending"]] == ["r4"]
    assert evidence["onlyInTheirs"] == [] and evidence["amountMismatch"] == [] and evidence["onlyInRecord"] == []
    assert evidence["counts"]["matched"] == 4


def test_differences_need_evidence_and_the_pack_proves_them(ledger: tuple[RunningNode, httpx.Client]) -> None:
    _node, client = ledger
    theirs = {"r0": 100, "r1": -35, "r3": 7, "x9": 12}  # r1 differs, r2 missing, x9 extra
    result = _compare(client, theirDeltas=_theirs(theirs)).json()
    assert result["resolution"] == "needs_evidence"
    assert result["variance"] == 84 - 122
    ev = result["evidence"]
    assert ev["onlyInTheirs"] == ["x9"]
    assert [i["referenceId"] for i in ev["onlyInRecord"]] == ["r2"]
    assert [(m["referenceId"], m["record"], m["theirs"]) for m in ev["amountMismatch"]] == [("r1", -30, -35)]
    fetched = client.get(f"/v1/comparisons/{result['comparisonId']}").json()
    assert fetched == result
    pack = client.get(f"/v1/comparisons/{result['comparisonId']}/evidence").json()
    assert pack["version"] == "pacspace.evidence.v2" and pack["evidence"]["limit"] == 1000
    assert sorted(b["receiptId"] for b in pack["bundles"]) == sorted(
        [ev["onlyInRecord"][0]["receiptId"], ev["amountMismatch"][0]["receiptId"]]
    )
    page = client.get(f"/v1/comparisons/{result['comparisonId']}/evidence", params={"format": "html"})
    assert page.headers["content-type"].startswith("text/html")
    assert "beyond tolerance" in page.text and "x9" in page.text and "-38" in page.text


def test_only_a_balance_lists_what_they_may_miss_newest_first(ledger: tuple[RunningNode, httpx.Client]) -> None:
    _node, client = ledger
    result = _compare(client, theirBalance=115).json()
    assert result["variance"] == -7 and result["resolution"] == "needs_evidence"
    assert [i["referenceId"] for i in result["evidence"]["onlyInRecord"]] == ["r3", "r2", "r1", "r0"]


def test_within_tolerance_settles_on_the_record_with_an_anchored_entry(
    ledger: tuple[RunningNode, httpx.Client],
) -> None:
    node, client = ledger
    assert client.put("/v1/settings", json={"tolerance": {"absolute": 5}}).json()["tolerance"]["absolute"] == 5
    settled = _compare(client, theirBalance=125).json()
    assert settled["resolution"] == "auto_settled" and settled["variance"] == 3
    receipt = client.get(f"/v1/receipts/{settled['settlementReceiptId']}").json()
    assert receipt["customerId"] == "pacspace:settlements:c" and receipt["delta"] == 3
    assert receipt["referenceId"] == settled["comparisonId"]
    stricter = _compare(client, theirBalance=125, tolerance={"absolute": 1}).json()
    assert stricter["resolution"] == "needs_evidence" and stricter["tolerance"]["absolute"] == 1
    bps = client.put("/v1/settings", json={"tolerance": {"basisPoints": 100}})  # 1% of 122 = 1.22
    assert bps.status_code == 200
    assert _compare(client, theirBalance=123).json()["resolution"] == "auto_settled"
    assert _compare(client, theirBalance=124).json()["resolution"] == "needs_evidence"

    node.services.anchor.run_once()
    proof = client.get(f"/v1/receipts/{settled['settlementReceiptId']}/proof")
    assert proof.status_code == 200 and proof.json()["typedData"]["message"]["delta"] == "3"
    # The customer's own balance is untouched by settlements (r4 is verified by now too).
    assert client.get("/v1/balance/derive", params={"customerId": "c"}).json()["balance"] == 122 + 1000


def test_csv_upload_gives_the_same_answer(ledger: tuple[RunningNode, httpx.Client]) -> None:
    _node, client = ledger
    body = "referenceId,delta\n" + "\n".join(f"{r},{a}" for r, a in {**AMOUNTS, "r1": -31}.items()) + "\n"
    response = client.post(
        "/v1/balance/compare", params={"customerId": "c"}, content=body.encode(), headers={"content-type": "text/csv"}
    )
    assert response.status_code == 201, response.text
    result = response.json()
    assert result["variance"] == -1 and [m["referenceId"] for m in result["evidence"]["amountMismatch"]] == ["r1"]


@pytest.mark.parametrize(
    ("kind", "payload", "status", "field"),
    [
        ("json", {"theirDeltas": [{"referenceId": "a", "delta": 1}, {"referenceId": "a", "delta": 2}]}, 422,
         "theirDeltas[1].referenceId"),
        ("json", {"theirDeltas": [{"referenceId": "a", "delta": 1.5}]}, 422, "theirDeltas[0].delta"),
        ("json", {"theirDeltas": [{"referenceId": "a", "delta": "1"}]}, 422, "theirDeltas[0].delta"),
        ("json", {}, 422, "theirDeltas"),
        ("json", {"theirDeltas": []}, 422, "theirDeltas"),
        ("json", {"customerId": "other", "theirBalance": 1}, 422, "customerId"),
        ("nobody", {"theirBalance": 1}, 404, None),
        ("csv", "referenceId,delta\nr0,100\nr1,abc\n", 422, "row 3"),
        ("csv", "r0,100\nr0,100\n", 422, "row[1].referenceId"),
        ("csv", "r0,100,extra\n", 422, "row 1"),
        ("csv", "referenceId,delta\n", 422, "body"),
        ("csv", "", 422, "body"),
    ],
)  # fmt: skip
def test_bad_input_names_the_row_and_stores_nothing(
    ledger: tuple[RunningNode, httpx.Client], kind: str, payload: Any, status: int, field: str | None
) -> None:
    node, client = ledger
    if kind == "json":
        response = _compare(client, **payload)
    elif kind == "nobody":
        response = _compare(client, "nobody", **payload)
    else:
        response = client.post(
            "/v1/balance/compare", params={"customerId": "c"}, content=payload.encode(),
            headers={"content-type": "text/csv"},
        )  # fmt: skip
    assert response.status_code == status, response.text
    if field is not None:
        assert field in {e["field"] for e in response.json()["errors"]}, response.json()
    assert _count(node) == 0


def test_the_customer_compares_with_its_own_key(ledger: tuple[RunningNode, httpx.Client]) -> None:
    node, _client = ledger
    own = create_key(node.db_url, scope="read", customer_id="c")
    other = create_key(node.db_url, scope="read", customer_id="d")
    with node.client(own) as customer:
        mine = _compare(customer, theirBalance=122)
        assert mine.status_code == 201 and mine.json()["resolution"] == "match"
        assert customer.get(f"/v1/comparisons/{mine.json()['comparisonId']}").status_code == 200
    with node.client(other) as stranger:
        assert _compare(stranger, theirBalance=1).status_code == 404
        assert stranger.get(f"/v1/comparisons/{mine.json()['comparisonId']}").status_code == 404


def test_settled_and_disputed_comparisons_queue_webhooks(ledger: tuple[RunningNode, httpx.Client]) -> None:
    node, client = ledger
    hook = client.post(
        "/v1/webhooks", json={"url": "http://127.0.0.1:9/x", "events": ["compare.settled", "compare.disputed"]}
    ).json()
    client.put("/v1/settings", json={"tolerance": {"absolute": 5}})
    _compare(client, theirBalance=125)
    _compare(client, theirBalance=500)
    events = [d["event"] for d in client.get(f"/v1/webhooks/{hook['id']}/deliveries").json()["deliveries"]]
    assert sorted(events) == ["compare.disputed", "compare.settled"]
    del node


def test_a_customer_with_verified_deltas_only_waits_for_nothing(node: RunningNode) -> None:
    with node.client() as client:
        receipt = client.post(
            "/v1/balance/delta", json={"customerId": "z", "delta": 5, "reason": "u", "referenceId": "z0"}
        ).json()
        wait_for_status(client, receipt["receiptId"], "verified")
        assert _compare(client, "z", theirBalance=5).json()["resolution"] == "match"


def test_the_verifier_checks_a_real_evidence_pack(
    ledger: tuple[RunningNode, httpx.Client], deployment: Deployment, tmp_path: Path
) -> None:
    _node, client = ledger
    result = _compare(client, theirDeltas=_theirs({"r0": 100, "r1": -35, "x9": 12})).json()
    pack = tmp_path / "pack.json"
    pack.write_text(client.get(f"/v1/comparisons/{result['comparisonId']}/evidence").text)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = load_verifier().main(["evidence", str(pack), "--rpc", deployment.rpc_url, "--json"])
    assert code == 0, out.getvalue()
    data = json.loads(pack.read_text())
    data["evidence"]["amountMismatch"][0]["record"] = -31  # the pack now lies about the record
    pack.write_text(json.dumps(data))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = load_verifier().main(["evidence", str(pack), "--rpc", deployment.rpc_url, "--json"])
    report = json.loads(out.getvalue())
    assert code == 1 and "items" in {c["name"] for c in report["checks"] if not c["ok"]}
