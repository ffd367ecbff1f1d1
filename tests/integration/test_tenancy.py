"""Tenants, scoped keys, rate limits: every endpoint against every kind of wrong caller."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from node.dev.chain import Anvil
from tests.conftest import (
    LOCAL_RECEIVERS,
    Deployment,
    RunningNode,
    create_key,
    deploy_fresh,
    start_node,
    wait_for_status,
)
from tests.support import sql

_refs = itertools.count()


def _delta(customer: str = "cust_a") -> dict[str, Any]:
    return {"customerId": customer, "delta": 250, "reason": "usage", "referenceId": f"ref-{next(_refs)}"}


@dataclass
class World:
    node: RunningNode
    admin: str
    write: str
    read: str
    customer_a: str
    other_admin: str
    receipt_a: str
    receipt_b: str
    checkpoint_a: str
    checkpoint_b: str
    comparison_a: str
    spare_key_ids: Iterator[str]
    spare_webhooks: Iterator[tuple[str, str]]

    def call(self, method: str, path: str, token: str | None, json: Any = None) -> httpx.Response:
        headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        return httpx.request(method, self.node.base_url + path, headers=headers, json=json, timeout=30)


@pytest.fixture(scope="module")
def world(anvil: Anvil, artifact: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One node for the module: every test uses fresh keys, webhooks and ids it creates itself."""
    deployment = deploy_fresh(anvil.rpc_url, artifact)
    node = start_node(
        deployment,
        tmp_path_factory.mktemp("world"),
        auth_failure_burst=10_000,
        rate_limit_burst=100_000,
        **LOCAL_RECEIVERS,
    )
    try:
        db = node.db_url
        admin = node.token
        with node.client() as client:
            receipt_a = client.post("/v1/balance/delta", json=_delta("cust_a")).json()["receiptId"]
            receipt_b = client.post("/v1/balance/delta", json=_delta("cust_b")).json()["receiptId"]
            wait_for_status(client, receipt_a, "verified")
            wait_for_status(client, receipt_b, "verified")

            checkpoint_a = client.post("/v1/checkpoints", json={"customerId": "cust_a"}).json()["checkpointId"]
            checkpoint_b = client.post("/v1/checkpoints", json={"customerId": "cust_b"}).json()["checkpointId"]
            comparison_a = client.post(
                "/v1/balance/compare", params={"customerId": "cust_a"}, json={"theirBalance": 1}
            ).json()["comparisonId"]
            mapping = {"quantityField": "tokens", "multiplier": "-1"}
            assert client.put(f"/v1/events/mappings/{MAPPED_TYPE}", json=mapping).status_code == 201

            def spare_keys() -> Iterator[str]:
                while True:
                    yield client.post("/v1/keys", json={"name": "spare", "scopes": ["read"]}).json()["id"]

            def spare_webhooks() -> Iterator[tuple[str, str]]:
                while True:
                    hook = client.post(
                        "/v1/webhooks", json={"url": "http://127.0.0.1:9/hook", "events": ["delta.verified"]}
                    ).json()["id"]
                    delivery = client.post(f"/v1/webhooks/{hook}/test").json()["deliveryId"]
                    yield hook, delivery

            yield World(
                node=node,
                admin=admin,
                write=create_key(db, scope="write"),
                read=create_key(db, scope="read"),
                customer_a=create_key(db, scope="read", customer_id="cust_a"),
                other_admin=create_key(db, scope="admin", tenant="other"),
                receipt_a=receipt_a,
                receipt_b=receipt_b,
                checkpoint_a=checkpoint_a,
                checkpoint_b=checkpoint_b,
                comparison_a=comparison_a,
                spare_key_ids=spare_keys(),
                spare_webhooks=spare_webhooks(),
            )
    finally:
        node.stop()


@dataclass(frozen=True)
class Endpoint:
    method: str
    template: str
    scope: str
    body: Any = None
    query: str = ""
    names_our_data: bool = False  # takes a receipt, key, checkpoint or customer of tenant "default"
    # the path's id is a name in the caller's own namespace (an event type): another tenant's PUT makes its own
    own_namespace: bool = False

    def path(self, world: World) -> str:
        ids: dict[str, str] = {
            "receipt_id": world.receipt_a,
            "checkpoint_id": world.checkpoint_a,
            "comparison_id": world.comparison_a,
            "event_type": MAPPED_TYPE,
        }
        if "{key_id}" in self.template:
            ids["key_id"] = next(world.spare_key_ids)
        if "{endpoint_id}" in self.template:
            ids["endpoint_id"], ids["delivery_id"] = next(world.spare_webhooks)
        return self.template.format(**ids) + self.query

    def payload(self) -> Any:
        return self.body() if callable(self.body) else self.body


