"""The dashboard in a real browser (Debian's Chromium driven by Playwright) against a real node,
a real Anvil and a real webhook receiver: what an operator does, click by click.

Every test signs in on its own (tests may run on different xdist workers). A screenshot of each
page goes to test-output/dashboard/ (git-ignored); docs/screenshots/ holds copies of the main ones.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect, sync_playwright

from node.core.webhooks import verify_pacspace_signature
from node.dev.chain import Anvil
from node.ledger.verification import CHECK_NAMES
from tests.conftest import LOCAL_RECEIVERS, REPO, RunningNode, deploy_fresh, start_node, wait_for_status
from tests.support import WebhookReceiver

SHOTS = REPO / "test-output" / "dashboard"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PAGES = ["", "/keys", "/webhooks", "/events", "/batches", "/receipts", "/customers"]


@pytest.fixture(scope="module")
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as rec:
        yield rec


@pytest.fixture(scope="module")
def node(anvil: Anvil, artifact: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningNode]:
    running = start_node(
        deploy_fresh(anvil.rpc_url, artifact),
        tmp_path_factory.mktemp("browser"),
        webhook_poll_seconds=0.1,
        explorer_url="https://explorer.example",
        **LOCAL_RECEIVERS,
        native_price="3000",
    )
    yield running
    running.stop()


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield chromium
    chromium.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    ctx.set_default_timeout(15_000)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    p = context.new_page()
    p.on("dialog", lambda dialog: dialog.accept())  # "Revoke …?" and the like: the operator says yes
    return p


def shot(page: Page, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    print(f"screenshot: {path}")
    return path


def sign_in(page: Page, node: RunningNode, token: str | None = None) -> None:
    page.goto(node.base_url + "/dashboard/sign-in")
    page.get_by_label("Admin API key").fill(token or node.token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1, name="Overview")).to_be_visible()


def unnamed_fields(page: Page) -> list[str]:
    """Form fields (not hidden) that a screen reader could not name."""
    result: list[str] = page.evaluate(
        """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea, button')]
            .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                          && !el.getAttribute('aria-labelledby') && !(el.tagName === 'BUTTON' && el.innerText.trim()))
            .map(el => el.outerHTML)"""
    )
    return result


def record(node: RunningNode, customer: str, reference: str, amount: int = 250) -> str:
    with node.client() as api:
        receipt = api.post(
            "/v1/balance/delta",
            json={"customerId": customer, "delta": amount, "reason": "usage", "referenceId": reference},
        ).json()
        wait_for_status(api, receipt["receiptId"], "verified")
    return str(receipt["receiptId"])


def test_sign_in_with_the_keyboard_then_the_overview(page: Page, node: RunningNode) -> None:
    record(node, "cust_overview", "ov-1", 1200)
    page.goto(node.base_url + "/dashboard")
    expect(page).to_have_url(node.base_url + "/dashboard/sign-in?next=/dashboard")
    shot(page, "sign-in")
    assert unnamed_fields(page) == []
    for _ in range(10):  # Tab from the top of the page reaches the key field, then the button
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "api-key":
            break
    else:
        raise AssertionError("Tab never reached the API key field")
    page.keyboard.type(node.token)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Sign in"
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1, name="Overview")).to_be_visible()
    expect(page.get_by_role("figure", name="Deltas recorded and verified per day")).to_be_visible()
    expect(page.locator("#chart-deltas-title + svg rect.series-0")).to_have_count(30)
    last_batch = page.locator(".card", has_text="Last batch")
    expect(last_batch).to_contain_text("verified")
    href = last_batch.locator("a[href*='/tx/']").get_attribute("href") or ""
    assert href.startswith("https://explorer.example/tx/0x"), href
    expect(page.locator(".card", has_text="Pending now")).to_contain_text("0")
    shot(page, "overview")


def test_every_page_fits_a_narrow_screen_and_names_its_fields(page: Page, node: RunningNode) -> None:
    receipt_id = record(node, "cust_narrow_with_a_rather_long_identifier_0123456789", "narrow-1")
    sign_in(page, node)
    page.set_viewport_size({"width": 375, "height": 800})
    for path in [
        *PAGES,
        f"/receipts/{receipt_id}/verify",
        "/customer?id=cust_narrow_with_a_rather_long_identifier_0123456789",
    ]:
        page.goto(node.base_url + "/dashboard" + path)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path or '/'} is {overflow}px wider than a 375px screen"
        assert unnamed_fields(page) == [], path
        expect(page.get_by_role("navigation", name="Dashboard")).to_be_visible()
        expect(page.get_by_role("main")).to_be_visible()
    shot(page, "narrow-customer")


def test_create_a_key_see_it_once_then_revoke_it(page: Page, node: RunningNode) -> None:
    sign_in(page, node)
    page.get_by_role("link", name="API keys").click()
    page.get_by_label("Name", exact=True).fill("billing service")
    page.get_by_label("write: record deltas").check()
    page.get_by_role("button", name="Create key").click()
    secret = page.get_by_label("The new API key").input_value()
    assert secret.startswith("sk_test_")
    expect(page.get_by_text("it is shown only this once")).to_be_visible()
    with node.client(secret) as api:  # the shown key works, with its scope
        created = api.post(
            "/v1/balance/delta", json={"customerId": "c", "delta": 1, "reason": "r", "referenceId": "key-made"}
        )
        assert created.status_code == 201
        assert api.get("/v1/keys").status_code == 403
    page.goto(node.base_url + "/dashboard/keys")
    assert secret not in page.content()
    row = page.get_by_role("row", name="billing service")
    expect(row).to_contain_text("write")
    expect(row).to_contain_text("active")
    shot(page, "keys")
    row.get_by_role("button", name="Revoke").click()
    expect(page.get_by_text("The key is revoked")).to_be_visible()
    expect(page.get_by_role("row", name="billing service")).to_contain_text("revoked")
    with node.client(secret) as api:
        assert api.get("/v1/receipts/rcpt_x").status_code == 401

    page.get_by_label("Name", exact=True).fill("cust_portal key")
    page.get_by_label("read: receipts, proofs, balances").check()
    page.get_by_label("Customer (optional)").fill("cust_portal")
    page.get_by_role("button", name="Create key").click()
    portal = page.get_by_label("The new API key").input_value()
    expect(page.get_by_role("row", name="cust_portal key")).to_contain_text("cust_portal")
    with node.client(portal) as api:
        assert api.get("/v1/balance/derive", params={"customerId": "someone-else"}).status_code == 404


def test_add_a_webhook_send_a_test_event_and_see_it_delivered(
    page: Page, node: RunningNode, receiver: WebhookReceiver
) -> None:
    sign_in(page, node)
    page.get_by_role("link", name="Webhooks").click()
    page.get_by_label("URL").fill(receiver.url)
    page.get_by_label("batch.anchored").check()
    page.get_by_role("button", name="Add endpoint").click()
    secret = page.get_by_label("Signing secret").input_value()
    assert secret.startswith("whsec_")
    expect(page.get_by_role("row", name=receiver.url)).to_contain_text("batch.anchored, delta.verified")
    shot(page, "webhooks")
    page.get_by_role("link", name="Open the endpoint").click()
    page.get_by_role("button", name="Send a test event").click()
    expect(page.get_by_text("A webhook.test event is queued")).to_be_visible()
    headers, body = receiver.wait_for_match(lambda e: e["type"] == "webhook.test")
    verify_pacspace_signature(secret=secret, header=headers["pacspace-signature"], body=body, now=int(time.time()))
    delivered = page.get_by_role("row", name="webhook.test")
    for _ in range(100):
        page.reload()
        if "delivered" in delivered.inner_text():
            break
        time.sleep(0.1)
    expect(delivered).to_contain_text("200")
    expect(delivered).to_contain_text(" ms")
    page.get_by_role("heading", name="Delivery log").scroll_into_view_if_needed()
    shot(page, "webhook")

    before = len(receiver.received)
    delivered.get_by_role("button", name="Redeliver").click()
    expect(page.get_by_text("queued to be sent again")).to_be_visible()
    receiver.wait_for_match(lambda e: e["type"] == "webhook.test" and len(receiver.received) > before)

    page.get_by_role("button", name="Rotate secret").click()
    rotated = page.get_by_label("Signing secret").input_value()
    assert rotated.startswith("whsec_") and rotated != secret
    page.get_by_role("button", name="Disable").click()
    expect(page.get_by_role("button", name="Enable")).to_be_visible()
    with node.client() as api:
        hooks = api.get("/v1/webhooks").json()["webhooks"]
        mine = next(h for h in hooks if h["url"] == receiver.url)
        assert mine["enabled"] is False and mine["previousSecretActiveUntil"] is not None


def test_find_a_receipt_verify_it_against_the_chain_and_download_its_bundle(page: Page, node: RunningNode) -> None:
    receipt_id = record(node, "cust_receipt", "invoice-2025-001", -4200)
    sign_in(page, node)
    page.get_by_role("link", name="Receipts").click()
    page.get_by_label("Receipt id or referenceId").fill(receipt_id)
    page.get_by_role("button", name="Find").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(receipt_id)
    page.get_by_role("link", name="← Receipts").click()
    page.get_by_label("Receipt id or referenceId").fill("invoice-2025-001")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_contain_text(receipt_id)
    expect(page.locator("ol.timeline li.done")).to_have_count(3)
    expect(page.get_by_text("-4,200")).to_be_visible()

    page.get_by_role("link", name="Verify against the chain").click()
    expect(page.locator("#verdict")).to_have_text("Verified: all 14 checks passed.")
    checks = page.evaluate(
        "() => [...document.querySelectorAll('ul.checks li')].map(li => [li.querySelector('strong').innerText,"
        " li.querySelector('.mark').innerText])"
    )
    assert checks == [[name, "✓"] for name in CHECK_NAMES]
    page.locator("#verification").scroll_into_view_if_needed()
    shot(page, "receipt-verified")

    with page.expect_download() as download:
        page.get_by_role("link", name="Download the proof bundle").click()
    assert download.value.suggested_filename == f"{receipt_id}.json"
    bundle = json.loads(Path(download.value.path()).read_text())
    with node.client() as api:
        assert bundle == api.get(f"/v1/receipts/{receipt_id}/proof").json()

    page.get_by_role("link", name="Batches").click()
    row = page.get_by_role("row").filter(has=page.locator("a[href*='/tx/']")).first
    expect(row).to_contain_text("verified")
    assert (row.locator("a[href*='/tx/']").get_attribute("href") or "").endswith(bundle["batch"]["txHash"])
    shot(page, "batches")

    page.goto(node.base_url + "/dashboard/receipts?q=no-such-reference")
    expect(page.get_by_role("alert")).to_contain_text("No receipt has the id or referenceId")


def test_a_customer_with_a_checkpoint_whose_token_can_be_copied(
    page: Page, context: BrowserContext, node: RunningNode
) -> None:
    record(node, "cust_checkpoint", "cp-1", 900)
    record(node, "cust_checkpoint", "cp-2", -300)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=node.base_url)
    sign_in(page, node)
    page.get_by_role("link", name="Customers").click()
    page.get_by_role("link", name="cust_checkpoint").click()
    expect(page.locator(".card", has_text="Balance")).to_contain_text("+600")
    page.get_by_role("button", name="Create checkpoint").click()
    token = page.get_by_label("Proof token", exact=True).input_value()
    assert token.startswith("0x02")  # protocol v2 on the v2 dev contract
    with node.client() as api:
        stored = api.get("/v1/checkpoints", params={"customerId": "cust_checkpoint"}).json()["checkpoints"]
    assert [c["proofToken"] for c in stored] == [token] and stored[0]["closingBalance"] == 600
    page.get_by_role("heading", name="Checkpoints").scroll_into_view_if_needed()
    shot(page, "customer")
    page.locator("#new-checkpoint").get_by_role("button", name="Copy").click()
    expect(page.locator("#live-status")).to_have_text("Copied to the clipboard.")
    assert page.evaluate("navigator.clipboard.readText()") == token
    page.get_by_role("button", name="Create checkpoint").click()  # nothing new is verified since
    expect(page.locator("#from_index-error")).to_contain_text("nothing to checkpoint")


def test_a_form_with_a_forged_csrf_token_is_refused_and_changes_nothing(page: Page, node: RunningNode) -> None:
    sign_in(page, node)
    page.goto(node.base_url + "/dashboard/keys")
    page.get_by_label("Name", exact=True).fill("forged key")
    page.locator('form[action$="/dashboard/keys"] input[name=csrf_token]').evaluate("field => field.value = 'forged'")
    page.get_by_role("button", name="Create key").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("This form was refused")
    expect(page.get_by_role("alert")).to_contain_text("Nothing was changed")
    shot(page, "csrf-refused")
    with node.client() as api:
        assert not any(k["name"] == "forged key" for k in api.get("/v1/keys").json()["keys"])


def test_sign_out_drops_the_session(page: Page, context: BrowserContext, node: RunningNode) -> None:
    sign_in(page, node)
    assert any(c["name"] == "pacspace_session" for c in context.cookies())
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You have signed out.")).to_be_visible()
    assert not any(c["name"] == "pacspace_session" for c in context.cookies())
    page.goto(node.base_url + "/dashboard/keys")
    expect(page).to_have_url(node.base_url + "/dashboard/sign-in?next=/dashboard/keys")
    expect(page.get_by_label("Admin API key")).to_be_visible()


def test_map_an_event_type_and_see_its_events_become_deltas(page: Page, node: RunningNode) -> None:
    sign_in(page, node)
    page.get_by_role("link", name="CloudEvents").click()
    expect(page.get_by_role("heading", level=1, name="CloudEvents")).to_be_visible()
    page.get_by_label("Event type").fill("llm.tokens")
    page.get_by_label("Quantity field").fill("usage.tokens")
    page.get_by_label("Multiplier").fill("-0.5")
    page.get_by_label("Reason template (optional)").fill("{quantity} {data.model} tokens")
    page.get_by_role("button", name="Save mapping").click()
    expect(page.get_by_text("The mapping is saved")).to_be_visible()
    row = page.get_by_role("row", name="llm.tokens")
    expect(row).to_contain_text("data.usage.tokens")
    expect(row).to_contain_text("-0.5")
    shot(page, "events")
    event = {"specversion": "1.0", "id": "browser-1", "source": "gw", "type": "llm.tokens", "subject": "cust_events"}
    with node.client() as api:
        recorded = api.post(
            "/v1/events",
            headers={"Content-Type": "application/cloudevents+json"},
            json={**event, "data": {"model": "m2", "usage": {"tokens": 300}}},
        )
        assert recorded.status_code == 201, recorded.text
        assert (recorded.json()["delta"], recorded.json()["reason"]) == (-150, "300 m2 tokens")
    row.get_by_role("button", name="Remove").click()
    expect(page.get_by_text("The mapping is removed")).to_be_visible()
    expect(page.get_by_role("row", name="llm.tokens")).to_have_count(0)
