"""The dashboard over plain HTTP against a real node: sessions and their cookies, CSRF on every
form, who may sign in, tenants kept apart, form errors as pages, assets served from the node.

The browser journey (Playwright and Chromium) is tests/e2e/test_dashboard_browser.py.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest

from node.dashboard import PREFIX, ROUTERS, STATIC_DIR
from node.dev.chain import Anvil
from tests.conftest import LOCAL_RECEIVERS, REPO, RunningNode, create_key, deploy_fresh, start_node, wait_for_status

TEMPLATES = REPO / "node" / "dashboard" / "templates"
_addresses = itertools.count(1)


def fresh_address() -> str:
    """A client address of its own (X-Forwarded-For, trusted from loopback as this node is configured),
    so failed sign-ins of one test do not draw from another's bucket."""
    n = next(_addresses)
    return f"10.9.{n // 250}.{n % 250 + 1}"


@dataclass
class World:
    node: RunningNode
    receipt_id: str
    reference_id: str
    customer_id: str

    def browser(self, address: str | None = None) -> httpx.Client:
        """A cookie-keeping client, like a browser (redirects not followed, to see them)."""
        headers = {"X-Forwarded-For": address or fresh_address()}
        return httpx.Client(base_url=self.node.base_url, headers=headers, timeout=30)

    def api(self, token: str | None = None) -> httpx.Client:
        return self.node.client(token)


