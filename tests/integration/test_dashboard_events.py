"""The dashboard's CloudEvents page: mappings created, edited and removed, and the referenceId form chosen,
in a signed-in browser session; what it saves is what the ingest API then applies."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from node.dev.chain import Anvil
from tests.conftest import RunningNode, deploy_fresh, start_node
from tests.integration.test_dashboard import csrf_of, fresh_address, sign_in


@pytest.fixture(scope="module")
def node(anvil: Anvil, artifact: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningNode]:
    running = start_node(deploy_fresh(anvil.rpc_url, artifact), tmp_path_factory.mktemp("dashboard-events"))
    yield running
    running.stop()


def test_mappings_and_the_reference_form_from_the_dashboard(node: RunningNode) -> None:
    event = {
        "specversion": "1.0",
        "id": "dash-1",
        "source": "gw",
        "type": "llm.tokens",
        "subject": "cust_dash",
        "data": {"tokens": 40, "model": "m1"},
    }
    headers = {"Content-Type": "application/cloudevents+json"}
    with (
        httpx.Client(base_url=node.base_url, headers={"X-Forwarded-For": fresh_address()}, timeout=30) as browser,
        node.client() as api,
    ):
        csrf = sign_in(browser, node.token)
        page = browser.get("/dashboard/events")
        assert page.status_code == 200 and "No mappings" in page.text and 'aria-current="page">CloudEvents' in page.text
        refused = browser.post(
            "/dashboard/events/mappings",
            data={"csrf_token": csrf, "event_type": "llm.tokens", "quantity_field": "tokens", "multiplier": "0"},
        )
        assert refused.status_code == 422 and 'id="multiplier-error"' in refused.text
        assert api.get("/v1/events/mappings").json()["mappings"] == []
        saved = browser.post(
            "/dashboard/events/mappings",
            data={
                "csrf_token": csrf,
                "event_type": "llm.tokens",
                "quantity_field": "tokens",
                "multiplier": "-0.25",
                "reason_template": "{quantity} {data.model} tokens",
            },
        )
        assert saved.status_code == 303 and saved.headers["location"] == "/dashboard/events?notice=mapping_saved"
        listed = browser.get("/dashboard/events?notice=mapping_saved")
        assert "<code>llm.tokens</code>" in listed.text and "The mapping is saved" in listed.text
        edit = browser.get("/dashboard/events?type=llm.tokens")
        assert 'value="-0.25"' in edit.text and 'value="{quantity} {data.model} tokens"' in edit.text
        recorded = api.post("/v1/events", headers=headers, content=json.dumps(event))
        assert recorded.status_code == 201, recorded.text
        assert (recorded.json()["delta"], recorded.json()["reason"]) == (-10, "40 m1 tokens")

        chosen = browser.post("/dashboard/events/settings", data={"csrf_token": csrf, "reference_mode": "id"})
        assert chosen.status_code == 303
        assert api.get("/v1/events/settings").json() == {"referenceIdMode": "id"}
        again = api.post("/v1/events", headers=headers, content=json.dumps({**event, "id": "dash-2"}))
        assert again.json()["referenceId"] == "dash-2"

        removed = browser.post(
            "/dashboard/events/mappings/delete", data={"csrf_token": csrf_of(listed.text), "event_type": "llm.tokens"}
        )
        assert removed.status_code == 303
        assert api.get("/v1/events/mappings").json()["mappings"] == []
        default = api.post("/v1/events", headers=headers, content=json.dumps({**event, "id": "dash-3"}))
        assert default.status_code == 422 and default.json()["errors"][0]["field"] == "data.delta"
