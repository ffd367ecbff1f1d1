"""Webhook endpoints (admin): create, list, update, enable/disable, delete, rotate the secret,
send a test event, read the delivery log, redeliver. The rules live in node.webhooks.endpoints."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from node.api.auth import AdminDep
from node.api.deps import ServicesDep, StoreDep
from node.api.routes import ERRORS
from node.api.schemas import (
    WebhookCreate,
    WebhookRotate,
    WebhookUpdate,
    from_webhook_delivery,
    from_webhook_endpoint,
)
from node.api.strict_json import StrictJsonRoute
from node.services import Services
from node.store.db import Store
from node.store.models import WebhookDeliveryStatus, WebhookEndpointRow
from node.webhooks import endpoints
from node.webhooks.url_policy import UrlPolicy

router = APIRouter(prefix="/v1/webhooks", route_class=StrictJsonRoute)


def _own(store: Store, tenant: str, endpoint_id: str) -> WebhookEndpointRow:
    return endpoints.get_endpoint(store, tenant=tenant, endpoint_id=endpoint_id)


def webhook_policy(services: Services) -> UrlPolicy:
    """Where this node's webhooks may go (the delivery worker's policy: one policy for saving and sending)."""
    return services.webhooks.policy


@router.post("", status_code=201, responses=ERRORS, summary="Create a webhook endpoint (the secret is shown once)")
def create(body: WebhookCreate, services: ServicesDep, principal: AdminDep) -> dict[str, Any]:
    row = endpoints.create_endpoint(
        services.store,
        tenant=principal.tenant,
        url=body.url,
        events=body.events,
        aggregate=body.aggregate,
        policy=webhook_policy(services),
    )
    return {**from_webhook_endpoint(row), "secret": row.secret}


@router.get("", responses=ERRORS, summary="This tenant's webhook endpoints")
def list_endpoints(store: StoreDep, principal: AdminDep) -> dict[str, Any]:
    rows = endpoints.list_endpoints(store, tenant=principal.tenant)
    return {"webhooks": [from_webhook_endpoint(r) for r in rows]}


@router.get("/{endpoint_id}", responses=ERRORS, summary="One webhook endpoint")
def get(endpoint_id: str, store: StoreDep, principal: AdminDep) -> dict[str, Any]:
    return from_webhook_endpoint(_own(store, principal.tenant, endpoint_id))


@router.patch("/{endpoint_id}", responses=ERRORS, summary="Change URL or events, enable or disable")
def update(endpoint_id: str, body: WebhookUpdate, services: ServicesDep, principal: AdminDep) -> dict[str, Any]:
    row = endpoints.update_endpoint(
        services.store,
        _own(services.store, principal.tenant, endpoint_id),
        policy=webhook_policy(services),
        url=body.url,
        events=body.events,
        aggregate=body.aggregate,
        enabled=body.enabled,
    )
    return from_webhook_endpoint(row)


@router.delete("/{endpoint_id}", status_code=204, responses=ERRORS, summary="Delete an endpoint and its log")
def remove(endpoint_id: str, store: StoreDep, principal: AdminDep) -> Response:
    endpoints.delete_endpoint(store, _own(store, principal.tenant, endpoint_id))
    return Response(status_code=204)


@router.post("/{endpoint_id}/rotate-secret", responses=ERRORS, summary="New secret; the old one signs alongside")
def rotate(endpoint_id: str, store: StoreDep, principal: AdminDep, body: WebhookRotate | None = None) -> dict[str, Any]:
    row = endpoints.rotate_secret(
        store,
        _own(store, principal.tenant, endpoint_id),
        grace_seconds=(body or WebhookRotate()).graceSeconds,
    )
    return {**from_webhook_endpoint(row), "secret": row.secret}


@router.post("/{endpoint_id}/test", status_code=202, responses=ERRORS, summary="Queue a webhook.test event")
def send_test(endpoint_id: str, services: ServicesDep, principal: AdminDep) -> dict[str, Any]:
    delivery_id = endpoints.send_test_event(services.store, _own(services.store, principal.tenant, endpoint_id))
    services.wake_webhooks()
    return {"deliveryId": delivery_id}


@router.get("/{endpoint_id}/deliveries", responses=ERRORS, summary="The delivery log, newest first")
def deliveries(
    endpoint_id: str,
    store: StoreDep,
    principal: AdminDep,
    status: Annotated[str | None, Query(pattern="^(pending|delivered|failed)$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    row = _own(store, principal.tenant, endpoint_id)
    items = endpoints.list_deliveries(store, row, status=status, limit=limit)
    return {"deliveries": [from_webhook_delivery(d.row, d.attempts) for d in items]}


@router.post(
    "/{endpoint_id}/deliveries/{delivery_id}/redeliver", status_code=202, responses=ERRORS, summary="Send again now"
)
def redeliver(endpoint_id: str, delivery_id: str, services: ServicesDep, principal: AdminDep) -> dict[str, Any]:
    endpoints.redeliver(services.store, _own(services.store, principal.tenant, endpoint_id), delivery_id=delivery_id)
    services.wake_webhooks()
    return {"deliveryId": delivery_id, "status": WebhookDeliveryStatus.PENDING}