MAPPED_TYPE = "llm.tokens"  # mapped by tenant "default" in the world


def _event() -> dict[str, Any]:
    data = {"delta": 3}
    return {"specversion": "1.0", "id": "t1", "source": "s", "type": "usage", "subject": "cust_a", "data": data}


ENDPOINTS = [
    Endpoint("POST", "/v1/balance/delta", "write", _delta),  # records for the caller's own tenant
    Endpoint("POST", "/v1/balance/deltas", "write", lambda: {"deltas": [_delta()]}),
    Endpoint("GET", "/v1/me", ""),  # any valid key, whatever its scopes
    Endpoint("GET", "/v1/receipts/{receipt_id}", "read"),
    Endpoint("GET", "/v1/receipts/{receipt_id}/proof", "read"),
    Endpoint("POST", "/v1/keys", "admin", {"name": "x", "scopes": ["read"]}),
    Endpoint("GET", "/v1/keys", "admin"),
    Endpoint("GET", "/v1/keys/{key_id}", "admin"),
    Endpoint("DELETE", "/v1/keys/{key_id}", "admin"),
    Endpoint("POST", "/v1/keys/{key_id}/rotate", "admin", {"graceSeconds": 0}),
    Endpoint("GET", "/v1/usage", "admin"),
    Endpoint("GET", "/v1/balance/derive", "read", query="?customerId=cust_a", names_our_data=True),
    Endpoint("GET", "/v1/balance/derive", "read", query="?customerId=cust_a&verify=true", names_our_data=True),
    Endpoint("GET", "/v1/balance/export", "read", query="?customerId=cust_a", names_our_data=True),
    Endpoint("POST", "/v1/checkpoints", "write", {"customerId": "cust_a"}, names_our_data=True),
    Endpoint("GET", "/v1/checkpoints", "read"),
    Endpoint("GET", "/v1/checkpoints/{checkpoint_id}", "read"),
    Endpoint("POST", "/v1/checkpoints/{checkpoint_id}/countersign", "read", {"signature": "0x" + "11" * 65}),
    Endpoint("POST", "/v1/balance/compare", "read", {"theirBalance": 5}, "?customerId=cust_a", names_our_data=True),
    Endpoint("GET", "/v1/comparisons/{comparison_id}", "read"),
    Endpoint("GET", "/v1/comparisons/{comparison_id}/evidence", "read"),
    Endpoint("GET", "/v1/settings", "admin"),
    Endpoint("PUT", "/v1/settings", "admin", {"tolerance": {"absolute": 0}}),
    Endpoint("POST", "/v1/webhooks", "admin", {"url": "http://127.0.0.1:9/x", "events": ["delta.verified"]}),
    Endpoint("GET", "/v1/webhooks", "admin"),
    Endpoint("GET", "/v1/webhooks/{endpoint_id}", "admin"),
    Endpoint("PATCH", "/v1/webhooks/{endpoint_id}", "admin", {"enabled": True}),
    Endpoint("DELETE", "/v1/webhooks/{endpoint_id}", "admin"),
    Endpoint("POST", "/v1/webhooks/{endpoint_id}/rotate-secret", "admin", {"graceSeconds": 0}),
    Endpoint("POST", "/v1/webhooks/{endpoint_id}/test", "admin"),
    Endpoint("GET", "/v1/webhooks/{endpoint_id}/deliveries", "admin"),
    Endpoint("POST", "/v1/webhooks/{endpoint_id}/deliveries/{delivery_id}/redeliver", "admin"),
    Endpoint("POST", "/v1/events", "write", _event),  # records for the caller's own tenant
    Endpoint("POST", "/api/v1/events", "write", _event),
    Endpoint("GET", "/v1/events/mappings", "admin"),
    Endpoint(
        "PUT",
        "/v1/events/mappings/{event_type}",
        "admin",
        {"quantityField": "n", "multiplier": "2"},
        own_namespace=True,
    ),
    Endpoint("DELETE", "/v1/events/mappings/{event_type}", "admin"),
    Endpoint("GET", "/v1/events/settings", "admin"),
    Endpoint("PUT", "/v1/events/settings", "admin", {"referenceIdMode": "id"}),
]
WITH_IDS = [e for e in ENDPOINTS if (e.names_our_data or "{" in e.template) and not e.own_namespace]
UNAUTHENTICATED = {"/healthz"}

