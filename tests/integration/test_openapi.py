"""/openapi.json is a document a client generator can use, checked on a real node: every operation has a
summary, a description and an example, a typed schema for each success answer and problem+json for each
error, the bearer scheme where a key is needed; int256 amounts are integers of format int256, never float
bounds; the examples match their schemas; the docs' files are served by the node. Then a standard generator
(openapi-python-client) builds a client from it, and one authenticated call is made with that client."""

from __future__ import annotations

import importlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import BaseModel, ValidationError

from node.api.openapi import OPERATIONS
from node.api.schemas import CompareBody, DeltaCreate
from node.dev.chain import Anvil
from tests.conftest import LOCAL_RECEIVERS, RunningNode, deploy_fresh, start_node

HTTP_METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture(scope="module")
def api_node(anvil: Anvil, artifact: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningNode]:
    running = start_node(deploy_fresh(anvil.rpc_url, artifact), tmp_path_factory.mktemp("openapi"), **LOCAL_RECEIVERS)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def spec(api_node: RunningNode) -> dict[str, Any]:
    answer = httpx.get(api_node.base_url + "/openapi.json")
    assert answer.status_code == 200
    document: dict[str, Any] = answer.json()
    return document


def _operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield method, path, operation


def test_every_operation_is_documented_typed_and_secured(spec: dict[str, Any]) -> None:
    problems: list[str] = []
    for method, path, op in _operations(spec):
        where = f"{method.upper()} {path}"
        if (method, path) not in OPERATIONS:
            problems.append(f"{where}: not in node.api.openapi.OPERATIONS")
        if not op.get("summary") or not op.get("description"):
            problems.append(f"{where}: summary or description missing")
        has_example = any("example" in c for r in op["responses"].values() for c in r.get("content", {}).values())
        has_example |= any("example" in c for c in op.get("requestBody", {}).get("content", {}).values())
        if not has_example and not all(s == "204" for s in op["responses"] if s.startswith("2")):
            problems.append(f"{where}: no example")
        if path != "/healthz" and op.get("security") != [{"bearerAuth": []}]:
            problems.append(f"{where}: no bearer security")
        for status, response in op["responses"].items():
            content = response.get("content", {})
            if status.startswith("2"):
                if status != "204" and not content:
                    problems.append(f"{where} {status}: no content")
                for media, body in content.items():
                    schema = body.get("schema", {})
                    refs = [s for s in schema.get("oneOf", [schema]) if "$ref" in s]
                    if media == "application/json" and not refs:
                        problems.append(f"{where} {status}: untyped JSON answer {schema}")
            else:
                ref = content.get("application/problem+json", {}).get("schema", {}).get("$ref")
                if ref != "#/components/schemas/Problem" or list(content) != ["application/problem+json"]:
                    problems.append(f"{where} {status}: not problem+json")
        if (
            method in ("post", "put", "patch")
            and "requestBody" not in op
            and not path.endswith(("/test", "/redeliver", "/rotate", "/rotate-secret"))
        ):
            problems.append(f"{where}: no request body schema")
    assert problems == []
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "API key",
        "description": spec["components"]["securitySchemes"]["bearerAuth"]["description"],
    }


def test_raw_bodies_are_declared_and_int256_is_not_a_float(spec: dict[str, Any]) -> None:
    compare = spec["paths"]["/v1/balance/compare"]["post"]["requestBody"]["content"]
    assert compare["application/json"]["schema"] == {"$ref": "#/components/schemas/CompareBody"}
    assert "text/csv" in compare
    text = json.dumps(spec)
    assert not re.search(r"\d[eE][+-]?\d{2}", text), "a number in exponent form"
    delta = spec["components"]["schemas"]["DeltaCreate"]["properties"]["delta"]
    assert delta["type"] == "integer" and delta["format"] == "int256" and "maximum" not in delta
    assert spec["components"]["schemas"]["Balance"]["properties"]["balance"]["format"] == "int256"


def test_every_example_matches_its_model(spec: dict[str, Any]) -> None:
    models: dict[str, type[BaseModel]] = {
        m.__name__: m for doc in OPERATIONS.values() for m in doc.answers.values() if not isinstance(m, str)
    }
    models |= {"CompareBody": CompareBody, "DeltaCreate": DeltaCreate}
    failures = []
    checked = 0
    for method, path, op in _operations(spec):
        bodies = [("request", c) for c in op.get("requestBody", {}).get("content", {}).values()]
        bodies += [(s, c) for s, r in op["responses"].items() for c in r.get("content", {}).values()]
        for where, body in bodies:
            name = body.get("schema", {}).get("$ref", "").rpartition("/")[2]
            if "example" not in body or name not in models:
                continue
            checked += 1
            try:
                models[name].model_validate(body["example"], strict=False)
            except ValidationError as exc:
                failures.append(f"{method.upper()} {path} {where}: {exc}")
    assert failures == []
    assert checked >= 30


