"""Webhook endpoints (admin): create, list, update, enable/disable, delete, rotate the secret,
send a test event, read the delivery log, redeliver."""

from __future__ import annotations

import secrets
import time
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from sqlmodel import col, delete, select

from node.api.auth import AdminDep
from node.api.routes import ERRORS
from node.api.schemas import WebhookCreate, WebhookRotate, WebhookUpdate
from node.core.errors import NotFound
from node.core.webhooks import new_secret
from node.store.models import WebhookAttemptRow, WebhookDeliveryRow, WebhookEndpointRow
from node.webhooks import check_url, enqueue, iso

router = APIRouter(prefix="/v1/webhooks")


def _endpoint_json(row: WebhookEndpointRow) -> dict[str, Any]:
    now = int(time.time())
    return {
        "id": row.id,
        "url": row.url,
        "events": row.events.split(","),
        "enabled": row.enabled,
        "disabledReason": row.disabled_reason,
        "aggregate": row.aggregate,
        "previousSecretActiveUntil": iso(row.previous_secret_expires_at)
        if row.previous_secret_expires_at and row.previous_secret_expires_at > now
        else None,
        "createdAt": iso(row.created_at),
        "updatedAt": iso(row.updated_at),
    }


def _delivery_json(row: WebhookDeliveryRow, attempts: list[WebhookAttemptRow]) -> dict[str, Any]:
    return {
        "id": row.id,
        "event": row.event_type,
        "status": row.status,
        "idempotencyKey": row.idempotency_key,
        "attempts": row.attempts,
        "createdAt": iso(row.created_at),
        "nextAttemptAt": iso(row.next_attempt_at) if row.status == "pending" else None,
        "deliveredAt": None if row.delivered_at is None else iso(row.delivered_at),
        "lastStatusCode": row.last_status_code,
        "lastError": row.last_error,
        "log": [
            {
                "at": iso(a.attempted_at),
                "statusCode": a.status_code,
                "latencyMs": a.latency_ms,
                "error": a.error,
                "response": a.response_snippet,
            }
            for a in attempts
        ],
    }


def _own(request: Request, tenant: str, endpoint_id: str) -> WebhookEndpointRow:
    with request.app.state.store.session() as session:
        row: WebhookEndpointRow | None = session.get(WebhookEndpointRow, endpoint_id)
    if row is None or row.tenant != tenant:
        raise NotFound(f"no webhook endpoint {endpoint_id}")
    return row


def _allow_http(request: Request) -> bool:
    return bool(request.app.state.settings.webhook_http_loopback_allowed())


@router.post("", status_code=201, responses=ERRORS, summary="Create a webhook endpoint (the secret is shown once)")
def create(body: WebhookCreate, request: Request, principal: AdminDep) -> dict[str, Any]:
    check_url(body.url, allow_loopback_http=_allow_http(request))
    now = int(time.time())
    row = WebhookEndpointRow(
        id="whk_" + secrets.token_hex(12),
        tenant=principal.tenant,
        url=body.url,
        events=",".join(sorted(set(body.events))),
        aggregate=body.aggregate,
        secret=new_secret(),
        created_at=now,
        updated_at=now,
    )
    with request.app.state.store.writer() as session:
        session.add(row)
        session.commit()
    return {**_endpoint_json(row), "secret": row.secret}


@router.get("", responses=ERRORS, summary="This tenant's webhook endpoints")
def list_endpoints(request: Request, principal: AdminDep) -> dict[str, Any]:
    with request.app.state.store.session() as session:
        rows = session.exec(
            select(WebhookEndpointRow)
            .where(WebhookEndpointRow.tenant == principal.tenant)
            .order_by(col(WebhookEndpointRow.created_at))
        ).all()
    return {"webhooks": [_endpoint_json(r) for r in rows]}


@router.get("/{endpoint_id}", responses=ERRORS, summary="One webhook endpoint")
def get(endpoint_id: str, request: Request, principal: AdminDep) -> dict[str, Any]:
    return _endpoint_json(_own(request, principal.tenant, endpoint_id))


@router.patch("/{endpoint_id}", responses=ERRORS, summary="Change URL or events, enable or disable")
def update(endpoint_id: str, body: WebhookUpdate, request: Request, principal: AdminDep) -> dict[str, Any]:
    row = _own(request, principal.tenant, endpoint_id)
    if body.url is not None:
        check_url(body.url, allow_loopback_http=_allow_http(request))
        row.url = body.url
    if body.events is not None:
        row.events = ",".join(sorted(set(body.events)))
    if body.aggregate is not None:
        row.aggregate = body.aggregate
    if body.enabled is not None:
        row.enabled = body.enabled
        row.disabled_reason = None if body.enabled else "disabled by an admin"
    row.updated_at = int(time.time())
    with request.app.state.store.writer() as session:
        session.add(row)
        session.commit()
    return _endpoint_json(row)


