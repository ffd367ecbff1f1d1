"""CloudEvents ingest on a real node and Anvil: events built by the official ``cloudevents`` SDK (PyPI) and
sent by OpenMeter's Python client (pointed at the node by its base URL), recorded once however often they come,
verified on chain; a batch of 1,000 in one request; tenant mappings; the problems that name why."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cloudevents.conversion import to_binary, to_json, to_structured
from cloudevents.http import CloudEvent
from corehttp.exceptions import HttpResponseError
from openmeter import Client as OpenMeterClient
from openmeter.models import Event as OpenMeterEvent

from node.dev.chain import Anvil
from tests.conftest import RunningNode, create_key, deploy_fresh, start_node, wait_for_status

BATCH = "application/cloudevents-batch+json"


@pytest.fixture(scope="module")
def node(anvil: Anvil, artifact: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningNode]:
    running = start_node(deploy_fresh(anvil.rpc_url, artifact), tmp_path_factory.mktemp("cloudevents"))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def api(node: RunningNode) -> Iterator[httpx.Client]:
    with node.client() as client:
        yield client


def usage(customer: str, delta: Any = -1000, **attributes: Any) -> CloudEvent:
    return CloudEvent(
        {"type": "api_usage", "source": "billing-gateway", "subject": customer, "id": uuid.uuid4().hex, **attributes},
        {"delta": delta, "endpoint": "/v1/search"} if delta is not None else {"tokens": 12},
    )


def send(api: httpx.Client, headers: dict[str, str], body: bytes | str, path: str = "/v1/events") -> httpx.Response:
    return api.post(path, headers=headers, content=body)


def test_an_event_from_the_sdk_is_recorded_once_when_sent_twice_and_becomes_verified(api: httpx.Client) -> None:
    customer = f"cust_{uuid.uuid4().hex[:8]}"
    event = usage(customer)
    headers, body = to_structured(event)
    first, again = send(api, headers, body), send(api, headers, body)
    assert first.status_code == 201, first.text
    assert again.status_code == 200 and again.json()["receiptId"] == first.json()["receiptId"]
    receipt = first.json()
    assert receipt["referenceId"] == f"billing-gateway#{event['id']}" and receipt["delta"] == -1000
    assert receipt["reason"] == "api_usage" and receipt["customerId"] == customer
    # the same event in binary mode is the same delta too
    binary_headers, binary_body = to_binary(event)
    assert send(api, binary_headers, binary_body).json()["receiptId"] == receipt["receiptId"]
    verified = wait_for_status(api, receipt["receiptId"], "verified")
    assert isinstance(verified["confirmations"], int) and verified["confirmations"] >= 1
    balance = api.get("/v1/balance/derive", params={"customerId": customer}).json()
    assert (balance["balance"], balance["verifiedCount"]) == (-1000, 1)
    bundle = api.get(f"/v1/receipts/{receipt['receiptId']}/proof").json()
    assert json.loads(bundle["metadata"]) == {"endpoint": "/v1/search"}


def test_a_batch_of_1000_events_is_recorded_in_one_request(api: httpx.Client) -> None:
    customer = f"cust_{uuid.uuid4().hex[:8]}"
    events = [usage(customer, delta=-(i + 1)) for i in range(1000)]
    body = b"[" + b",".join(to_json(e) for e in events) + b"]"
    response = send(api, {"Content-Type": BATCH}, body)
    assert response.status_code == 200, response.text[:2000]
    result = response.json()
    assert (result["created"], result["replayed"], result["failed"]) == (1000, 0, 0)
    assert [r["receipt"]["customerIndex"] for r in result["results"]] == list(range(1000))
    again = send(api, {"Content-Type": BATCH}, body).json()
    assert (again["created"], again["replayed"]) == (0, 1000)
    assert [r["receipt"]["receiptId"] for r in again["results"]] == [
        r["receipt"]["receiptId"] for r in result["results"]
    ]
    pending = api.get("/v1/balance/derive", params={"customerId": customer}).json()
    assert pending["balance"] + pending["pendingBalance"] == -sum(range(1, 1001))


def test_a_bad_event_of_a_batch_is_its_own_422_and_the_others_are_recorded(api: httpx.Client) -> None:
    customer = f"cust_{uuid.uuid4().hex[:8]}"
    good, no_delta = usage(customer), usage(customer, delta=None)
    no_subject = json.loads(to_json(usage(customer)))
    del no_subject["subject"]
    body = json.dumps([json.loads(to_json(good)), json.loads(to_json(no_delta)), no_subject])
    result = send(api, {"Content-Type": BATCH}, body).json()
    assert [r["status"] for r in result["results"]] == [201, 422, 422]
    assert result["results"][1]["problem"]["errors"][0]["field"] == "events[1].data.delta"
    assert result["results"][2]["problem"]["errors"][0]["field"] == "events[2].subject"
    too_many = send(api, {"Content-Type": BATCH}, json.dumps([no_subject] * 1001))
    assert too_many.status_code == 422 and too_many.json()["errors"][0]["field"] == "body"


def test_the_same_event_id_with_other_data_is_a_conflict(api: httpx.Client) -> None:
    event = usage(f"cust_{uuid.uuid4().hex[:8]}")
    headers, body = to_structured(event)
    first = send(api, headers, body).json()
    changed = json.loads(body)
    changed["data"]["delta"] = -999
    conflict = send(api, headers, json.dumps(changed))
    assert conflict.status_code == 409 and conflict.json()["code"] == "reference_conflict"
    assert conflict.json()["receiptId"] == first["receiptId"]


def test_tenant_mappings_turn_other_shapes_into_deltas(node: RunningNode, api: httpx.Client) -> None:
    customer = f"cust_{uuid.uuid4().hex[:8]}"
    llm = CloudEvent(
        {"type": "llm.tokens", "source": "gw", "subject": customer, "id": uuid.uuid4().hex},
        {"model": "gpt-4", "usage": {"tokens": 1250}},
    )
    headers, body = to_structured(llm)
    refused = send(api, headers, body)
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "data.delta"
    mapping = {
        "quantityField": "usage.tokens",
        "multiplier": "-0.2",
        "reasonTemplate": "{quantity} {data.model} tokens",
    }
    put = api.put("/v1/events/mappings/llm.tokens", json=mapping)
    assert put.status_code == 201, put.text
    assert api.put("/v1/events/mappings/llm.tokens", json=mapping).status_code == 200
    writer = node.client(create_key(node.db_url, scope="write"))
    assert writer.put("/v1/events/mappings/llm.tokens", json=mapping).status_code == 403
    recorded = send(api, headers, body)
    assert recorded.status_code == 201, recorded.text
    assert (recorded.json()["delta"], recorded.json()["reason"]) == (-250, "1250 gpt-4 tokens")
    listed = api.get("/v1/events/mappings").json()
    assert listed["referenceIdMode"] == "source#id"
    assert [m["type"] for m in listed["mappings"]] == ["llm.tokens"]
    bad = api.put("/v1/events/mappings/x", json={"quantityField": "n", "multiplier": "0"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "multiplier"
    # another tenant's events are not touched by this tenant's mappings
    other = node.client(create_key(node.db_url, scope="write", tenant="other"))
    assert other.post("/v1/events", headers=headers, content=body).status_code == 422
    assert api.delete("/v1/events/mappings/llm.tokens").status_code == 204
    assert api.delete("/v1/events/mappings/llm.tokens").status_code == 404


def test_the_bare_event_id_as_reference_when_the_tenant_chooses_it(node: RunningNode) -> None:
    admin = node.client(create_key(node.db_url, scope="admin", tenant="bare"))
    long_event = usage("cust_bare", source="s" * 100, id="i" * 40)
    headers, body = to_structured(long_event)
    too_long = admin.post("/v1/events", headers=headers, content=body)
    assert too_long.status_code == 422 and too_long.json()["errors"][0]["field"] == "id"
    assert admin.put("/v1/events/settings", json={"referenceIdMode": "id"}).json() == {"referenceIdMode": "id"}
    recorded = admin.post("/v1/events", headers=headers, content=body)
    assert recorded.status_code == 201 and recorded.json()["referenceId"] == "i" * 40
    assert admin.put("/v1/events/settings", json={"referenceIdMode": "uuid"}).status_code == 422


def test_openmeter_s_python_client_ingests_through_api_v1_events(node: RunningNode, api: httpx.Client) -> None:
    customer = f"cust_{uuid.uuid4().hex[:8]}"
    client = OpenMeterClient(endpoint=node.base_url, token=node.token)

    def event(event_id: str, data: dict[str, Any]) -> OpenMeterEvent:
        return OpenMeterEvent(
            id=event_id, source="openmeter-app", specversion="1.0", type="api_usage", subject=customer, data=data
        )

    client.events.ingest_event(event("om-1", {"delta": -40}))
    client.events.ingest_event(event("om-1", {"delta": -40}))  # a retry: one delta
    client.events.ingest_events([event(f"om-{i}", {"delta": -1}) for i in range(2, 12)])
    with pytest.raises(HttpResponseError) as refused:
        client.events.ingest_event(event("om-bad", {"tokens": 3}))
    assert refused.value.status_code == 422
    balance = api.get("/v1/balance/derive", params={"customerId": customer}).json()
    assert balance["balance"] + balance["pendingBalance"] == -50
    assert balance["verifiedCount"] + balance["pendingCount"] == 11
    one = {"specversion": "1.0", "id": "om-1", "source": "openmeter-app", "type": "api_usage", "subject": customer}
    receipt = send(api, {"Content-Type": "application/cloudevents+json"}, json.dumps({**one, "data": {"delta": -40}}))
    assert receipt.status_code == 200 and receipt.json()["referenceId"] == "openmeter-app#om-1"


def test_the_event_operations_are_documented(api: httpx.Client) -> None:
    spec = api.get("/openapi.json").json()
    for path, method in [
        ("/v1/events", "post"),
        ("/api/v1/events", "post"),
        ("/v1/events/mappings", "get"),
        ("/v1/events/mappings/{event_type}", "put"),
        ("/v1/events/settings", "put"),
    ]:
        operation = spec["paths"][path][method]
        assert operation["summary"] and operation["description"], (path, method)
        assert any(str(code).startswith("2") for code in operation["responses"]), (path, method)
    content = spec["paths"]["/v1/events"]["post"]["requestBody"]["content"]
    assert {"application/cloudevents+json", BATCH, "application/json"} <= set(content)
    assert content["application/cloudevents+json"]["example"]["subject"] == "cust_12345"
