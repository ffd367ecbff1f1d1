"""Hostile input from the OpenAPI schema itself: every operation, generated requests, no 5xx ever."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err

from node.dev.chain import Anvil
from tests.conftest import RunningNode, deploy_fresh, start_node


@pytest.fixture(scope="module")
def running(anvil: Anvil, artifact: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningNode]:
    deployment = deploy_fresh(anvil.rpc_url, artifact)
    node = start_node(
        deployment, tmp_path_factory.mktemp("fuzz"), rate_limit_burst=1_000_000, auth_failure_burst=1_000_000
    )
    with node.client() as client:
        client.post("/v1/balance/delta", json={"customerId": "c1", "delta": 5, "reason": "r", "referenceId": "seed"})
    yield node
    node.stop()


def test_no_generated_request_makes_the_node_fail(running: RunningNode) -> None:
    """Requests generated from the served schema, for every operation: never a 5xx."""
    schema = schemathesis.openapi.from_url(running.base_url + "/openapi.json")
    operations = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()
        operations.append(result.ok())
    assert len(operations) >= 30
    headers = {"Authorization": f"Bearer {running.token}"}
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def hit(case: schemathesis.Case[Any]) -> None:  # as_strategy yields a bare Case
            case.call_and_validate(base_url=running.base_url, headers=headers, checks=[not_a_server_error])

        hit()
    metrics = httpx.get(running.base_url + "/metrics").text
    served = sum(float(v) for v in re.findall(r"^pacspace_http_requests_total\{.*\} ([0-9.]+)$", metrics, re.M))
    assert served >= 10 * len(operations), "the fuzzer must actually have sent requests"
    assert 'status_class="5xx"' not in metrics
