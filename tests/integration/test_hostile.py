"""Hostile requests, one class per test group, against a real node (issue 17's findings, each kept).

1. compare cannot stall the node: scope, customer and slot before the body; item cap; a few described
   problems and a count; empty uploads; long CSV lines (the other tenants' latency is bench/, not here)
2. evidence stored bounded (pack v2)
3. only write-scope keys settle, once per variance and record head
4. webhooks reach no private address in any notation, and connect to the address they checked
5. private files
6. integer bounds, duplicate JSON keys, the identifier alphabet, forwarded headers, the dev banner, headers
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from node.cli import dev_banner
from node.dev.chain import Anvil
from node.store.db import Store
from node.store.keys import ensure_tenant
from node.store.migrate import upgrade
from node.webhooks import endpoints
from node.webhooks.delivery import WebhookWorker
from node.webhooks.url_policy import UrlPolicy
from tests.conftest import RunningNode, create_key, deploy_fresh, start_node
from tests.support import WebhookReceiver, sql

CAP = 3000  # the node's item cap here (PACSPACE_MAX_COMPARE_ITEMS); 1,000,000 by default


@dataclass
class World:
    node: RunningNode
    admin: httpx.Client
    customer_key: str  # read, customer c
    other_customer_key: str  # read, customer d
    reader_key: str  # read, whole tenant

    def call(self, token: str) -> httpx.Client:
        return self.node.client(token)


@pytest.fixture(scope="module")
def world(anvil: Anvil, artifact: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """Customer c with four verified deltas (balance 122), customer d with one; default webhook policy."""
    deployment = deploy_fresh(anvil.rpc_url, artifact)
    node = start_node(
        deployment,
        tmp_path_factory.mktemp("hostile"),
        run_anchorer=False,
        max_compare_items=CAP,
        compare_concurrency=1,
        auth_failure_burst=5,
        auth_failure_per_second=0.01,
    )
    admin = node.client()
    for ref, amount in {"r0": 100, "r1": -30, "r2": 45, "r3": 7}.items():
        admin.post("/v1/balance/delta", json={"customerId": "c", "delta": amount, "reason": "u", "referenceId": ref})
    admin.post("/v1/balance/delta", json={"customerId": "d", "delta": 5, "reason": "u", "referenceId": "d0"})
    node.services.anchor.run_once()
    try:
        yield World(
            node,
            admin,
            create_key(node.db_url, "read", customer_id="c"),
            create_key(node.db_url, "read", customer_id="d"),
            create_key(node.db_url, "read"),
        )
    finally:
        admin.close()
        node.stop()


def _compare(client: httpx.Client, customer: str = "c", **body: Any) -> httpx.Response:
    return client.post("/v1/balance/compare", params={"customerId": customer}, json=body)


def _csv(client: httpx.Client, text: str | bytes, **params: Any) -> httpx.Response:
    content = text.encode() if isinstance(text, str) else text
    return client.post(
        "/v1/balance/compare",
        params={"customerId": "c", **params},
        content=content,
        headers={"content-type": "text/csv"},
    )


def _comparisons(world: World) -> int:
    return int(sql(world.node.db_url, "select count(*) from comparisons")[0][0])


def _settlement_deltas(world: World) -> int:
    return int(sql(world.node.db_url, "select count(*) from deltas where customer_id like 'pacspace:%'")[0][0])


def _answer_without_a_body(world: World, token: str, query: str, content_type: str = "application/json") -> int:
    """The status of a compare that announces 50 MB and sends none of it: only an answer given before the
    body is read arrives (a node that read first would wait for the body, and this times out)."""
    port = int(world.node.base_url.rsplit(":", 1)[1])
    request = (
        f"POST /v1/balance/compare{query} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: 50000000\r\nConnection: close\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request.encode())
        head = sock.recv(65536)
    return int(head.split(b" ", 2)[1])


# --- 1. compare cannot stall the node ---------------------------------------------------------


def test_scope_customer_and_ownership_are_checked_before_the_body_is_read(world: World) -> None:
    writer_only = create_key(world.node.db_url, "write")
    assert _answer_without_a_body(world, world.other_customer_key, "?customerId=c") == 404  # another customer's
    assert _answer_without_a_body(world, world.customer_key, "?customerId=nobody") == 404
    assert _answer_without_a_body(world, world.reader_key, "?customerId=nobody") == 404  # unknown customer
    assert _answer_without_a_body(world, writer_only, "?customerId=c") == 403  # no read scope
    assert _answer_without_a_body(world, world.customer_key, "", "text/csv") == 422  # customerId is required
    assert _answer_without_a_body(world, "sk_test_nope", "?customerId=c") == 401


def test_a_customer_key_names_its_customer_in_the_query_for_json_too(world: World) -> None:
    with world.call(world.customer_key) as customer:
        body = {"customerId": "c", "theirBalance": 122}
        missing = customer.post("/v1/balance/compare", json=body)
        assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "customerId"
        other = customer.post("/v1/balance/compare", params={"customerId": "c"}, json={**body, "customerId": "d"})
        assert other.status_code == 422 and other.json()["errors"][0]["field"] == "customerId"
        assert _compare(customer, theirBalance=122).json()["resolution"] == "match"


def test_a_flood_of_bad_items_gets_a_short_answer_with_a_count(world: World) -> None:
    before = _comparisons(world)
    with world.call(world.customer_key) as customer:
        started = time.monotonic()
        flood = _compare(customer, theirDeltas=[1] * CAP)
        elapsed = time.monotonic() - started
    assert flood.status_code == 422, flood.text
    problem = flood.json()
    assert problem["errorCount"] == CAP and len(problem["errors"]) == 20
    assert problem["errors"][0] == {"field": "theirDeltas[0]", "message": "must be an object {referenceId, delta}"}
    assert len(flood.content) < 5_000, "the answer grows with the body"
    assert elapsed < 30  # a sanity bound, not a benchmark: bench/ measures the other tenants' latency
    assert _comparisons(world) == before


def test_the_item_cap_is_enforced_for_json_and_csv(world: World) -> None:
    items = [{"referenceId": f"x{i}", "delta": 1} for i in range(CAP + 1)]
    over = _compare(world.admin, theirDeltas=items)
    assert over.status_code == 422 and over.json()["errors"] == [
        {"field": "theirDeltas", "message": f"at most {CAP} items per comparison"}
    ]
    rows = "".join(f"x{i},1\n" for i in range(CAP + 1))
    over_csv = _csv(world.admin, rows)
    assert over_csv.status_code == 422 and f"at most {CAP} rows" in over_csv.json()["errors"][0]["message"]


@pytest.mark.parametrize(
    ("kind", "payload"),
    [("json", {}), ("json", {"theirDeltas": []}), ("csv", ""), ("csv", "referenceId,delta\n"), ("csv", "\n\n")],
)
def test_an_empty_comparison_is_refused(world: World, kind: str, payload: Any) -> None:
    before = _comparisons(world)
    response = _compare(world.admin, **payload) if kind == "json" else _csv(world.admin, payload)
    assert response.status_code == 422, response.text
    assert _comparisons(world) == before
    empty_body = world.admin.post(
        "/v1/balance/compare", params={"customerId": "c"}, headers={"content-type": "application/json"}
    )
    assert empty_body.status_code == 422 and empty_body.json()["errors"][0]["field"] == "body"


@pytest.mark.parametrize(
    "body",
    [
        b"r0," + b"9" * 5_000_000,  # one line of 5 MB, no newline
        b'r0,"' + b"x" * 200_000 + b'"\n',  # one field beyond the csv module's limit
        b"r0,100\n" + b"," * 3_000_000,
    ],
    ids=["long-line", "long-field", "commas"],
)
def test_long_csv_lines_are_a_4xx_in_linear_time(world: World, body: bytes) -> None:
    started = time.monotonic()
    response = _csv(world.admin, body)
    assert response.status_code == 422, response.text
    assert "longer than 1024 bytes" in response.json()["errors"][0]["message"]
    assert time.monotonic() - started < 30


def test_malformed_and_oversized_json_values_are_4xx(world: World) -> None:
    deep = '{"theirBalance": 1, "asOf": ' + "[" * 100_000 + "]" * 100_000 + "}"
    long_string = '{"theirDeltas": [{"referenceId": "' + "a" * 1_000_000 + '", "delta": 1}]}'
    for text, status in ((deep, 422), (long_string, 422), ('{"theirBalance": 1', 400), ('{"theirBalance": NaN}', 400)):
        response = world.admin.post(
            "/v1/balance/compare",
            params={"customerId": "c"},
            content=text.encode(),
            headers={"content-type": "application/json"},
        )
        assert response.status_code == status, (text[:40], response.text)


def test_bodies_nested_deeper_than_a_stack_holds_are_refused_not_a_crash(world: World) -> None:
    """Every JSON route: a body nested 32,000 deep is a 4xx, and the node keeps answering. (web3 brings py_ecc,
    which raises the recursion limit to 100,000: the C decoder then recursed deep enough to crash the process.)
    32,000 levels keep the body under the single delta's 64 KiB limit, so each route parses it."""
    deep = b'{"customerId":"c","delta":1,"reason":"u","referenceId":"deep","metadata":' + b"[" * 32_000 + b"]" * 32_000
    assert len(deep) + 1 < 64 * 1024
    for path in ("/v1/balance/delta", "/v1/balance/deltas", "/v1/balance/compare?customerId=c"):
        response = world.admin.post(path, content=deep + b"}", headers={"content-type": "application/json"})
        assert 400 <= response.status_code < 500, (path, response.status_code)
    assert world.admin.get("/v1/me").status_code == 200


