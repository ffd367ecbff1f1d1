"""Usage, Prometheus metrics, request ids and logs over a full flow; no secret ever in a log line."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from node.dev.chain import DEV_ANCHORER_KEY
from node.observability.logs import JsonFormatter
from tests.conftest import Deployment, RunningNode, start_node, wait_for_status


@pytest.fixture
def captured_logs() -> Iterator[io.StringIO]:
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield buffer
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


@pytest.fixture
def priced_node(deployment: Deployment, tmp_path: Path, captured_logs: io.StringIO) -> Iterator[RunningNode]:
    node = start_node(deployment, tmp_path, native_price=Decimal("3000"), fiat_currency="EUR")
    yield node
    node.stop()


def test_full_flow_usage_metrics_request_ids_and_no_secrets_in_logs(
    priced_node: RunningNode, captured_logs: io.StringIO
) -> None:
    node = priced_node
    secrets_seen = [node.token, DEV_ANCHORER_KEY, DEV_ANCHORER_KEY.removeprefix("0x")]
    with node.client() as admin:
        writer = admin.post("/v1/keys", json={"name": "billing", "scopes": ["write", "read"]}).json()
        customer = admin.post("/v1/keys", json={"name": "cust", "scopes": ["read"], "customerId": "c1"}).json()
        secrets_seen += [writer["secret"], customer["secret"]]
        rotated = admin.post(f"/v1/keys/{customer['id']}/rotate", json={"graceSeconds": 0}).json()
        secrets_seen.append(rotated["secret"])

        with node.client(writer["secret"]) as billing:
            receipts = []
            for i in range(3):
                response = billing.post(
                    "/v1/balance/delta",
                    json={"customerId": "c1", "delta": 10 + i, "reason": "usage", "referenceId": f"u{i}"},
                    headers={"X-Request-Id": f"client-{i}"},
                )
                assert response.headers["x-request-id"] == f"client-{i}"
                receipts.append(response.json()["receiptId"])
            assert billing.post("/v1/balance/delta", json={"customerId": "c1"}).status_code == 422
            for receipt in receipts:
                wait_for_status(billing, receipt, "verified")
            billing.get(f"/v1/receipts/{receipts[0]}/proof")
        generated = admin.get("/v1/keys").headers["x-request-id"]
        assert re.fullmatch(r"req_[0-9a-f]{16}", generated)

        today = datetime.now(UTC).date().isoformat()
        usage = admin.get("/v1/usage", params={"from": today, "to": today}).json()

    day = usage["days"][0]
    assert day["date"] == today and usage["currency"] == "EUR"
    assert day["deltasRecorded"] == 3 and day["deltasRecordedByKey"] == {writer["id"]: 3}
    assert day["deltasVerified"] == 3 and day["batchesAnchored"] >= 1 and day["gasUsed"] > 0
    assert int(day["costWei"]) > 0
    per_delta_wei = int(day["costPerVerifiedDeltaWei"])
    assert per_delta_wei > 0 and Decimal(day["costPerVerifiedDeltaFiat"]) > 0
    by_route = {(r["keyId"], r["method"], r["route"], r["statusClass"]): r["count"] for r in day["requests"]}
    assert by_route[(writer["id"], "POST", "/v1/balance/delta", "2xx")] == 3
    assert by_route[(writer["id"], "POST", "/v1/balance/delta", "4xx")] == 1
    assert by_route[(writer["id"], "GET", "/v1/receipts/{receipt_id}/proof", "2xx")] == 1

    metrics = httpx.get(node.base_url + "/metrics").text
    assert 'pacspace_http_requests_total{method="POST",route="/v1/balance/delta",status_class="2xx"} 3.0' in metrics
    assert "pacspace_http_request_duration_seconds_bucket" in metrics
    assert re.search(r"^pacspace_deltas_pending 0\.0$", metrics, re.M)
    assert re.search(r"^pacspace_anchoring_lag_seconds 0\.0$", metrics, re.M)
    assert re.search(r"^pacspace_last_anchored_block [1-9]", metrics, re.M)
    assert re.search(r"^pacspace_gas_spent [1-9]", metrics, re.M)
    assert re.search(r"^pacspace_deltas_recorded_total 3\.0$", metrics, re.M)
    assert re.search(r"^pacspace_anchor_gas_used_total [1-9]", metrics, re.M)

    text = captured_logs.getvalue()
    lines = [json.loads(line) for line in text.splitlines()]
    access = [entry for entry in lines if entry["logger"] == "pacspace.access"]
    assert {entry["request_id"] for entry in access} >= {"client-0", "client-1", "client-2", generated}
    assert all("route" in entry and "status" in entry for entry in access)
    for secret in secrets_seen:
        assert secret not in text, "a secret reached the logs"
        match = re.fullmatch(r"sk_(?:live|test)_[0-9a-f]{16}_(.{43})", secret)
        if match:
            assert match.group(1) not in text, "an API key's secret part reached the logs"