@pytest.fixture(scope="module")
def world(anvil: Anvil, artifact: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    deployment = deploy_fresh(anvil.rpc_url, artifact)
    node = start_node(
        deployment,
        tmp_path_factory.mktemp("dashboard"),
        auth_failure_burst=5,
        auth_failure_per_second=0.01,
        forwarded_allow_ips="127.0.0.1",  # the test client stands for a proxy on loopback (X-Forwarded-*)
        **LOCAL_RECEIVERS,
    )
    try:
        with node.client() as client:
            receipt = client.post(
                "/v1/balance/delta",
                json={"customerId": "cust_dash", "delta": 700, "reason": "usage", "referenceId": "dash-ref-1"},
            ).json()
            wait_for_status(client, receipt["receiptId"], "verified")
        yield World(node, receipt["receiptId"], "dash-ref-1", "cust_dash")
    finally:
        node.stop()


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no csrf_token field on the page"
    return match.group(1)


def sign_in(browser: httpx.Client, token: str) -> str:
    """Sign in through the form; returns the session's CSRF token."""
    form = browser.get("/dashboard/sign-in")
    assert form.status_code == 200
    answer = browser.post("/dashboard/sign-in", data={"api_key": token, "csrf_token": csrf_of(form.text)})
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/dashboard"
    page = browser.get("/dashboard")
    assert page.status_code == 200
    return csrf_of(page.text)


def set_cookies(response: httpx.Response) -> dict[str, str]:
    return {h.split("=", 1)[0]: h for h in response.headers.get_list("set-cookie")}


# --- sessions ----------------------------------------------------------------------------


def test_session_cookie_is_httponly_samesite_scoped_and_secure_over_https(world: World) -> None:
    https = {"X-Forwarded-Proto": "https"}  # as a TLS-terminating proxy on loopback says
    with world.browser() as browser:
        form = browser.get("/dashboard/sign-in", headers=https)
        sign_in_cookie = set_cookies(form)["pacspace_sign_in"]
        assert all(flag in sign_in_cookie for flag in ("HttpOnly", "SameSite=strict", "Path=/dashboard", "Secure"))
        form_token = sign_in_cookie.split(";")[0].split("=", 1)[1]
        answer = browser.post(
            "/dashboard/sign-in",
            data={"api_key": world.node.token, "csrf_token": csrf_of(form.text)},
            headers={**https, "Cookie": f"pacspace_sign_in={form_token}"},  # httpx keeps Secure cookies off http
        )
        cookie = set_cookies(answer)["pacspace_session"]
        flags = ("HttpOnly", "SameSite=lax", "Path=/dashboard", "Secure", "Max-Age=28800")
        assert all(flag in cookie for flag in flags)
        assert world.node.token.split("_")[-1] not in cookie
    with world.browser() as browser:
        form = browser.get("/dashboard/sign-in")
        data = {"api_key": world.node.token, "csrf_token": csrf_of(form.text)}
        answer = browser.post("/dashboard/sign-in", data=data)
        assert "Secure" not in set_cookies(answer)["pacspace_session"]  # plain http: a Secure cookie would be lost


def test_pages_need_a_session_and_come_back_after_sign_in(world: World) -> None:
    with world.browser() as browser:
        answer = browser.get(f"/dashboard/receipts/{world.receipt_id}")
        assert answer.status_code == 303
        assert answer.headers["location"] == f"/dashboard/sign-in?next=/dashboard/receipts/{world.receipt_id}"
        form = browser.get(answer.headers["location"])
        assert f'name="next" value="/dashboard/receipts/{world.receipt_id}"' in form.text
        signed = browser.post(
            "/dashboard/sign-in",
            data={
                "api_key": world.node.token,
                "csrf_token": csrf_of(form.text),
                "next": f"/dashboard/receipts/{world.receipt_id}",
            },
        )
        assert signed.headers["location"] == f"/dashboard/receipts/{world.receipt_id}"
    for target in ("https://evil.example/", "//evil.example/dashboard", "/v1/keys", "/dashboard/../v1/keys"):
        with world.browser() as browser:
            form = browser.get("/dashboard/sign-in", params={"next": target})
            assert 'name="next" value="/dashboard"' in form.text, target
            answer = browser.post(
                "/dashboard/sign-in",
                data={"api_key": world.node.token, "csrf_token": csrf_of(form.text), "next": target},
            )
            assert answer.headers["location"] == "/dashboard", target  # never an open redirect


def test_only_admin_keys_sign_in(world: World) -> None:
    db = world.node.db_url
    for scope, customer, words in (
        ("write", None, "the write scope"),
        ("read", None, "the read scope"),
        ("read", world.customer_id, f"for customer {world.customer_id}"),
    ):
        with world.browser() as browser:
            form = browser.get("/dashboard/sign-in")
            answer = browser.post(
                "/dashboard/sign-in",
                data={"api_key": create_key(db, scope=scope, customer_id=customer), "csrf_token": csrf_of(form.text)},
            )
            assert answer.status_code == 403
            assert "Only an admin key can sign in" in answer.text and words in answer.text
            assert "pacspace_session" not in set_cookies(answer)
            assert browser.get("/dashboard").status_code == 303


def test_a_wrong_key_is_refused_and_repeated_failures_are_rate_limited(world: World) -> None:
    address = fresh_address()
    with world.browser(address) as browser:
        statuses = []
        for _ in range(7):
            form = browser.get("/dashboard/sign-in")
            answer = browser.post(
                "/dashboard/sign-in",
                data={"api_key": "sk_test_" + "0" * 16 + "_" + "x" * 43, "csrf_token": csrf_of(form.text)},
            )
            statuses.append(answer.status_code)
            assert "pacspace_session" not in set_cookies(answer)
        assert statuses[:5] == [401] * 5 and statuses[5:] == [429, 429]  # the node's auth_failure_burst is 5
        assert "Retry-After" in answer.headers
    with world.browser() as other:  # another address is not affected
        sign_in(other, world.node.token)


def test_revoking_the_key_ends_its_sessions(world: World) -> None:
    token = create_key(world.node.db_url)
    key_id = token.split("_")[2]
    with world.browser() as browser:
        sign_in(browser, token)
        with world.api() as api:
            assert api.delete(f"/v1/keys/{key_id}").status_code == 200
        answer = browser.get("/dashboard/keys")
        assert answer.status_code == 303 and answer.headers["location"].startswith("/dashboard/sign-in")


def test_signing_out_ends_the_session_on_the_server(world: World) -> None:
    with world.browser() as browser:
        csrf = sign_in(browser, world.node.token)
        stolen = browser.cookies["pacspace_session"]
        answer = browser.post("/dashboard/sign-out", data={"csrf_token": csrf})
        assert answer.status_code == 303 and answer.headers["location"] == "/dashboard/sign-in?notice=signed_out"
        assert 'pacspace_session=""' in set_cookies(answer)["pacspace_session"]
    with world.browser() as replay:
        replay.cookies.set("pacspace_session", stolen, path="/dashboard")
        assert replay.get("/dashboard").status_code == 303


# --- CSRF --------------------------------------------------------------------------------


def _keys(api: httpx.Client) -> list[dict[str, Any]]:
    return [{k: v for k, v in key.items() if k != "lastUsedAt"} for key in api.get("/v1/keys").json()["keys"]]


def _post_routes() -> list[str]:
    return sorted(PREFIX + r.path for pages in ROUTERS for r in pages.routes if "POST" in getattr(r, "methods", ()))


def test_every_dashboard_post_refuses_a_missing_wrong_or_cross_site_token(world: World) -> None:
    with world.api() as api:
        spare = api.post("/v1/keys", json={"name": "csrf-target", "scopes": ["read"]}).json()["id"]
        hook = api.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/hook", "events": ["delta.verified"]}).json()
        delivery = api.post(f"/v1/webhooks/{hook['id']}/test").json()["deliveryId"]
        keys_before = _keys(api)
        hooks_before = api.get("/v1/webhooks").json()
        checkpoints_before = api.get("/v1/checkpoints").json()
    ids = {"key_id": spare, "endpoint_id": hook["id"], "delivery_id": delivery}
    routes = _post_routes()
    assert len(routes) >= 11, routes
    with world.browser() as browser:
        csrf = sign_in(browser, world.node.token)
        for template in routes:
            path = template.format(**ids)
            form = {
                "name": "x",
                "scope": "read",
                "url": "http://127.0.0.1:9/x",
                "events": "webhook.test",
                "enabled": "false",
                "customer_id": world.customer_id,
                "api_key": world.node.token,
            }
            for label, extra, headers in (
                ("missing", {}, {}),
                ("wrong", {"csrf_token": csrf[:-2] + "xy"}, {}),
                ("cross-site", {"csrf_token": csrf}, {"Origin": "https://evil.example"}),
            ):
                answer = browser.post(path, data={**form, **extra}, headers=headers)
                assert answer.status_code == 403, (path, label, answer.status_code)
                assert "This form was refused" in answer.text
        assert browser.get("/dashboard").status_code == 200  # the session survived every refusal
    with world.api() as api:
        assert _keys(api) == keys_before
        assert api.get("/v1/webhooks").json() == hooks_before
        assert api.get("/v1/checkpoints").json() == checkpoints_before
        log = api.get(f"/v1/webhooks/{hook['id']}/deliveries").json()["deliveries"]
        assert [d["id"] for d in log] == [delivery]


def test_the_sign_in_form_needs_its_own_cookie_token(world: World) -> None:
    with world.browser() as browser:
        form = browser.get("/dashboard/sign-in")
        token = csrf_of(form.text)
        browser.cookies.clear()
        answer = browser.post("/dashboard/sign-in", data={"api_key": world.node.token, "csrf_token": token})
        assert answer.status_code == 403 and "pacspace_session" not in set_cookies(answer)
    with world.browser() as browser:
        browser.get("/dashboard/sign-in")
        answer = browser.post("/dashboard/sign-in", data={"api_key": world.node.token, "csrf_token": "forged"})
        assert answer.status_code == 403 and "pacspace_session" not in set_cookies(answer)


# --- tenants -----------------------------------------------------------------------------


def test_a_tenant_sees_and_changes_only_its_own_data(world: World) -> None:
    with world.api() as api:
        own_key = api.post("/v1/keys", json={"name": "default-only", "scopes": ["read"]}).json()["id"]
        own_hook = api.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/d", "events": ["delta.verified"]}).json()
    with world.browser() as browser:
        csrf = sign_in(browser, create_key(world.node.db_url, tenant="other"))
        for path in (
            f"/dashboard/receipts/{world.receipt_id}",
            f"/dashboard/receipts/{world.receipt_id}/verify",
            f"/dashboard/receipts/{world.receipt_id}/bundle.json",
            f"/dashboard/webhooks/{own_hook['id']}",
            f"/dashboard/customer?id={world.customer_id}",
        ):
            answer = browser.get(path)
            assert answer.status_code == 404, path
            assert world.reference_id not in answer.text
        found = browser.get("/dashboard/receipts", params={"q": world.reference_id})
        assert found.status_code == 404 and "No receipt has the id or referenceId" in found.text
        for path, secret in (
            ("/dashboard/keys", own_key),
            ("/dashboard/webhooks", own_hook["id"]),
            ("/dashboard/customers", world.customer_id),
            ("/dashboard/batches", world.receipt_id),
            ("/dashboard/receipts", world.receipt_id),
        ):
            page = browser.get(path)
            assert page.status_code == 200 and secret not in page.text, path
        assert "No batch holds your deltas yet" in browser.get("/dashboard/batches").text
        assert browser.post(f"/dashboard/keys/{own_key}/revoke", data={"csrf_token": csrf}).status_code == 404
        assert (
            browser.post(f"/dashboard/webhooks/{own_hook['id']}/enabled", data={"csrf_token": csrf}).status_code == 404
        )
    with world.api() as api:
        assert api.get(f"/v1/keys/{own_key}").json()["status"] == "active"
        assert api.get(f"/v1/webhooks/{own_hook['id']}").json()["enabled"] is True


# --- forms, errors, pages ----------------------------------------------------------------


def test_bad_input_comes_back_with_a_message_by_the_field(world: World) -> None:
    with world.browser() as browser:
        csrf = sign_in(browser, world.node.token)
        no_name = browser.post("/dashboard/keys", data={"csrf_token": csrf, "name": "", "scope": "read"})
        assert no_name.status_code == 422 and 'id="name-error"' in no_name.text
        assert 'aria-describedby="key-name-hint name-error" aria-invalid="true"' in no_name.text
        customer_admin = browser.post(
            "/dashboard/keys", data={"csrf_token": csrf, "name": "x", "scope": "admin", "customer_id": "c"}
        )
        assert customer_admin.status_code == 422 and "A key for a customer can only read" in customer_admin.text
        bad_url = browser.post(
            "/dashboard/webhooks", data={"csrf_token": csrf, "url": "ftp://example.com/x", "events": "delta.verified"}
        )
        assert bad_url.status_code == 422 and 'id="url-error"' in bad_url.text
        assert 'value="ftp://example.com/x"' in bad_url.text  # what was typed stays
        no_events = browser.post("/dashboard/webhooks", data={"csrf_token": csrf, "url": "http://127.0.0.1:9/x"})
        assert no_events.status_code == 422 and "Choose at least one event" in no_events.text
        bad_index = browser.post(
            "/dashboard/customer/checkpoints",
            data={"csrf_token": csrf, "customer_id": world.customer_id, "from_index": "abc"},
        )
        assert bad_index.status_code == 422 and 'id="from_index-error"' in bad_index.text
        past_head = browser.post(
            "/dashboard/customer/checkpoints",
            data={"csrf_token": csrf, "customer_id": world.customer_id, "from_index": "0", "to_index": "99"},
        )
        assert past_head.status_code == 422 and "past the customer" in past_head.text, past_head.text
        missing = browser.get("/dashboard/receipts/rcpt_000000000000000000000000")
        assert missing.status_code == 404 and "no receipt rcpt_000000000000000000000000" in missing.text
        assert browser.get("/dashboard/customer", params={"id": "nobody"}).status_code == 404
        assert browser.get("/dashboard/comparisons/cmp_nope").status_code == 404
        with world.api() as api:
            assert not any(k["name"] == "x" for k in api.get("/v1/keys").json()["keys"])


class _Audit(HTMLParser):
    """What an accessibility check can see in markup alone."""

    def __init__(self) -> None:
        super().__init__()
        self.labels: set[str] = set()
        self.fields: list[dict[str, str | None]] = []
        self.head_cells: list[dict[str, str | None]] = []
        self.tags: set[str] = set()
        self.in_thead = False
        self.in_label = 0
        self.html_lang: str | None = None
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.add(tag)
        if tag == "html":
            self.html_lang = a.get("lang")
        if tag == "label":
            self.in_label += 1
            if a.get("for"):
                self.labels.add(str(a["for"]))
        if tag in ("input", "select", "textarea") and a.get("type") != "hidden":
            self.fields.append({**a, "wrapped": "yes" if self.in_label else None})
        if tag == "thead":
            self.in_thead = True
        if tag == "th" and self.in_thead:
            self.head_cells.append(a)
        for name in ("href", "src", "action"):
            if a.get(name):
                self.urls.append(str(a[name]))

    def handle_endtag(self, tag: str) -> None:
        if tag == "thead":
            self.in_thead = False
        if tag == "label":
            self.in_label -= 1


def test_every_page_labels_its_fields_scopes_its_headers_and_uses_landmarks(world: World) -> None:
    with world.browser() as browser:
        sign_in_page = browser.get("/dashboard/sign-in").text
        csrf = sign_in(browser, world.node.token)
        form = {"csrf_token": csrf, "url": "http://127.0.0.1:9/a11y", "events": "batch.anchored"}
        hook = browser.post("/dashboard/webhooks", data=form)
        hook_id = re.search(r'href="/dashboard/webhooks/(whk_[0-9a-f]+)"', hook.text)
        assert hook.status_code == 201 and hook_id
        pages = {"sign-in": sign_in_page}
        for path in (
            "/dashboard",
            "/dashboard/keys",
            "/dashboard/webhooks",
            f"/dashboard/webhooks/{hook_id.group(1)}",
            "/dashboard/batches",
            "/dashboard/receipts",
            f"/dashboard/receipts/{world.receipt_id}",
            f"/dashboard/receipts/{world.receipt_id}/verify",
            "/dashboard/customers",
            f"/dashboard/customer?id={world.customer_id}",
        ):
            answer = browser.get(path)
            assert answer.status_code == 200, path
            assert answer.headers["content-security-policy"].startswith("default-src 'none'")
            assert answer.headers["cache-control"] == "no-store" and answer.headers["x-frame-options"] == "DENY"
            pages[path] = answer.text
    for path, html in pages.items():
        audit = _Audit()
        audit.feed(html)
        assert audit.html_lang == "en", path
        assert {"header", "main", "footer"} <= audit.tags, path
        assert path == "sign-in" or "nav" in audit.tags, path
        assert 'class="skip-link" href="#main"' in html and 'id="main"' in html, path
        for field in audit.fields:
            named = field.get("wrapped") or field.get("id") in audit.labels or field.get("aria-label")
            assert named, (path, field)
        for cell in audit.head_cells:
            assert cell.get("scope") == "col", (path, cell)
        for url in audit.urls:
            assert not re.match(r"(https?:)?//", url) or url.startswith("https://explorer."), (path, url)


def test_assets_are_served_by_the_node_and_no_template_reaches_another_host(world: World) -> None:
    templates = [*TEMPLATES.glob("*.html"), *(REPO / "node" / "pages" / "templates").glob("*.html")]
    templates += (REPO / "node" / "portal" / "templates").glob("*.html")
    for source in [*templates, *STATIC_DIR.iterdir()]:
        text = re.sub(r'xmlns="[^"]*"', "", source.read_text())  # an XML namespace name is not fetched
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text, re.I), source.name
        assert "@import" not in text and "url(" not in text, source.name
    with world.browser() as browser:
        html = browser.get("/dashboard/sign-in").text
        assets = re.findall(r'(?:href|src)="(/dashboard/static/[^"]+)"', html)
        assert {a.split("?")[0].rsplit("/", 1)[1] for a in assets} == {"dashboard.css", "dashboard.js", "favicon.svg"}
        for asset in assets:
            answer = browser.get(asset)
            assert (
                answer.status_code == 200
                and answer.content == (STATIC_DIR / asset.split("?")[0].rsplit("/", 1)[1]).read_bytes()
            )


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_text_colours_keep_a_contrast_of_at_least_4_5(world: World) -> None:
    css = (STATIC_DIR / "dashboard.css").read_text()
    colour = dict(re.findall(r"--([a-z0-9-]+):\s*(#[0-9a-f]{6});", css))
    colour["white"] = "#ffffff"
    pairs = [
        ("text", "white"), ("text", "surface"), ("muted", "white"), ("muted", "surface"), ("link", "white"),
        ("link", "surface"), ("white", "brand"), ("white", "link"), ("ok", "ok-bg"), ("bad", "bad-bg"),
        ("warn", "warn-bg"), ("bad", "white"), ("text", "ok-bg"), ("text", "bad-bg"), ("text", "warn-bg"),
    ]  # fmt: skip
    for text, background in pairs:
        assert _contrast(colour[text], colour[background]) >= 4.5, (text, background)