# --- 2. evidence is stored bounded --------------------------------------------------------------


def test_evidence_keeps_a_thousand_items_per_list_and_complete_counts(world: World) -> None:
    theirs = [{"referenceId": f"extra-{i}", "delta": 1} for i in range(CAP)]
    result = _compare(world.admin, theirDeltas=theirs)
    assert result.status_code == 201, result.text
    evidence = result.json()["evidence"]
    assert evidence["limit"] == 1000 and evidence["counts"]["onlyInTheirs"] == CAP
    assert len(evidence["onlyInTheirs"]) == 1000 and evidence["counts"]["onlyInRecord"] == 4
    comparison_id = result.json()["comparisonId"]
    stored = sql(world.node.db_url, "select length(evidence) from comparisons where id = :i", {"i": comparison_id})
    assert stored[0][0] < 40_000, stored
    pack = world.admin.get(f"/v1/comparisons/{comparison_id}/evidence").json()
    assert pack["version"] == "pacspace.evidence.v2" and len(pack["evidence"]["onlyInTheirs"]) == 1000


def test_evidence_lists_expire_after_the_retention_and_the_comparison_stays(world: World) -> None:
    made = _compare(world.admin, theirDeltas=[{"referenceId": "r0", "delta": 100}, {"referenceId": "zz", "delta": 1}])
    comparison_id = made.json()["comparisonId"]
    old = int(time.time()) - 2 * 86_400
    sql(world.node.db_url, "update comparisons set created_at = :t where id = :i", {"t": old, "i": comparison_id})
    assert world.node.services.comparisons.expire_evidence(retention_days=1) >= 1
    gone = world.admin.get(f"/v1/comparisons/{comparison_id}/evidence")
    assert gone.status_code == 410 and gone.json()["code"] == "gone"
    kept = world.admin.get(f"/v1/comparisons/{comparison_id}").json()
    assert kept["evidenceExpiredAt"] is not None and kept["variance"] == made.json()["variance"]
    assert kept["evidence"]["counts"] == made.json()["evidence"]["counts"] and kept["evidence"]["onlyInTheirs"] == []
    assert world.node.services.comparisons.expire_evidence(retention_days=0) == 0  # 0 keeps evidence forever