# What a write can change, every tenant's, less what moves on its own (a delta's anchoring status, a
# delivery's attempts, a key's last use, usage counters).
_STATE = {
    "tenants": "select * from tenants order by id",
    "api_keys": "select id, tenant, name, prefix, salt, secret_hash, scopes, customer_id, rate_per_second,"
    " rate_burst, created_at, revoked_at, expires_at, rotated_to from api_keys order by id",
    "deltas": "select tenant, reference_id, customer_id from deltas order by tenant, reference_id",
    "checkpoints": "select * from checkpoints order by id",
    "comparisons": "select id, tenant from comparisons order by id",
    "webhook_endpoints": "select * from webhook_endpoints order by id",
    "webhook_deliveries": "select id, tenant, endpoint_id, event_type from webhook_deliveries order by id",
    "event_mappings": "select * from event_mappings order by tenant, event_type",
}


def _state(world: World) -> dict[str, list[tuple[Any, ...]]]:
    return {table: sql(world.node.db_url, query) for table, query in _STATE.items()}


def _refused_write_changes_nothing(world: World, endpoint: Endpoint, token: str, status: int, code: str) -> None:
    """Send the endpoint's request with ``token``; it is refused with ``status`` and, for a write,
    every row a write could change reads the same afterwards."""
    path = endpoint.path(world)  # creates the spare key or webhook it names before the first look
    before = _state(world) if endpoint.method != "GET" else None
    response = world.call(endpoint.method, path, token, endpoint.payload())
    assert response.status_code == status, response.text
    assert response.json()["code"] == code
    if before is not None:
        after = _state(world)
        changed = {table for table in before if before[table] != after[table]}
        assert not changed, f"a refused {endpoint.method} {endpoint.template} changed {sorted(changed)}"


def test_the_table_covers_every_endpoint(world: World) -> None:
    schema = httpx.get(world.node.base_url + "/openapi.json").json()
    served = {(m.upper(), p) for p, ops in schema["paths"].items() for m in ops if p not in UNAUTHENTICATED}
    covered = {(e.method, e.template) for e in ENDPOINTS}
    assert served == covered, f"endpoints without security cases: {served - covered}"


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: f"{e.method} {e.template}")
def test_every_endpoint_refuses_missing_malformed_unknown_and_revoked_keys(world: World, endpoint: Endpoint) -> None:
    revoked = create_key(world.node.db_url, scope="admin")
    revoked_id = revoked.split("_")[2]
    assert world.call("DELETE", f"/v1/keys/{revoked_id}", world.admin).status_code == 200
    for token in (None, "not-a-key", "sk_test_0123456789abcdef_" + "x" * 43, revoked):
        response = world.call(endpoint.method, endpoint.path(world), token, endpoint.payload())
        assert response.status_code == 401, (token, response.text)
        assert response.json()["code"] == "unauthenticated"
        assert response.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize("endpoint", [e for e in ENDPOINTS if e.scope], ids=lambda e: f"{e.method} {e.template}")
def test_every_endpoint_refuses_a_key_without_its_scope(world: World, endpoint: Endpoint) -> None:
    wrong = {"write": world.read, "read": world.write, "admin": create_key(world.node.db_url, scope="read,write")}
    _refused_write_changes_nothing(world, endpoint, wrong[endpoint.scope], 403, "forbidden")


@pytest.mark.parametrize("endpoint", WITH_IDS, ids=lambda e: f"{e.method} {e.template}")
def test_another_tenants_ids_do_not_exist(world: World, endpoint: Endpoint) -> None:
    _refused_write_changes_nothing(world, endpoint, world.other_admin, 404, "not_found")


def test_another_tenants_lists_and_usage_show_nothing_of_ours(world: World) -> None:
    keys = world.call("GET", "/v1/keys", world.other_admin).json()["keys"]
    assert {k["name"] for k in keys} <= {"test", "x"}  # its own admin key, and keys it created in other tests
    ours = {k["id"] for k in world.call("GET", "/v1/keys", world.admin).json()["keys"]}
    assert not ours & {k["id"] for k in keys}
    usage = world.call("GET", "/v1/usage", world.other_admin).json()
    assert usage["totals"]["deltasRecorded"] == 0 and usage["tenant"] == "other"
    assert world.call("GET", "/v1/checkpoints", world.other_admin).json()["checkpoints"] == []
    assert MAPPED_TYPE not in {
        m["type"] for m in world.call("GET", "/v1/events/mappings", world.other_admin).json()["mappings"]
    }
    next(world.spare_webhooks)
    assert world.call("GET", "/v1/webhooks", world.other_admin).json()["webhooks"] == []