def test_a_generated_client_makes_a_call(spec: dict[str, Any], api_node: RunningNode, tmp_path: Path) -> None:
    (tmp_path / "openapi.json").write_text(json.dumps(spec))
    generator = Path(sys.executable).with_name("openapi-python-client")
    made = subprocess.run(
        [str(generator), "generate", "--path", "openapi.json", "--output-path", "generated", "--meta", "none"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PATH": f"{generator.parent}:{os.environ.get('PATH', '')}"},  # it formats with ruff
    )
    output = made.stdout + made.stderr
    assert made.returncode == 0, output
    # The generator has no type for two media types the API rightly uses; nothing else may be skipped.
    warnings = re.findall(r"WARNING parsing (\S+ \S+)", output)
    assert sorted(warnings) == ["GET /v1/balance/export", "POST /v1/balance/compare"], output
    assert "application/x-ndjson" in output and "text/csv" in output
    sys.path.insert(0, str(tmp_path))
    try:
        package = importlib.import_module("generated")
        me = importlib.import_module("generated.api.default.me_v1_me_get")
    finally:
        sys.path.remove(str(tmp_path))
    client = package.AuthenticatedClient(base_url=api_node.base_url, token=api_node.token)
    answer = me.sync(client=client)
    assert answer is not None and answer.tenant == "default" and answer.scopes == ["admin"]


def _same_shape(model: type[BaseModel], answer: Any) -> list[str]:
    """Where a real answer and its documented model differ: validation errors, and keys either side lacks."""
    try:
        model.model_validate(answer)
    except ValidationError as exc:
        return [str(exc)]
    documented = {f.alias or name for name, f in model.model_fields.items()}
    required = {f.alias or name for name, f in model.model_fields.items() if f.is_required()}
    found = [f"{model.__name__} answer lacks {k}" for k in required - set(answer)]
    if model.model_config.get("extra") != "allow":
        found += [f"{model.__name__} does not document {k}" for k in set(answer) - documented]
    return sorted(found)


def test_real_answers_have_the_documented_shapes(api_node: RunningNode) -> None:
    from node.api import responses as r
    from node.api.schemas import ApiKeyCreated, Receipt
    from tests.conftest import wait_for_status

    with api_node.client() as api:
        receipt = api.post(
            "/v1/balance/delta", json={"customerId": "c1", "delta": 2**200, "reason": "r", "referenceId": "oa-1"}
        ).json()
        wait_for_status(api, receipt["receiptId"], "verified")
        hook = api.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/h", "events": ["delta.verified"]}).json()
        comparison = api.post(
            "/v1/balance/compare",
            params={"customerId": "c1"},
            json={"theirDeltas": [{"referenceId": "oa-1", "delta": 1}]},
        ).json()
        answers: list[tuple[type[BaseModel], Any]] = [
            (Receipt, receipt),
            (Receipt, api.get(f"/v1/receipts/{receipt['receiptId']}").json()),
            (r.ProofBundle, api.get(f"/v1/receipts/{receipt['receiptId']}/proof").json()),
            (r.Me, api.get("/v1/me").json()),
            (r.Balance, api.get("/v1/balance/derive", params={"customerId": "c1"}).json()),
            (r.Checkpoint, api.post("/v1/checkpoints", json={"customerId": "c1"}).json()),
            (r.CheckpointList, api.get("/v1/checkpoints").json()),
            (ApiKeyCreated, api.post("/v1/keys", json={"name": "k", "scopes": ["read"]}).json()),
            (r.ApiKeyList, api.get("/v1/keys").json()),
            (r.WebhookEndpointWithSecret, hook),
            (r.WebhookList, api.get("/v1/webhooks").json()),
            (r.DeliveryQueued, api.post(f"/v1/webhooks/{hook['id']}/test").json()),
            (r.DeliveryList, api.get(f"/v1/webhooks/{hook['id']}/deliveries").json()),
            (r.Comparison, comparison),
            (r.EvidencePack, api.get(f"/v1/comparisons/{comparison['comparisonId']}/evidence").json()),
            (r.TenantSettingsView, api.get("/v1/settings").json()),
            (r.UsageReport, api.get("/v1/usage").json()),
            (r.DeltaBatchOutcome, api.post("/v1/balance/deltas", json={"deltas": [{"customerId": "c1"}]}).json()),
            (r.Health, httpx.get(api_node.base_url + "/healthz").json()),
        ]
    problems = [p for model, answer in answers for p in _same_shape(model, answer)]
    assert problems == []
