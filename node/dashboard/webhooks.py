"""Webhook endpoints: create (choosing events), rotate the secret, disable and enable, change events;
the delivery log with status and latency; redeliver; send a test event."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from node.api.deps import ServicesDep, StoreDep
from node.api.schemas import WebhookCreate, WebhookUpdate
from node.api.webhook_routes import webhook_policy
from node.core.errors import InvalidInput
from node.core.webhooks import SUBSCRIBABLE_EVENTS
from node.dashboard.web import PREFIX, DashboardRoute, SessionDep, render
from node.pages.sessions import PageSession
from node.store.db import Store
from node.store.models import WebhookEndpointRow
from node.webhooks import endpoints

router = APIRouter(route_class=DashboardRoute)
EVENT_TYPES = tuple(e.value for e in SUBSCRIBABLE_EVENTS)  # webhook.test goes to any endpoint on request
ROTATION_GRACE = {"0": 0, "3600": 3600, "86400": 86_400}


def _field_errors(exc: ValidationError) -> dict[str, str]:
    errors: dict[str, str] = {}
    for err in exc.errors():
        field = str(err["loc"][0]) if err["loc"] else "url"
        errors.setdefault(field, "Choose at least one event." if field == "events" else str(err["msg"]))
    return errors


def _list_page(
    request: Request,
    store: Store,
    session: PageSession,
    *,
    status_code: int = 200,
    created: WebhookEndpointRow | None = None,
    errors: dict[str, str] | None = None,
    values: dict[str, object] | None = None,
) -> HTMLResponse:
    return render(
        request,
        "webhooks.html",
        session=session,
        status_code=status_code,
        nav="webhooks",
        title="Webhooks",
        endpoints=endpoints.list_endpoints(store, tenant=session.tenant),
        event_types=EVENT_TYPES,
        created=created,
        errors=errors or {},
        values=values or {"events": ["delta.verified"], "url": "", "aggregate": False},
    )


@router.get("/webhooks", response_class=HTMLResponse, include_in_schema=False)
def webhooks_page(request: Request, store: StoreDep, session: SessionDep) -> Response:
    return _list_page(request, store, session)


@router.post("/webhooks", response_class=HTMLResponse, include_in_schema=False)
def create_webhook(
    request: Request,
    services: ServicesDep,
    session: SessionDep,
    url: Annotated[str, Form()] = "",
    events: Annotated[list[str] | None, Form()] = None,
    aggregate: Annotated[str, Form()] = "",
) -> Response:
    values: dict[str, object] = {"url": url.strip(), "events": events or [], "aggregate": aggregate == "on"}
    try:
        body = WebhookCreate.model_validate(values)
        row = endpoints.create_endpoint(
            services.store,
            tenant=session.tenant,
            url=body.url,
            events=body.events,
            aggregate=body.aggregate,
            policy=webhook_policy(services),
        )
    except ValidationError as exc:
        return _list_page(request, services.store, session, status_code=422, errors=_field_errors(exc), values=values)
    except InvalidInput as exc:
        return _list_page(request, services.store, session, status_code=422, errors={"url": exc.detail}, values=values)
    return _list_page(request, services.store, session, status_code=201, created=row)


def _detail_page(
    request: Request,
    store: Store,
    session: PageSession,
    row: WebhookEndpointRow,
    *,
    status_code: int = 200,
    secret: str | None = None,
    errors: dict[str, str] | None = None,
) -> HTMLResponse:
    return render(
        request,
        "webhook.html",
        session=session,
        status_code=status_code,
        nav="webhooks",
        title=f"Webhook {row.url}",
        endpoint=row,
        events=row.events.split(","),
        event_types=EVENT_TYPES,
        deliveries=endpoints.list_deliveries(store, row, limit=50),
        secret=secret,
        errors=errors or {},
    )


def _own(store: Store, session: PageSession, endpoint_id: str) -> WebhookEndpointRow:
    return endpoints.get_endpoint(store, tenant=session.tenant, endpoint_id=endpoint_id)


def _back(endpoint_id: str, notice: str) -> RedirectResponse:
    return RedirectResponse(f"{PREFIX}/webhooks/{endpoint_id}?notice={notice}", status_code=303)


@router.get("/webhooks/{endpoint_id}", response_class=HTMLResponse, include_in_schema=False)
def webhook_page(endpoint_id: str, request: Request, store: StoreDep, session: SessionDep) -> Response:
    return _detail_page(request, store, session, _own(store, session, endpoint_id))


@router.post("/webhooks/{endpoint_id}/rotate-secret", response_class=HTMLResponse, include_in_schema=False)
def rotate_secret(
    endpoint_id: str,
    request: Request,
    store: StoreDep,
    session: SessionDep,
    grace_seconds: Annotated[str, Form()] = "86400",
) -> Response:
    row = endpoints.rotate_secret(
        store, _own(store, session, endpoint_id), grace_seconds=ROTATION_GRACE.get(grace_seconds, 0)
    )
    return _detail_page(request, store, session, row, secret=row.secret)


@router.post("/webhooks/{endpoint_id}/enabled", include_in_schema=False)
def set_enabled(
    endpoint_id: str, services: ServicesDep, session: SessionDep, enabled: Annotated[str, Form()] = ""
) -> Response:
    endpoints.update_endpoint(
        services.store,
        _own(services.store, session, endpoint_id),
        policy=webhook_policy(services),
        enabled=enabled == "true",
    )
    return _back(endpoint_id, "webhook_updated")


@router.post("/webhooks/{endpoint_id}/events", response_class=HTMLResponse, include_in_schema=False)
def set_events(
    endpoint_id: str,
    request: Request,
    services: ServicesDep,
    session: SessionDep,
    events: Annotated[list[str] | None, Form()] = None,
) -> Response:
    row = _own(services.store, session, endpoint_id)
    try:
        body = WebhookUpdate.model_validate({"events": events or []})
    except ValidationError as exc:
        return _detail_page(request, services.store, session, row, status_code=422, errors=_field_errors(exc))
    endpoints.update_endpoint(services.store, row, policy=webhook_policy(services), events=body.events)
    return _back(endpoint_id, "webhook_updated")


@router.post("/webhooks/{endpoint_id}/test", include_in_schema=False)
def send_test(endpoint_id: str, services: ServicesDep, session: SessionDep) -> Response:
    endpoints.send_test_event(services.store, _own(services.store, session, endpoint_id))
    services.wake_webhooks()
    return _back(endpoint_id, "test_queued")


@router.post("/webhooks/{endpoint_id}/deliveries/{delivery_id}/redeliver", include_in_schema=False)
def redeliver(endpoint_id: str, delivery_id: str, services: ServicesDep, session: SessionDep) -> Response:
    endpoints.redeliver(services.store, _own(services.store, session, endpoint_id), delivery_id=delivery_id)
    services.wake_webhooks()
    return _back(endpoint_id, "redelivery_queued")


@router.post("/webhooks/{endpoint_id}/delete", include_in_schema=False)
def delete_webhook(endpoint_id: str, store: StoreDep, session: SessionDep) -> Response:
    endpoints.delete_endpoint(store, _own(store, session, endpoint_id))
    return RedirectResponse(f"{PREFIX}/webhooks?notice=webhook_deleted", status_code=303)