def test_customer_scoped_key_sees_only_its_customer(world: World) -> None:
    own = world.call("GET", f"/v1/receipts/{world.receipt_a}", world.customer_a)
    assert own.status_code == 200 and own.json()["customerId"] == "cust_a"
    assert world.call("GET", f"/v1/receipts/{world.receipt_a}/proof", world.customer_a).status_code == 200
    for path in (f"/v1/receipts/{world.receipt_b}", f"/v1/receipts/{world.receipt_b}/proof"):
        response = world.call("GET", path, world.customer_a)
        assert response.status_code == 404 and response.json()["code"] == "not_found"
    before = _state(world)
    assert world.call("POST", "/v1/balance/delta", world.customer_a, _delta("cust_a")).status_code == 403
    assert _state(world) == before, "a customer key's refused write changed something"
    assert world.call("GET", "/v1/keys", world.customer_a).status_code == 403
    assert world.call("GET", "/v1/balance/derive?customerId=cust_a", world.customer_a).json()["balance"] == 250
    for path in ("/v1/balance/derive?customerId=cust_b", "/v1/balance/export?customerId=cust_b",
                 f"/v1/checkpoints/{world.checkpoint_b}"):  # fmt: skip
        assert world.call("GET", path, world.customer_a).status_code == 404, path
    listed = world.call("GET", "/v1/checkpoints", world.customer_a).json()["checkpoints"]
    assert [c["checkpointId"] for c in listed] == [world.checkpoint_a]


def test_customer_keys_are_read_only(world: World) -> None:
    response = world.call("POST", "/v1/keys", world.admin, {"name": "c", "scopes": ["write"], "customerId": "cust_a"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "scopes"


def test_repeated_bad_keys_from_one_client_are_rate_limited(deployment: Deployment, tmp_path: Path) -> None:
    node = start_node(deployment, tmp_path, auth_failure_burst=5, auth_failure_per_second=0.01)
    try:
        statuses = [
            httpx.get(node.base_url + "/v1/keys", headers={"Authorization": f"Bearer sk_test_{i:016x}_" + "y" * 43})
            for i in range(8)
        ]
        assert [r.status_code for r in statuses] == [401] * 5 + [429] * 3
        limited = statuses[-1]
        assert limited.json()["code"] == "rate_limited" and int(limited.headers["retry-after"]) >= 1
    finally:
        node.stop()


def test_per_key_token_bucket_answers_429_with_retry_after(world: World) -> None:
    created = world.call(
        "POST", "/v1/keys", world.admin, {"name": "slow", "scopes": ["read"], "rateBurst": 3, "ratePerSecond": 0.01}
    ).json()
    codes = [world.call("GET", f"/v1/receipts/{world.receipt_a}", created["secret"]).status_code for _ in range(5)]
    assert codes == [200, 200, 200, 429, 429]
    limited = world.call("GET", f"/v1/receipts/{world.receipt_a}", created["secret"])
    assert limited.json()["code"] == "rate_limited"
    assert limited.headers["content-type"].startswith("application/problem+json")
    assert int(limited.headers["retry-after"]) >= 1
    # Other keys are unaffected.
    assert world.call("GET", f"/v1/receipts/{world.receipt_a}", world.read).status_code == 200


def test_key_lifecycle_create_list_revoke_rotate(world: World) -> None:
    created = world.call("POST", "/v1/keys", world.admin, {"name": "billing", "scopes": ["write"], "live": True}).json()
    assert created["secret"].startswith("sk_live_") and created["status"] == "active"
    assert world.call("POST", "/v1/balance/delta", created["secret"], _delta()).status_code == 201

    listed = {k["id"]: k for k in world.call("GET", "/v1/keys", world.admin).json()["keys"]}
    entry = listed[created["id"]]
    assert "secret" not in entry and entry["prefix"] == "sk_live_" and entry["scopes"] == ["write"]
    assert entry["lastUsedAt"] is not None and entry["createdAt"].endswith("Z")

    rotated = world.call("POST", f"/v1/keys/{created['id']}/rotate", world.admin, {"graceSeconds": 3600}).json()
    assert rotated["secret"] != created["secret"] and rotated["scopes"] == ["write"]
    assert world.call("POST", "/v1/balance/delta", created["secret"], _delta()).status_code == 201, "grace period"
    assert world.call("GET", f"/v1/keys/{created['id']}", world.admin).json()["status"] == "expiring"
    assert world.call("POST", "/v1/balance/delta", rotated["secret"], _delta()).status_code == 201

    assert world.call("DELETE", f"/v1/keys/{rotated['id']}", world.admin).json()["status"] == "revoked"
    assert world.call("POST", "/v1/balance/delta", rotated["secret"], _delta()).status_code == 401, "at once"

    again = world.call("POST", f"/v1/keys/{rotated['id']}/rotate", world.admin, {"graceSeconds": 0})
    assert again.status_code == 422


def test_me_names_the_calling_key_only(world: World) -> None:
    mine = world.call("GET", "/v1/me", world.customer_a).json()
    assert mine["tenant"] == "default" and mine["scopes"] == ["read"] and mine["customerId"] == "cust_a"
    assert world.call("GET", "/v1/me", world.other_admin).json()["tenant"] == "other"
