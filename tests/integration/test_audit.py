"""`pacspace-node audit` over a real database and chain: clean, then after edits behind the node's back."""

from __future__ import annotations

import sqlite3

from tests.conftest import Deployment, RunningNode, run_audit, wait_for_status


def test_audit_is_clean_then_names_each_edit(node: RunningNode, deployment: Deployment) -> None:
    with node.client() as client:
        receipts = []
        for customer in ("a", "b"):
            for i in range(3):
                response = client.post(
                    "/v1/balance/delta",
                    json={"customerId": customer, "delta": i + 1, "reason": "u", "referenceId": f"{customer}{i}"},
                )
                receipts.append(response.json())
        for receipt in receipts:
            wait_for_status(client, receipt["receiptId"], "verified")
    node.stop()  # audit a database at rest

    code, report = run_audit(node.db_url, deployment)
    assert code == 0 and report["ok"] and report["deltas"] == 6 and report["customers"] == 2, report

    with sqlite3.connect(node.db_url.removeprefix("sqlite:///")) as conn:
        conn.execute("update deltas set amount = '99' where reference_id = 'b1'")
        conn.execute(
            "update batches set root = zeroblob(32) where start_index = (select min(start_index) from batches)"
        )
    code, report = run_audit(node.db_url, deployment)
    assert code == 1 and not report["ok"]
    customer_findings = report["customerFindings"]
    assert isinstance(customer_findings, dict)
    assert any(f["reason"] == "fingerprint_mismatch" and f["receiptId"] == receipts[4]["receiptId"]
               for f in customer_findings["default/b"])  # fmt: skip
    reasons = {f["reason"] for f in report["findings"]}
    assert {"root_mismatch", "not_on_chain"} <= reasons
