"""The customer's portal over plain HTTP against a real node and chain: who may sign in, that every page
shows the signed-in customer's records and nothing of another customer or tenant (the same customer id
in another tenant included), downloads equal what the API gives the same key, comparisons from the
portal, CSRF on every form, and sessions that do not cross between the portal and the dashboard.

The browser journey (Playwright, Chromium) is tests/e2e/test_portal_browser.py."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from node.dev.chain import Anvil
from tests.conftest import RunningNode, create_key, deploy_fresh, start_node, wait_for_status
from tests.integration.test_dashboard import csrf_of, fresh_address, set_cookies


@dataclass
class Portal:
    node: RunningNode
    key: str  # default/cust_a's customer key
    own: list[str]  # cust_a's receipt ids
    foreign: dict[str, str]  # what must never show: receipt ids and references of others
    comparison: str  # a comparison of default/cust_b
    own_comparison: str

    def browser(self) -> httpx.Client:
        return httpx.Client(base_url=self.node.base_url, headers={"X-Forwarded-For": fresh_address()}, timeout=30)


def _record(client: httpx.Client, customer: str, reference: str, amount: int) -> str:
    made = client.post(
        "/v1/balance/delta", json={"customerId": customer, "delta": amount, "reason": "usage", "referenceId": reference}
    )
    assert made.status_code == 201, made.text
    return str(made.json()["receiptId"])


@pytest.fixture(scope="module")
def portal(anvil: Anvil, artifact: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    node = start_node(deploy_fresh(anvil.rpc_url, artifact), tmp_path_factory.mktemp("portal"))
    try:
        other_admin = create_key(node.db_url, tenant="other")
        with node.client() as api, node.client(other_admin) as other:
            own = [_record(api, "cust_a", "a-ref-1", 1200), _record(api, "cust_a", "a-ref-2", -200)]
            b = _record(api, "cust_b", "b-secret-ref", 777)
            other_a = _record(other, "cust_a", "other-tenant-ref", 31337)
            for client, receipt in ((api, own[-1]), (api, b), (other, other_a)):
                wait_for_status(client, receipt, "verified")
            api.post("/v1/checkpoints", json={"customerId": "cust_a"}).raise_for_status()
            api.post("/v1/checkpoints", json={"customerId": "cust_b"}).raise_for_status()
            other.post("/v1/checkpoints", json={"customerId": "cust_a"}).raise_for_status()
            cmp_b = api.post("/v1/balance/compare", params={"customerId": "cust_b"}, json={"theirBalance": 1}).json()
            cmp_a = api.post(
                "/v1/balance/compare",
                params={"customerId": "cust_a"},
                json={"theirDeltas": [{"referenceId": "a-ref-1", "delta": 1100}]},
            ).json()
        key = create_key(node.db_url, scope="read", customer_id="cust_a")
        yield Portal(
            node,
            key,
            own,
            {
                "b": b,
                "b-ref": "b-secret-ref",
                "other": other_a,
                "other-ref": "other-tenant-ref",
                "cmp": cmp_b["comparisonId"],
            },
            cmp_b["comparisonId"],
            cmp_a["comparisonId"],
        )
    finally:
        node.stop()


def sign_in(browser: httpx.Client, token: str) -> str:
    form = browser.get("/portal/sign-in")
    answer = browser.post("/portal/sign-in", data={"api_key": token, "csrf_token": csrf_of(form.text)})
    assert answer.status_code == 303, answer.text
    page = browser.get("/portal")
    assert page.status_code == 200
    return csrf_of(page.text)


def test_only_a_customer_key_signs_in(portal: Portal) -> None:
    db = portal.node.db_url
    for token, words in (
        (portal.node.token, "The portal takes a customer key"),
        (create_key(db, scope="write"), "The portal takes a customer key"),
        (create_key(db, scope="read"), "The portal takes a customer key"),
        ("sk_test_" + "0" * 16 + "_" + "x" * 43, "That API key is not valid"),
    ):
        with portal.browser() as browser:
            form = browser.get("/portal/sign-in")
            answer = browser.post("/portal/sign-in", data={"api_key": token, "csrf_token": csrf_of(form.text)})
            assert answer.status_code in (401, 403) and words in answer.text
            assert "pacspace_portal" not in set_cookies(answer)
            assert browser.get("/portal").status_code == 303
    with portal.browser() as browser:
        form = browser.get("/portal/sign-in")
        answer = browser.post("/portal/sign-in", data={"api_key": portal.key, "csrf_token": csrf_of(form.text)})
        cookie = set_cookies(answer)["pacspace_portal"]
        assert all(flag in cookie for flag in ("HttpOnly", "SameSite=lax", "Path=/portal"))
        assert answer.headers["location"] == "/portal"


def test_every_page_shows_the_customer_its_own_records_and_nothing_else(portal: Portal) -> None:
    with portal.browser() as browser:
        sign_in(browser, portal.key)
        home = browser.get("/portal").text
        assert "+1,000" in home  # 1200 - 200, verified
        pages = [
            "/portal",
            "/portal/deltas",
            "/portal/checkpoints",
            "/portal/comparisons",
            f"/portal/comparisons/{portal.own_comparison}",
            f"/portal/comparisons/{portal.own_comparison}/evidence.json",
            "/portal/export.jsonl",
        ]
        for receipt in portal.own:
            pages += [f"/portal/receipts/{receipt}", f"/portal/receipts/{receipt}/bundle.json"]
        pages.append(f"/portal/receipts/{portal.own[0]}/verify")
        for path in pages:
            answer = browser.get(path)
            assert answer.status_code == 200, (path, answer.status_code)
            for name, secret in portal.foreign.items():
                assert secret not in answer.text, (path, name)
            assert "31,337" not in answer.text and "+777" not in answer.text, path
        deltas = browser.get("/portal/deltas").text
        assert all(r in deltas for r in portal.own) and "a-ref-2" in deltas
        checkpoints = browser.get("/portal/checkpoints").text
        assert checkpoints.count("Proof token of chk_") == 1 and "not yet" in checkpoints
        verified = browser.get(f"/portal/receipts/{portal.own[0]}/verify").text
        assert "Verified: all 14 checks passed." in verified


def test_anothers_records_are_not_found(portal: Portal) -> None:
    with portal.browser() as browser:
        sign_in(browser, portal.key)
        for receipt in (portal.foreign["b"], portal.foreign["other"]):
            for suffix in ("", "/verify", "/bundle.json"):
                answer = browser.get(f"/portal/receipts/{receipt}{suffix}")
                assert answer.status_code == 404, (receipt, suffix)
                assert answer.headers["content-type"].startswith("text/html")
                assert "b-secret-ref" not in answer.text and "other-tenant-ref" not in answer.text
        for suffix in ("", "/evidence.json"):
            assert browser.get(f"/portal/comparisons/{portal.comparison}{suffix}").status_code == 404
        assert browser.get("/portal/no-such-page").status_code == 404
        # Query strings naming another customer are not parameters of any page.
        export = browser.get("/portal/export.jsonl", params={"customerId": "cust_b"})
        customers = {json.loads(line)["typedData"]["message"]["customerId"] for line in export.text.splitlines()}
        assert customers == {"cust_a"}


def test_downloads_equal_what_the_api_gives_the_same_key(portal: Portal) -> None:
    with portal.browser() as browser, portal.node.client(portal.key) as api:
        sign_in(browser, portal.key)
        export = browser.get("/portal/export.jsonl")
        assert export.headers["content-disposition"] == 'attachment; filename="cust_a.jsonl"'
        assert export.content == api.get("/v1/balance/export", params={"customerId": "cust_a"}).content
        bundle = browser.get(f"/portal/receipts/{portal.own[0]}/bundle.json").json()
        assert bundle == api.get(f"/v1/receipts/{portal.own[0]}/proof").json()
        pack = browser.get(f"/portal/comparisons/{portal.own_comparison}/evidence.json").json()
        assert pack == api.get(f"/v1/comparisons/{portal.own_comparison}/evidence").json()
        assert len(pack["bundles"]) == 2  # a-ref-1's amount differs, a-ref-2 is only on the record


def test_a_comparison_from_the_portal_is_always_the_customers_own(portal: Portal) -> None:
    with portal.browser() as browser:
        csrf = sign_in(browser, portal.key)
        refused = browser.post("/portal/comparisons", data={"their_balance": "5"})
        assert refused.status_code == 403 and "Nothing was changed" in refused.text
        bad = browser.post("/portal/comparisons", data={"csrf_token": csrf, "their_balance": "five"})
        assert bad.status_code == 422 and "must be a whole number" in bad.text
        answer = browser.post(
            "/portal/comparisons",
            data={"csrf_token": csrf, "their_balance": "1000", "customer_id": "cust_b", "customerId": "cust_b"},
        )
        assert answer.status_code == 303
        comparison_id = answer.headers["location"].rsplit("/", 1)[1]
        page = browser.get(answer.headers["location"]).text
        assert "The two views match." in page
    with portal.node.client() as api:
        stored = api.get(f"/v1/comparisons/{comparison_id}").json()
    assert stored["customerId"] == "cust_a" and stored["resolution"] == "match"


def test_a_variance_within_tolerance_shows_as_such_and_settles_nothing(portal: Portal) -> None:
    """A customer's key may not write: within the tenant's tolerance its comparison is within_tolerance
    (never auto_settled), and its page says so."""
    with portal.node.client() as api:
        api.put("/v1/settings", json={"tolerance": {"absolute": 100}}).raise_for_status()
        try:
            with portal.browser() as browser:
                csrf = sign_in(browser, portal.key)
                answer = browser.post("/portal/comparisons", data={"csrf_token": csrf, "their_balance": "1050"})
                assert answer.status_code == 303
                page = browser.get(answer.headers["location"])
                assert page.status_code == 200
                assert "The variance is within tolerance; nothing was settled" in page.text
            stored = api.get(f"/v1/comparisons/{answer.headers['location'].rsplit('/', 1)[1]}").json()
            assert stored["resolution"] == "within_tolerance" and stored["settlementReceiptId"] is None
        finally:
            api.put("/v1/settings", json={"tolerance": {}}).raise_for_status()


def test_sessions_do_not_cross_between_portal_and_dashboard(portal: Portal) -> None:
    with portal.browser() as browser:
        sign_in(browser, portal.key)
        token = browser.cookies["pacspace_portal"]
    with portal.browser() as dashboard:
        dashboard.cookies.set("pacspace_session", token, path="/dashboard")
        assert dashboard.get("/dashboard").status_code == 303  # a customer's session is no operator's
    with portal.browser() as operator:
        form = operator.get("/dashboard/sign-in")
        operator.post("/dashboard/sign-in", data={"api_key": portal.node.token, "csrf_token": csrf_of(form.text)})
        admin_session = operator.cookies["pacspace_session"]
    with portal.browser() as browser:
        browser.cookies.set("pacspace_portal", admin_session, path="/portal")
        assert browser.get("/portal").status_code == 303  # and an operator's is no customer's


def test_revoking_the_customer_key_ends_its_portal_session(portal: Portal) -> None:
    key = create_key(portal.node.db_url, scope="read", customer_id="cust_a")
    with portal.browser() as browser:
        sign_in(browser, key)
        with portal.node.client() as api:
            assert api.delete(f"/v1/keys/{key.split('_')[2]}").status_code == 200
        answer = browser.get("/portal/deltas")
        assert answer.status_code == 303 and answer.headers["location"].startswith("/portal/sign-in")
        assert re.search(r"notice=session_ended", answer.headers["location"])