# --- 3. only write-scope keys settle, once ------------------------------------------------------


def test_read_and_customer_keys_compare_within_tolerance_and_record_nothing(world: World) -> None:
    world.admin.put("/v1/settings", json={"tolerance": {"absolute": 5}})
    try:
        before = _settlement_deltas(world)
        for token in (world.customer_key, world.reader_key):
            with world.call(token) as client:
                answer = _compare(client, theirBalance=125)
                assert answer.status_code == 201, answer.text
                body = answer.json()
                assert body["resolution"] == "within_tolerance" and body["settlementReceiptId"] is None
        assert _settlement_deltas(world) == before
    finally:
        world.admin.put("/v1/settings", json={"tolerance": {}})


def test_a_settlement_is_made_once_and_asking_again_returns_it(world: World) -> None:
    world.admin.put("/v1/settings", json={"tolerance": {"absolute": 5}})
    try:
        before = _settlement_deltas(world)
        first = _compare(world.admin, "d", theirBalance=7)
        again = _compare(world.admin, "d", theirBalance=7)
        assert first.status_code == 201 and first.json()["resolution"] == "auto_settled", first.text
        assert again.status_code == 200 and again.json() == first.json()
        assert _settlement_deltas(world) == before + 1
        other_variance = _compare(world.admin, "d", theirBalance=8)
        assert (
            other_variance.status_code == 201 and other_variance.json()["comparisonId"] != first.json()["comparisonId"]
        )
        assert _settlement_deltas(world) == before + 2
    finally:
        world.admin.put("/v1/settings", json={"tolerance": {}})


