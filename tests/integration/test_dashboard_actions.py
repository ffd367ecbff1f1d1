"""Dashboard actions the API had and the dashboard lacked, over plain HTTP against a real node: rotating a
key, deleting a webhook endpoint, starting a comparison; the receipt page's confirmations; unknown
dashboard URLs answer a page; browsing the dashboard is not API usage."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from node.dev.chain import Anvil
from tests.conftest import LOCAL_RECEIVERS, create_key, deploy_fresh, start_node, wait_for_status
from tests.integration.test_dashboard import World, sign_in


@pytest.fixture(scope="module")
def world(anvil: Anvil, artifact: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    node = start_node(deploy_fresh(anvil.rpc_url, artifact), tmp_path_factory.mktemp("actions"), **LOCAL_RECEIVERS)
    try:
        with node.client() as client:
            receipt = client.post(
                "/v1/balance/delta",
                json={"customerId": "cust_act", "delta": 500, "reason": "usage", "referenceId": "act-1"},
            ).json()
            wait_for_status(client, receipt["receiptId"], "verified")
        yield World(node, receipt["receiptId"], "act-1", "cust_act")
    finally:
        node.stop()


def test_rotate_a_key_shows_the_new_secret_once_and_ends_the_old(world: World) -> None:
    old = create_key(world.node.db_url, scope="write")
    old_id = old.split("_")[2]
    with world.browser() as browser:
        csrf = sign_in(browser, world.node.token)
        page = browser.get("/dashboard/keys")
        assert f'action="/dashboard/keys/{old_id}/rotate"' in page.text
        answer = browser.post(f"/dashboard/keys/{old_id}/rotate", data={"csrf_token": csrf, "grace_seconds": "0"})
        assert answer.status_code == 201
        new = re.search(r'value="(sk_test_[^"]+)"', answer.text)
        assert new, answer.text
        with world.api(new.group(1)) as api:
            created = api.post(
                "/v1/balance/delta", json={"customerId": "c", "delta": 1, "reason": "r", "referenceId": "rotated"}
            )
            assert created.status_code == 201  # the new secret has the old one's write scope
        with world.api(old) as api:
            assert api.get("/v1/me").status_code == 401
        again = browser.post(f"/dashboard/keys/{old_id}/rotate", data={"csrf_token": csrf, "grace_seconds": "0"})
        assert again.status_code == 409 and "already revoked or rotated" in again.text
        assert new.group(1) not in browser.get("/dashboard/keys").text  # shown once
        forged = browser.post(f"/dashboard/keys/{new.group(1).split('_')[2]}/rotate", data={"csrf_token": "x"})
        assert forged.status_code == 403


def test_delete_a_webhook_endpoint(world: World) -> None:
    with world.api() as api:
        hook = api.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/hook", "events": ["delta.verified"]}).json()
    with world.browser() as browser:
        csrf = sign_in(browser, world.node.token)
        assert "Delete endpoint" in browser.get(f"/dashboard/webhooks/{hook['id']}").text
        answer = browser.post(f"/dashboard/webhooks/{hook['id']}/delete", data={"csrf_token": csrf})
        assert answer.status_code == 303 and answer.headers["location"].endswith("notice=webhook_deleted")
        assert "delivery log are deleted" in browser.get(answer.headers["location"]).text
    with world.api() as api:
        assert api.get(f"/v1/webhooks/{hook['id']}").status_code == 404


def test_start_a_comparison_from_the_customer_page(world: World) -> None:
    with world.browser() as browser:
        csrf = sign_in(browser, world.node.token)
        page = browser.get("/dashboard/customer", params={"id": "cust_act"})
        assert 'action="/dashboard/customer/compare#comparisons"' in page.text
        bad = browser.post(
            "/dashboard/customer/compare",
            data={"csrf_token": csrf, "customer_id": "cust_act", "their_deltas": "act-1,12.5"},
        )
        assert bad.status_code == 422 and "line 1: delta must be a whole number" in bad.text
        empty = browser.post("/dashboard/customer/compare", data={"csrf_token": csrf, "customer_id": "cust_act"})
        assert empty.status_code == 422 and "enter their balance, their deltas, or both" in empty.text
        answer = browser.post(
            "/dashboard/customer/compare",
            data={
                "csrf_token": csrf,
                "customer_id": "cust_act",
                "their_balance": "",
                "their_deltas": "referenceId,delta\nact-1,400\n",
            },
        )
        assert answer.status_code == 303
        comparison_id = answer.headers["location"].rsplit("/", 1)[1]
        shown = browser.get(answer.headers["location"])
        assert shown.status_code == 200 and comparison_id in shown.text
    with world.api() as api:
        stored = api.get(f"/v1/comparisons/{comparison_id}").json()
    assert stored["resolution"] == "needs_evidence" and stored["evidence"]["amountMismatch"][0]["theirs"] == 400


def test_receipt_page_counts_confirmations_sensibly(world: World) -> None:
    with world.api() as api:  # more blocks on top of the anchoring one
        for n in range(3):
            made = api.post(
                "/v1/balance/delta",
                json={"customerId": "cust_more", "delta": 1, "reason": "r", "referenceId": f"more-{n}"},
            ).json()
            wait_for_status(api, made["receiptId"], "verified")
        confirmations = api.get(f"/v1/receipts/{world.receipt_id}").json()["confirmations"]
    assert confirmations > 1
    with world.browser() as browser:
        sign_in(browser, world.node.token)
        page = browser.get(f"/dashboard/receipts/{world.receipt_id}").text
    # The chain may have moved on between the API's answer and the page: at least as many, never "n of 1".
    shown = re.search(r"(\d+) confirmations \(1 required\)", page)
    assert shown is not None and int(shown.group(1)) >= confirmations, page[-2000:]
    assert "of 1 confirmation" not in page


def test_unknown_dashboard_urls_answer_a_page(world: World) -> None:
    with world.browser() as browser:
        assert browser.get("/dashboard/no-such-page").status_code == 303  # sign in first, as for any page
        sign_in(browser, world.node.token)
        answer = browser.get("/dashboard/no-such-page/deeper")
        assert answer.status_code == 404
        assert answer.headers["content-type"].startswith("text/html")
        assert "There is no dashboard page at /dashboard/no-such-page/deeper" in answer.text
        assert answer.headers["content-security-policy"].startswith("default-src 'none'")
        assert browser.get("/dashboard/static/dashboard.css").status_code == 200  # still served


def test_browsing_the_dashboard_is_not_api_usage(world: World) -> None:
    with world.browser() as browser:
        sign_in(browser, world.node.token)
        pages = ("/dashboard", "/dashboard/keys", "/dashboard/customers", f"/dashboard/receipts/{world.receipt_id}")
        for path in pages:
            assert browser.get(path).status_code == 200
    with world.api() as api:
        api.get("/v1/me")
        report = api.get("/v1/usage").json()
    routes = {r["route"] for day in report["days"] for r in day["requests"]}
    assert "/v1/me" in routes
    assert not any(route.startswith(("/dashboard", "/portal")) for route in routes), routes