@router.delete("/{endpoint_id}", status_code=204, responses=ERRORS, summary="Delete an endpoint and its log")
def remove(endpoint_id: str, request: Request, principal: AdminDep) -> Response:
    row = _own(request, principal.tenant, endpoint_id)
    with request.app.state.store.writer() as session:
        ids = select(WebhookDeliveryRow.id).where(WebhookDeliveryRow.endpoint_id == row.id)
        session.execute(delete(WebhookAttemptRow).where(col(WebhookAttemptRow.delivery_id).in_(ids)))
        session.execute(delete(WebhookDeliveryRow).where(col(WebhookDeliveryRow.endpoint_id) == row.id))
        session.execute(delete(WebhookEndpointRow).where(col(WebhookEndpointRow.id) == row.id))
        session.commit()
    return Response(status_code=204)


@router.post("/{endpoint_id}/rotate-secret", responses=ERRORS, summary="New secret; the old one signs alongside")
def rotate(
    endpoint_id: str, request: Request, principal: AdminDep, body: WebhookRotate | None = None
) -> dict[str, Any]:
    row = _own(request, principal.tenant, endpoint_id)
    grace = (body or WebhookRotate()).graceSeconds
    now = int(time.time())
    row.previous_secret = row.secret if grace > 0 else None
    row.previous_secret_expires_at = now + grace if grace > 0 else None
    row.secret = new_secret()
    row.updated_at = now
    with request.app.state.store.writer() as session:
        session.add(row)
        session.commit()
    return {**_endpoint_json(row), "secret": row.secret}


@router.post("/{endpoint_id}/test", status_code=202, responses=ERRORS, summary="Queue a webhook.test event")
def send_test(endpoint_id: str, request: Request, principal: AdminDep) -> dict[str, Any]:
    row = _own(request, principal.tenant, endpoint_id)
    with request.app.state.store.writer() as session:
        enqueue(
            session,
            tenant=principal.tenant,
            event_type="webhook.test",
            payloads=[({"message": "a test event from PacSpace node"}, f"test-{time.time_ns()}:{principal.tenant}")],
            now=time.time(),
            endpoint_filter=lambda e: e.id == row.id,
            subscribed_as=tuple(row.events.split(",")),
        )
        session.commit()
        delivery = session.exec(
            select(WebhookDeliveryRow)
            .where(WebhookDeliveryRow.endpoint_id == row.id, WebhookDeliveryRow.event_type == "webhook.test")
            .order_by(col(WebhookDeliveryRow.created_at).desc())
        ).first()
    request.app.state.wake_webhooks()
    return {"deliveryId": None if delivery is None else delivery.id}


@router.get("/{endpoint_id}/deliveries", responses=ERRORS, summary="The delivery log, newest first")
def deliveries(
    endpoint_id: str,
    request: Request,
    principal: AdminDep,
    status: Annotated[str | None, Query(pattern="^(pending|delivered|failed)$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    row = _own(request, principal.tenant, endpoint_id)
    with request.app.state.store.session() as session:
        stmt = select(WebhookDeliveryRow).where(WebhookDeliveryRow.endpoint_id == row.id)
        if status is not None:
            stmt = stmt.where(WebhookDeliveryRow.status == status)
        items = session.exec(stmt.order_by(col(WebhookDeliveryRow.created_at).desc()).limit(limit)).all()
        attempts: dict[str, list[WebhookAttemptRow]] = {}
        for a in session.exec(
            select(WebhookAttemptRow)
            .where(col(WebhookAttemptRow.delivery_id).in_([d.id for d in items]))
            .order_by(col(WebhookAttemptRow.id))
        ).all():
            attempts.setdefault(a.delivery_id, []).append(a)
    return {"deliveries": [_delivery_json(d, attempts.get(d.id, [])) for d in items]}


@router.post(
    "/{endpoint_id}/deliveries/{delivery_id}/redeliver", status_code=202, responses=ERRORS, summary="Send again now"
)
def redeliver(endpoint_id: str, delivery_id: str, request: Request, principal: AdminDep) -> dict[str, Any]:
    row = _own(request, principal.tenant, endpoint_id)
    with request.app.state.store.writer() as session:
        delivery = session.get(WebhookDeliveryRow, delivery_id)
        if delivery is None or delivery.endpoint_id != row.id:
            raise NotFound(f"no delivery {delivery_id}")
        delivery.status = "pending"
        delivery.next_attempt_at = int(time.time())
        delivery.created_at = int(time.time())  # a fresh 3-day retry window
        session.add(delivery)
        session.commit()
    request.app.state.wake_webhooks()
    return {"deliveryId": delivery_id, "status": "pending"}