# --- 4. webhooks reach no private address ------------------------------------------------------

HOSTILE_URLS = [
    "https://127.0.0.1/x",
    "https://10.0.0.1/x",
    "https://192.168.1.1/x",
    "https://172.16.5.4/x",
    "https://100.64.0.1/x",  # shared address space (CGNAT)
    "https://2130706433/x",  # 127.0.0.1 in decimal
    "https://0x7f000001/x",  # in hex
    "https://0x7f.0.0.1/x",
    "https://0177.0.0.1/x",  # in octal
    "https://127.1/x",
    "https://10.1/x",
    "https://[::1]/x",
    "https://[::ffff:127.0.0.1]/x",  # IPv4-mapped IPv6
    "https://[::ffff:a00:1]/x",
    "https://[64:ff9b::a00:1]/x",  # NAT64 of 10.0.0.1
    "https://[2002:a00:1::]/x",  # 6to4 of 10.0.0.1
    "https://[fc00::1]/x",  # unique-local
    "https://[fd12:3456::1]/x",
    "https://[fe80::1]/x",  # link-local
    "https://169.254.169.254/latest/meta-data",  # cloud metadata
    "https://0.0.0.0/x",
    "https://localhost/x",
    "https://user:pw@example.com/x",  # user info
    "https://example.com@127.0.0.1/x",
    "http://127.0.0.1:9/x",  # plain http to loopback without the operator's allowance
]


@pytest.mark.parametrize("url", HOSTILE_URLS)
def test_webhook_urls_to_private_addresses_are_refused(world: World, url: str) -> None:
    answer = world.admin.post("/v1/webhooks", json={"url": url, "events": ["delta.verified"]})
    assert answer.status_code == 422, (url, answer.text)
    assert answer.json()["errors"][0]["field"] == "url"


def test_an_allowed_private_host_is_delivered_to_at_the_address_that_was_checked(tmp_path: Path) -> None:
    """The name resolves once per attempt, in the check; the connection goes to that address with the name as
    Host (the system resolver, which knows no hook.test, is never asked)."""
    store = Store(f"sqlite:///{tmp_path / 'hooks.db'}")
    upgrade(store)
    with store.writer() as session:
        ensure_tenant(session=session, tenant="default")
        session.commit()
    lookups: list[str] = []

    def resolve(host: str) -> list[str]:
        lookups.append(host)
        return ["127.0.0.1"] if len(lookups) == 1 else ["10.0.0.1"]

    allowed = frozenset({"hook.test"})
    with WebhookReceiver() as receiver:
        port = receiver.server.server_address[1]
        endpoint = endpoints.create_endpoint(
            store,
            tenant="default",
            url=f"http://hook.test:{port}/hooks",
            events=["delta.verified"],
            aggregate=False,
            policy=UrlPolicy(allow_loopback_http=True, private_hosts=allowed, resolve=lambda _h: ["127.0.0.1"]),
        )
        endpoints.send_test_event(store, endpoint)
        worker = WebhookWorker(store=store, policy=UrlPolicy(True, allowed, resolve))
        try:
            assert worker.deliver_due() == 1
        finally:
            worker.close()
        (headers, _body), *_ = receiver.wait_for(1)
    assert headers["host"] == f"hook.test:{port}" and lookups == ["hook.test"]
    store.close()


