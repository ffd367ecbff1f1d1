"""Webhooks to a real HTTP receiver: signed (both schemes), retried, logged, disabled on 410."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select
from standardwebhooks import Webhook

from node.core.webhooks import WebhookEvent, WebhookSignatureError, verify_pacspace_signature
from node.store.db import Store
from node.store.keys import ensure_tenant
from node.store.migrate import upgrade
from node.store.models import WebhookDeliveryRow, WebhookDeliveryStatus
from node.webhooks import endpoints
from node.webhooks.delivery import WebhookWorker
from node.webhooks.outbox import enqueue
from node.webhooks.url_policy import UrlPolicy
from tests.conftest import LOCAL_RECEIVERS, Deployment, RunningNode, start_node, wait_for_status
from tests.support import WebhookReceiver, sql, wait_until


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as rec:
        yield rec


@pytest.fixture
def hooked(deployment: Deployment, tmp_path: Path) -> Iterator[RunningNode]:
    node = start_node(deployment, tmp_path, webhook_poll_seconds=0.1, webhook_retry_base_seconds=0.1, **LOCAL_RECEIVERS)
    yield node
    node.stop()


# What a request subscribing to an unknown event (or to webhook.test, which is not subscribable) is told.
UNKNOWN_EVENT = (
    "Input should be 'delta.verified', 'batch.verified', 'batch.anchored', 'batch.reorged', "
    "'checkpoint.created', 'checkpoint.countersigned', 'compare.settled' or 'compare.disputed'"
)


def _delta(ref: str, customer: str = "w1", amount: int = 42) -> dict[str, Any]:
    return {"customerId": customer, "delta": amount, "reason": "usage", "referenceId": ref}


def test_delta_verified_is_delivered_signed_both_ways(hooked: RunningNode, receiver: WebhookReceiver) -> None:
    with hooked.client() as client:
        created = client.post(
            "/v1/webhooks", json={"url": receiver.url, "events": ["delta.verified", "batch.anchored"]}
        ).json()
        secret = created["secret"]
        assert secret.startswith("whsec_") and "secret" not in client.get(f"/v1/webhooks/{created['id']}").json()
        receipt = client.post("/v1/balance/delta", json=_delta("wh1")).json()
        wait_for_status(client, receipt["receiptId"], "verified")
    receiver.wait_for(2)
    by_type = {json.loads(body)["type"]: (headers, body) for headers, body in receiver.received}
    headers, body = by_type["delta.verified"]
    event = json.loads(body)
    assert event["receiptId"] == receipt["receiptId"] and event["fingerprint"] == receipt["fingerprint"]
    assert event["verification"] == {"verified": True, "discrepancies": []} and event["status"] == "success"
    assert event["verifiedAt"].endswith("Z") and event["delta"] == 42 and event["customerIndex"] == 0
    assert {"customerId", "referenceId", "logIndex", "batchId", "txHash", "blockNumber", "id"} <= set(event)
    assert headers["pacspace-event"] == "delta.verified"
    assert headers["idempotency-key"] == f"{receipt['receiptId']}:default"
    verify_pacspace_signature(secret=secret, header=headers["pacspace-signature"], body=body, now=int(time.time()))
    with pytest.raises(WebhookSignatureError):
        verify_pacspace_signature(
            secret=secret, header=headers["pacspace-signature"], body=body + b" ", now=int(time.time())
        )
    with pytest.raises(WebhookSignatureError, match="more than 300"):
        verify_pacspace_signature(
            secret=secret, header=headers["pacspace-signature"], body=body, now=int(time.time()) + 600
        )
    # An off-the-shelf Standard Webhooks verifier accepts the same delivery.
    assert Webhook(secret).verify(
        body, {k: headers[k] for k in ("webhook-id", "webhook-timestamp", "webhook-signature")}
    )
    assert json.loads(by_type["batch.anchored"][1])["receiptCount"] == 1


def test_failures_are_retried_logged_and_redeliverable(hooked: RunningNode, receiver: WebhookReceiver) -> None:
    receiver.script = [500, 503]
    with hooked.client() as client:
        endpoint = client.post("/v1/webhooks", json={"url": receiver.url, "events": ["delta.verified"]}).json()
        client.post("/v1/balance/delta", json=_delta("retry1"))
        receiver.wait_for(3, timeout=30)
        log = client.get(f"/v1/webhooks/{endpoint['id']}/deliveries").json()["deliveries"]
        deadline = time.monotonic() + 10
        while log[0]["status"] != "delivered":
            assert time.monotonic() < deadline, log
            time.sleep(0.1)
            log = client.get(f"/v1/webhooks/{endpoint['id']}/deliveries").json()["deliveries"]
        delivery = log[0]
        assert delivery["attempts"] == 3
        assert [a["statusCode"] for a in delivery["log"]] == [500, 503, 200]
        assert all(a["latencyMs"] >= 0 for a in delivery["log"]) and delivery["log"][-1]["response"] == "ok"
        again = client.post(f"/v1/webhooks/{endpoint['id']}/deliveries/{delivery['id']}/redeliver")
        assert again.status_code == 202
        receiver.wait_for(4)
    ids = [json.loads(body)["id"] for _h, body in receiver.received]
    assert len(set(ids)) == 1, "a retry and a redelivery carry the same event id for receivers to dedupe"


def test_410_gone_disables_the_endpoint(hooked: RunningNode, receiver: WebhookReceiver) -> None:
    receiver.script = [410]
    with hooked.client() as client:
        endpoint = client.post("/v1/webhooks", json={"url": receiver.url, "events": ["delta.verified"]}).json()
        client.post("/v1/balance/delta", json=_delta("gone1"))
        receiver.wait_for(1)
        deadline = time.monotonic() + 10
        while client.get(f"/v1/webhooks/{endpoint['id']}").json()["enabled"]:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        state = client.get(f"/v1/webhooks/{endpoint['id']}").json()
        assert "410" in state["disabledReason"]
        # A witness endpoint, enabled, on the same worker: once it has gone2's event, the disabled
        # endpoint would have had its own by then (each poll sends every endpoint's due deliveries).
        witness = f"{receiver.base}/witness"
        client.post("/v1/webhooks", json={"url": witness, "events": ["delta.verified"]})
        client.post("/v1/balance/delta", json=_delta("gone2"))
        receiver.wait_for_match(lambda event: event.get("referenceId") == "gone2")
        log = client.get(f"/v1/webhooks/{endpoint['id']}/deliveries").json()["deliveries"]
        assert len(log) == 1, "nothing more was queued for the disabled endpoint"
    assert receiver.paths.count("/hooks") == 1, "a disabled endpoint gets nothing more"


def test_rotation_signs_with_old_and_new_secret(hooked: RunningNode, receiver: WebhookReceiver) -> None:
    with hooked.client() as client:
        endpoint = client.post("/v1/webhooks", json={"url": receiver.url, "events": ["delta.verified"]}).json()
        rotated = client.post(f"/v1/webhooks/{endpoint['id']}/rotate-secret", json={"graceSeconds": 3600}).json()
        assert rotated["secret"] != endpoint["secret"] and rotated["previousSecretActiveUntil"]
        test = client.post(f"/v1/webhooks/{endpoint['id']}/test")
        assert test.status_code == 202
    headers, body = receiver.wait_for(1)[0]
    assert json.loads(body)["type"] == "webhook.test"
    assert headers["pacspace-signature"].count("v1=") == 2
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (endpoint["secret"], rotated["secret"]):
        verify_pacspace_signature(secret=secret, header=headers["pacspace-signature"], body=body, now=int(time.time()))
        assert Webhook(secret).verify(
            body, {k: headers[k] for k in ("webhook-id", "webhook-timestamp", "webhook-signature")}
        )


def test_aggregated_endpoint_gets_one_batch_verified(
    deployment: Deployment, tmp_path: Path, receiver: WebhookReceiver
) -> None:
    node = start_node(deployment, tmp_path, webhook_poll_seconds=0.1, run_anchorer=False, **LOCAL_RECEIVERS)
    try:
        with node.client() as client:
            client.post("/v1/webhooks", json={"url": receiver.url, "events": ["delta.verified"], "aggregate": True})
            receipts = [client.post("/v1/balance/delta", json=_delta(f"agg{i}", amount=i + 1)).json() for i in range(5)]
            node.services.anchor.run_once()
            headers, body = receiver.wait_for(1)[0]
            # The cycle queued every event before run_once returned: once none is left to send,
            # nothing more can arrive.
            unsent = "select count(*) from webhook_deliveries where status <> 'delivered'"
            wait_until(lambda: sql(node.db_url, unsent) == [(0,)], "a delivery is still queued")
            assert sql(node.db_url, "select count(*) from webhook_deliveries") == [(1,)], "one event per batch"
    finally:
        node.stop()
    assert len(receiver.received) == 1
    event = json.loads(body)
    assert event["type"] == "batch.verified" and headers["pacspace-event"] == "batch.verified"
    assert [r["receiptId"] for r in event["receipts"]] == [r["receiptId"] for r in receipts]
    assert (event["page"], event["pages"], event["batch"]["count"]) == (1, 1, 5)


def test_endpoint_management_and_url_policy(hooked: RunningNode, receiver: WebhookReceiver) -> None:
    with hooked.client() as client:
        for url, fragment in (
            ("http://example.com/hook", "https"),
            ("https://169.254.169.254/latest/meta-data", "link-local"),
            ("http://metadata.google.internal/x", "metadata"),
            ("ftp://127.0.0.1/x", "https"),
        ):
            refused = client.post("/v1/webhooks", json={"url": url, "events": ["delta.verified"]})
            assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "url", url
            assert fragment in refused.text
        bad_event = client.post("/v1/webhooks", json={"url": receiver.url, "events": ["delta.deleted"]})
        assert bad_event.status_code == 422
        assert bad_event.json()["errors"] == [{"field": "events.0", "message": UNKNOWN_EVENT}]
        test_only = client.post("/v1/webhooks", json={"url": receiver.url, "events": ["webhook.test"]})
        assert test_only.status_code == 422 and test_only.json()["errors"][0]["message"] == UNKNOWN_EVENT
        endpoint = client.post("/v1/webhooks", json={"url": receiver.url, "events": ["delta.verified"]}).json()
        updated = client.patch(
            f"/v1/webhooks/{endpoint['id']}", json={"events": ["checkpoint.created", "batch.reorged"], "enabled": False}
        ).json()
        assert updated["events"] == ["batch.reorged", "checkpoint.created"] and updated["enabled"] is False
        assert [w["id"] for w in client.get("/v1/webhooks").json()["webhooks"]] == [endpoint["id"]]
        assert client.delete(f"/v1/webhooks/{endpoint['id']}").status_code == 204
        assert client.get(f"/v1/webhooks/{endpoint['id']}").status_code == 404


def test_undeliverable_events_fail_after_three_days(hooked: RunningNode, receiver: WebhookReceiver) -> None:
    receiver.script = [500] * 10
    with hooked.client() as client:
        client.post("/v1/webhooks", json={"url": receiver.url, "events": ["delta.verified"]})
    hooked.stop()  # only this worker, with its own clock, delivers from here on
    store = Store(hooked.db_url)
    now = [time.time()]
    with store.writer() as session:
        enqueue(
            session,
            tenant="default",
            event_type=WebhookEvent.TEST,
            payloads=[({"message": "x"}, "k:default")],
            now=now[0],
            subscribed_as=("delta.verified",),
        )
        session.commit()
    policy = UrlPolicy(allow_loopback_http=True, private_hosts=frozenset({"127.0.0.1"}))
    worker = WebhookWorker(store=store, policy=policy, clock=lambda: now[0])
    try:
        assert worker.deliver_due() == 1
        now[0] += 3 * 86_400
        assert worker.deliver_due() == 1
        assert worker.deliver_due() == 0
    finally:
        worker.close()
    with store.session() as session:
        rows = session.exec(select(WebhookDeliveryRow)).all()
    store.close()
    assert [(r.status, r.attempts, r.last_status_code) for r in rows] == [("failed", 2, 500)]


def test_check_url_refuses_names_that_resolve_to_metadata_addresses() -> None:
    from node.core.errors import InvalidInput

    def policy(answer: str) -> UrlPolicy:
        return UrlPolicy(private_hosts=frozenset({"innocent.example"}), resolve=lambda _h: [answer])

    with pytest.raises(InvalidInput, match="link-local"):  # even for a host allowed to be private
        policy("169.254.169.254").check("https://innocent.example/x")
    with pytest.raises(InvalidInput, match=r"link-local|metadata"):
        policy("fd00:ec2::254").check("https://innocent.example/x")
    assert policy("93.184.216.34").check("https://innocent.example/x").address == "93.184.216.34"


def test_delivery_statuses_are_stored_as_the_same_strings(db_url: str) -> None:
    """WebhookDeliveryStatus reads the rows an older node wrote and writes the strings it wrote."""
    store = Store(db_url)
    try:
        upgrade(store)
        with store.writer() as session:
            ensure_tenant(session=session, tenant="default")
            session.commit()
        endpoint = endpoints.create_endpoint(
            store,
            tenant="default",
            url="http://127.0.0.1:9/hook",
            events=["delta.verified"],
            aggregate=False,
            policy=UrlPolicy(allow_loopback_http=True, private_hosts=frozenset({"127.0.0.1"})),
        )
        assert endpoints.send_test_event(store, endpoint) is not None
        sql(
            db_url,
            "insert into webhook_deliveries (id, tenant, endpoint_id, event_type, payload, idempotency_key, status,"
            " attempts, next_attempt_at, created_at) values ('evt_old', 'default', :e, 'delta.verified', '{}', 'k',"
            " 'failed', 3, 0, 1)",
            {"e": endpoint.id},
        )
        stored = dict(sql(db_url, "select id, status from webhook_deliveries"))
        assert stored.pop("evt_old") == "failed" and list(stored.values()) == ["pending"]
        failed = endpoints.list_deliveries(store, endpoint, status=WebhookDeliveryStatus.FAILED)
        assert [(d.row.id, d.row.status) for d in failed] == [("evt_old", WebhookDeliveryStatus.FAILED)]
        endpoints.redeliver(store, endpoint, delivery_id="evt_old")
        assert sql(db_url, "select status from webhook_deliveries where id = 'evt_old'") == [("pending",)]
        pending = endpoints.list_deliveries(store, endpoint, status=WebhookDeliveryStatus.PENDING)
        assert {d.row.id for d in pending} == {"evt_old", *stored}
    finally:
        store.close()
