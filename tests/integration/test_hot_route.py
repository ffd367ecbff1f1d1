"""POST /v1/balance/delta answers the same through node.api.hot as through the FastAPI route itself.

The same requests go to a node as it runs (valid requests take the lean path) and to a node whose lean
path hands every request to the route; statuses, problem bodies, receipts (apart from what is random
per delta), headers and the metrics' route label must all agree.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from node.api import hot
from node.dev.chain import Anvil
from tests.conftest import RunningNode, create_key, deploy_fresh, start_node

VALID = {"customerId": "cust_hot", "delta": 7, "reason": "usage", "referenceId": "hot_1"}
RANDOM_FIELDS = ("receiptId", "fingerprint", "signature", "prevFingerprint", "recordedAt")


def _requests(read_key: str) -> list[tuple[str, dict[str, Any]]]:
    """(name, httpx request arguments); run in order, on a fresh database."""
    return [
        ("no key", {"json": VALID, "headers": {"Authorization": ""}}),
        (
            "malformed JSON without a key",
            {"content": b"{", "headers": {"Authorization": "", "Content-Type": "application/json"}},
        ),
        ("invalid field without a key", {"json": {**VALID, "delta": "7"}, "headers": {"Authorization": ""}}),
        ("wrong key", {"json": VALID, "headers": {"Authorization": "Bearer pk_nope.nope"}}),
        ("read-only key", {"json": VALID, "headers": {"Authorization": f"Bearer {read_key}"}}),
        ("Idempotency-Key differs", {"json": VALID, "headers": {"Idempotency-Key": "other"}}),
        ("created", {"json": VALID, "headers": {"Idempotency-Key": "hot_1"}}),
        ("replay", {"json": VALID}),
        ("conflict", {"json": {**VALID, "delta": 8}}),
        ("correction of a missing receipt", {"json": {**VALID, "referenceId": "hot_2", "correctsReceiptId": "rcpt_x"}}),
        ("metadata", {"json": {**VALID, "referenceId": "hot_3", "metadata": {"b": [1, "ü"], "a": None}}}),
        ("float in metadata", {"json": {**VALID, "referenceId": "hot_4", "metadata": {"price": 1.5}}}),
        ("unknown field", {"json": {**VALID, "referenceId": "hot_5", "extra": 1}}),
        ("zero delta", {"json": {**VALID, "referenceId": "hot_6", "delta": 0}}),
        ("control character", {"json": {**VALID, "referenceId": "hot_7", "reason": "a\u0007"}}),
        ("array body", {"json": [VALID]}),
        ("empty body", {"content": b"", "headers": {"Content-Type": "application/json"}}),
        ("text body", {"content": b"hello", "headers": {"Content-Type": "text/plain"}}),
        ("int256 max", {"json": {**VALID, "referenceId": "hot_8", "delta": 2**255 - 1}}),
    ]


def _normalised(response: httpx.Response) -> dict[str, Any]:
    body: Any = response.json() if response.content else None
    if isinstance(body, dict):
        body = {k: ("<random>" if k in RANDOM_FIELDS else v) for k, v in body.items()}
        if isinstance(body.get("detail"), str):
            body["detail"] = re.sub(r"rcpt_[0-9a-f]+", "rcpt_<random>", body["detail"])
    headers = {
        name: re.sub(r"rcpt_[0-9a-f]+", "rcpt_<random>", response.headers[name])
        for name in ("content-type", "location", "retry-after")
        if name in response.headers
    }
    return {
        "status": response.status_code,
        "body": body,
        "headers": headers,
        "has_request_id": "x-request-id" in response.headers,
    }


def _run(node: RunningNode) -> dict[str, dict[str, Any]]:
    read_key = create_key(node.db_url, scope="read")
    answers: dict[str, dict[str, Any]] = {}
    with node.client() as client:
        for name, arguments in _requests(read_key):
            answers[name] = _normalised(client.post("/v1/balance/delta", **arguments))
        metrics = client.get("/metrics").text
    answers["metrics"] = {
        "lines": sorted(
            line.rsplit(" ", 1)[0]
            for line in metrics.splitlines()
            if line.startswith("pacspace_http_requests_total{") and 'route="/v1/balance/delta"' in line
        )
    }
    return answers


def test_the_lean_path_answers_exactly_as_the_route(
    anvil: Anvil, artifact: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken: list[bool] = []
    accepted = hot._accepted

    def counting(scope: Any, body: bytes) -> Any:
        result = accepted(scope, body)
        taken.append(result is not None)
        return result

    monkeypatch.setattr(hot, "_accepted", counting)
    lean = start_node(deploy_fresh(anvil.rpc_url, artifact), tmp_path / "lean")
    try:
        through_lean = _run(lean)
    finally:
        lean.stop()
    assert any(taken) and not all(taken), "the lean path took none or all of the requests"

    monkeypatch.setattr(hot, "_accepted", lambda _scope, _body: None)  # every request to the FastAPI route
    plain = start_node(deploy_fresh(anvil.rpc_url, artifact), tmp_path / "plain")
    try:
        through_route = _run(plain)
    finally:
        plain.stop()

    for name in through_route:
        assert through_lean[name] == through_route[name], name
    assert through_route["created"]["status"] == 201
    assert through_route["replay"]["status"] == 200
    assert through_route["no key"]["status"] == 401
    assert through_route["malformed JSON without a key"]["status"] == 400
    assert through_route["invalid field without a key"]["status"] == 401