def test_a_name_that_rebinds_to_loopback_after_it_was_saved_is_not_delivered_to(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'hooks.db'}")
    upgrade(store)
    with store.writer() as session:
        ensure_tenant(session=session, tenant="default")
        session.commit()
    endpoint = endpoints.create_endpoint(
        store,
        tenant="default",
        url="https://rebind.test/hooks",
        events=["delta.verified"],
        aggregate=False,
        policy=UrlPolicy(resolve=lambda _h: ["93.184.216.34"]),
    )
    delivery = endpoints.send_test_event(store, endpoint)
    worker = WebhookWorker(store=store, policy=UrlPolicy(resolve=lambda _h: ["127.0.0.1"]))
    try:
        assert worker.deliver_due() == 1
    finally:
        worker.close()
    (attempt,) = endpoints.list_deliveries(store, endpoint)[0].attempts
    assert delivery is not None and attempt.status_code is None
    assert attempt.error is not None and attempt.error.startswith("refused:") and "private" in attempt.error
    store.close()


# --- 5. private files ---------------------------------------------------------------------------


def test_a_new_database_and_its_directory_are_private(tmp_path: Path) -> None:
    data = tmp_path / "data"
    store = Store(f"sqlite:///{data / 'pacspace.db'}")
    upgrade(store)  # writes: the WAL and the shared-memory file exist now
    modes = {p.name: p.stat().st_mode & 0o777 for p in (data, *data.iterdir())}
    store.close()
    assert modes.pop("data") == 0o700
    assert {"pacspace.db", "pacspace.db-wal", "pacspace.db-shm"} <= set(modes) and set(modes.values()) == {0o600}


def test_an_existing_database_readable_by_others_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    database = tmp_path / "wide.db"
    database.touch()
    os.chmod(database, 0o644)
    with caplog.at_level(logging.WARNING, logger="pacspace.files"):
        Store(f"sqlite:///{database}").close()
    warned = [r for r in caplog.records if getattr(r, "path", None) == str(database)]
    assert warned and warned[0].__dict__["fix"] == f"chmod 600 {database}"


# --- 6. smaller holes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "field"),
    [
        ("POST", "/v1/balance/compare?customerId=c", {"json": {"theirBalance": 1, "asOf": {"customerIndex": 2**64}}},
         "asOf.customerIndex"),
        ("POST", "/v1/balance/compare?customerId=c", {"json": {"theirBalance": 1, "asOf": {"recordedAt": 2**63}}},
         "asOf.recordedAt"),
        ("POST", f"/v1/balance/compare?customerId=c&asOfIndex={2**63}", {"content": b"r0,1\n",
         "headers": {"content-type": "text/csv"}}, "asOfIndex"),
        ("POST", f"/v1/balance/compare?customerId=c&theirBalance={2**255}", {"content": b"r0,1\n",
         "headers": {"content-type": "text/csv"}}, "theirBalance"),
        ("GET", f"/v1/balance/export?customerId=c&fromIndex={2**63}", {}, "fromIndex"),
        ("GET", f"/v1/balance/export?customerId=c&toIndex={2**70}", {}, "toIndex"),
        ("POST", "/v1/checkpoints", {"json": {"customerId": "c", "fromIndex": 0, "toIndex": 2**64}}, "toIndex"),
        ("POST", "/v1/checkpoints", {"json": {"customerId": "c", "from": 2**63, "to": 2**63 + 1}}, "from"),
    ],
)  # fmt: skip
def test_integers_beyond_the_database_range_are_a_422(
    world: World, method: str, path: str, kwargs: dict[str, Any], field: str
) -> None:
    response = world.admin.request(method, path, **kwargs)
    assert response.status_code == 422, response.text
    messages = {e["field"]: e["message"] for e in response.json()["errors"]}
    assert field in messages, messages
    # Refused for its size, not by a rule that a smaller value could also break ("past the last delta").
    assert re.search(r"less than or equal|greater than or equal|int256|2\^63|9223372036854775807", messages[field]), (
        messages
    )


