"""The one list of webhook events, and what the API and the dashboard derive from it."""

from __future__ import annotations

from node.api.schemas import WebhookCreate, WebhookUpdate
from node.core.webhooks import SUBSCRIBABLE_EVENTS, WebhookEvent
from node.dashboard.webhooks import EVENT_TYPES

SUBSCRIBABLE = [
    "delta.verified",
    "batch.verified",
    "batch.anchored",
    "batch.reorged",
    "checkpoint.created",
    "checkpoint.countersigned",
    "compare.settled",
    "compare.disputed",
]


def test_every_event_but_webhook_test_is_subscribable() -> None:
    assert [e.value for e in WebhookEvent] == [*SUBSCRIBABLE, "webhook.test"]
    assert [e.value for e in SUBSCRIBABLE_EVENTS] == SUBSCRIBABLE


def test_the_api_schema_and_the_dashboard_offer_the_subscribable_events() -> None:
    create = WebhookCreate.model_json_schema()["properties"]["events"]
    assert create["items"] == {"enum": SUBSCRIBABLE, "type": "string"}
    update = WebhookUpdate.model_json_schema()["properties"]["events"]["anyOf"][0]
    assert update["items"] == {"enum": SUBSCRIBABLE, "type": "string"}
    assert list(EVENT_TYPES) == SUBSCRIBABLE
