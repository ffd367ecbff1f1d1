"""The customer's portal in a real browser (Debian's Chromium, Playwright) against a real node and chain:
what a customer does with the key its vendor handed over, click by click.

Screenshots go to test-output/portal/ (git-ignored); docs/screenshots/portal-*.png are copies of them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from node.dev.chain import Anvil
from node.ledger.verification import CHECK_NAMES
from tests.conftest import REPO, RunningNode, create_key, deploy_fresh, start_node, wait_for_status
from tests.e2e.test_dashboard_browser import browser, context, page, playwright, unnamed_fields

__all__ = ["browser", "context", "page", "playwright"]  # the dashboard's browser fixtures, shared
SHOTS = REPO / "test-output" / "portal"


@pytest.fixture(scope="module")
def node(anvil: Anvil, artifact: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningNode]:
    running = start_node(deploy_fresh(anvil.rpc_url, artifact), tmp_path_factory.mktemp("portal-browser"))
    with running.client() as api:
        last = ""
        for n, (amount, reason) in enumerate([(5000, "Top-up"), (-1200, "March usage"), (-800, "April usage")]):
            last = api.post(
                "/v1/balance/delta",
                json={"customerId": "cust_acme", "delta": amount, "reason": reason, "referenceId": f"acme-{n}"},
            ).json()["receiptId"]
        api.post(
            "/v1/balance/delta",
            json={"customerId": "cust_rival", "delta": 999, "reason": "hidden", "referenceId": "rival-secret"},
        )
        wait_for_status(api, last, "verified")
        api.post("/v1/checkpoints", json={"customerId": "cust_acme"}).raise_for_status()
    yield running
    running.stop()


def shot(page: Page, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_in(page: Page, node: RunningNode, token: str) -> None:
    page.goto(node.base_url + "/portal")
    expect(page).to_have_url(node.base_url + "/portal/sign-in?next=/portal")
    page.get_by_label("Customer API key").fill(token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1, name="Your record")).to_be_visible()


def test_a_customer_signs_in_sees_its_record_and_verifies_a_receipt(page: Page, node: RunningNode) -> None:
    key = create_key(node.db_url, scope="read", customer_id="cust_acme")
    page.goto(node.base_url + "/portal/sign-in")
    assert unnamed_fields(page) == []
    shot(page, "portal-sign-in")
    sign_in(page, node, key)
    expect(page.locator(".card", has_text="Balance")).to_contain_text("+3,000")
    expect(page.locator(".card", has_text="Pending")).to_contain_text("0")
    assert "rival" not in page.content()
    shot(page, "portal-home")

    page.get_by_role("link", name="Deltas", exact=True).click()
    expect(page.get_by_role("row", name="March usage")).to_contain_text("verified")
    page.get_by_role("row", name="March usage").get_by_role("link").click()
    page.get_by_role("link", name="Verify against the chain").click()
    expect(page.locator("#verdict")).to_have_text("Verified: all 14 checks passed.")
    marks = page.evaluate("() => [...document.querySelectorAll('ul.checks li .mark')].map(m => m.innerText)")
    assert marks == ["✓"] * len(CHECK_NAMES)
    page.locator("#verification").scroll_into_view_if_needed()
    shot(page, "portal-receipt-verified")

    page.get_by_role("link", name="Checkpoints", exact=True).click()
    expect(page.get_by_text("Countersigned")).to_be_visible()
    token = page.locator("textarea").first.input_value()
    assert token.startswith("0x02")
    shot(page, "portal-checkpoints")

    page.get_by_role("link", name="Your record").click()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download your export").click()
    lines = Path(download.value.path()).read_text().splitlines()
    assert [json.loads(line)["typedData"]["message"]["customerId"] for line in lines] == ["cust_acme"] * 3


def test_a_customer_compares_its_figures_and_downloads_the_evidence(page: Page, node: RunningNode) -> None:
    key = create_key(node.db_url, scope="read", customer_id="cust_acme")
    sign_in(page, node, key)
    page.get_by_role("link", name="Comparisons", exact=True).click()
    page.get_by_label("Your deltas (optional)").fill("acme-0,5000\nacme-1,-1200\nacme-2,-700\n")
    page.get_by_role("button", name="Compare").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Comparison cmp_")
    expect(page.locator(".notice.bad")).to_contain_text("beyond tolerance")
    expect(page.get_by_role("row", name="acme-2")).to_contain_text("-700")
    shot(page, "portal-comparison")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the evidence pack").click()
    pack = json.loads(Path(download.value.path()).read_text())
    assert pack["version"] == "pacspace.evidence.v2" and pack["comparison"]["customerId"] == "cust_acme"

    page.get_by_role("link", name="Comparisons", exact=True).click()
    page.get_by_label("Your balance (minor units, optional)").fill("lots")
    page.get_by_role("button", name="Compare").click()
    expect(page.locator("#theirBalance-error")).to_contain_text("whole number")


def test_an_operator_key_is_turned_away(page: Page, node: RunningNode) -> None:
    page.goto(node.base_url + "/portal/sign-in")
    page.get_by_label("Customer API key").fill(node.token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("The portal takes a customer key")