@pytest.mark.parametrize(
    ("path", "text", "field"),
    [
        ("/v1/balance/delta", '{"customerId":"c","delta":-1,"delta":-100000,"reason":"u","referenceId":"dup1"}',
         "delta"),
        ("/v1/balance/deltas", '{"deltas":[{"customerId":"c","delta":1,"reason":"u","referenceId":"dup2",'
         '"referenceId":"dup3"}]}', "referenceId"),
        ("/v1/balance/compare?customerId=c", '{"theirBalance":1,"theirBalance":2}', "theirBalance"),
        ("/v1/balance/compare?customerId=c", '{"theirDeltas":[{"referenceId":"r0","delta":1,"delta":100}]}', "delta"),
        ("/v1/checkpoints", '{"customerId":"c","customerId":"d"}', "customerId"),
        ("/v1/events", '{"specversion":"1.0","id":"e1","source":"s","type":"t","subject":"c",'
         '"data":{"delta":1,"delta":-100000}}', "delta"),
        ("/api/v1/events", '[{"specversion":"1.0","id":"e2","id":"e3","source":"s","type":"t","subject":"c",'
         '"data":{"delta":1}}]', "id"),
    ],
)  # fmt: skip
def test_duplicate_json_keys_are_refused(world: World, path: str, text: str, field: str) -> None:
    """Every route that reads JSON refuses a repeated member name with one 422 naming it: the routes'
    bodies, the streamed compare body and CloudEvents (structured and batch) alike."""
    before = sql(world.node.db_url, "select count(*) from deltas")
    content_type = "application/cloudevents-batch+json" if path.startswith("/api") else "application/json"
    response = world.admin.post(path, content=text.encode(), headers={"content-type": content_type})
    assert response.status_code == 422, response.text
    assert field in {e["field"] for e in response.json()["errors"]}
    assert sql(world.node.db_url, "select count(*) from deltas") == before


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("customerId", "acme\u202eevil"),  # bidi override
        ("customerId", "acme\u2066x\u2069"),  # bidi isolate
        ("customerId", "ac\u200bme"),  # zero-width space
        ("customerId", "acme\u2028"),  # line separator
        ("customerId", "acme\u2029x"),  # paragraph separator
        ("customerId", "ac me"),  # a space is a separator
        ("customerId", "e\u0301"),  # not NFC (é decomposed)
        ("customerId", "\ufeffacme"),  # byte order mark
        ("referenceId", "ref\u200d1"),  # zero-width joiner
        ("referenceId", "re\u0301f"),
        ("customerId", "PACSPACE:settlements:c"),  # the reserved prefix, in another case
        ("customerId", "PacSpace:x"),
    ],
)
def test_look_alike_identifiers_are_refused(world: World, field: str, value: str) -> None:
    # A referenceId of its own per case: a shared one would make every case after the first a 409 replay
    # conflict on a node that accepted the first, hiding what this case is about.
    body = {"customerId": "c", "delta": 1, "reason": "u", "referenceId": f"alike-{value.encode().hex()}", field: value}
    response = world.admin.post("/v1/balance/delta", json=body)
    assert response.status_code == 422, response.text
    assert field in {e["field"] for e in response.json()["errors"]}


def test_forwarded_headers_do_not_open_new_failed_authentication_buckets(world: World) -> None:
    """uvicorn believes X-Forwarded-For only from configured proxies (none here): each spoofed address is
    the same client, whose few failed attempts then get 429."""
    statuses = []
    for n in range(12):
        spoofed = {"Authorization": "Bearer sk_test_0000000000000000_nope", "X-Forwarded-For": f"203.0.113.{n}"}
        statuses.append(httpx.get(world.node.base_url + "/v1/me", headers=spoofed, timeout=10).status_code)
    assert 429 in statuses, statuses


def test_the_dev_banner_masks_the_admin_key(tmp_path: Path) -> None:
    token = "sk_test_0123456789abcdef_" + "S3cr3t" * 7
    banner = dev_banner(8000, "http://127.0.0.1:8545", "0x" + "ab" * 20, tmp_path, token)
    assert token not in banner and "S3cr3t" not in banner
    assert "sk_test_0123…" in banner and str(tmp_path / "api-key") in banner


def test_html_pages_and_api_answers_carry_nosniff_and_frame_headers(world: World) -> None:
    comparison = _compare(world.admin, theirBalance=1).json()["comparisonId"]
    pages = [
        httpx.get(world.node.base_url + "/docs", timeout=10),
        world.admin.get(f"/v1/comparisons/{comparison}/evidence", params={"format": "html"}),
        world.admin.get("/v1/me"),
        httpx.get(world.node.base_url + "/v1/nowhere", timeout=10),
    ]
    for page in pages:
        assert page.headers["x-content-type-options"] == "nosniff", page.url
        assert page.headers["x-frame-options"] == "DENY", page.url
    for page in pages[:2]:
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"], page.url
    assert json.loads(pages[2].text)["tenant"] == "default"
