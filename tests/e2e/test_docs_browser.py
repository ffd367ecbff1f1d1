"""/docs in Chromium with every request to another host refused: Swagger UI renders from the node's own
files, "Authorize" takes an API key, and "Try it out" on GET /v1/me answers 200 with that key's id."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import BrowserContext, Page, Route, expect

from node.dev.chain import Anvil
from tests.conftest import REPO, RunningNode, deploy_fresh, start_node
from tests.e2e.test_dashboard_browser import browser, context, playwright

__all__ = ["browser", "context", "playwright"]  # the dashboard's browser fixtures, shared
SHOTS = REPO / "test-output" / "docs"


@pytest.fixture(scope="module")
def node(anvil: Anvil, artifact: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningNode]:
    running = start_node(deploy_fresh(anvil.rpc_url, artifact), tmp_path_factory.mktemp("docs-browser"))
    yield running
    running.stop()


@pytest.fixture
def offline_page(context: BrowserContext, node: RunningNode) -> Iterator[tuple[Page, list[str]]]:
    """A page that can reach the node and nothing else; what it tried to reach elsewhere is listed."""
    elsewhere: list[str] = []
    own = urlsplit(node.base_url).netloc

    def gate(route: Route) -> None:
        url = route.request.url
        if urlsplit(url).netloc == own or url.startswith("data:"):
            route.continue_()
        else:
            elsewhere.append(url)
            route.abort()

    context.route("**/*", gate)
    yield context.new_page(), elsewhere
    context.unroute("**/*")


def test_swagger_ui_renders_offline_and_authorize_works(
    offline_page: tuple[Page, list[str]], node: RunningNode
) -> None:
    page, elsewhere = offline_page
    page.goto(node.base_url + "/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("PacSpace node")
    page.get_by_role("button", name="Authorize").first.click()
    page.locator(".modal-ux input[type=text], .modal-ux input[type=password]").first.fill(node.token)
    page.locator(".modal-ux button.authorize").click()
    expect(page.locator(".modal-ux")).to_contain_text("Authorized")
    page.locator(".modal-ux button.btn-done").click()
    operation = page.locator("#operations-default-me_v1_me_get")
    operation.locator(".opblock-summary").click()
    operation.get_by_role("button", name="Execute").click()
    response = operation.locator(".live-responses-table .response .response-col_status").first
    expect(response).to_have_text("200")
    body = operation.locator(".live-responses-table .response-col_description pre").first
    expect(body).to_contain_text(node.token.split("_")[2])  # the key id: the call carried the bearer token
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "swagger-ui.png"))
    assert elsewhere == []
