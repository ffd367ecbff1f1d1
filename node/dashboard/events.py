"""CloudEvents mappings: for an event type, the data field holding the quantity, the multiplier and the
reason template; and the tenant's referenceId form. The same service and checks as ``/v1/events/mappings``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from node.api.deps import IngestDep
from node.core.cloudevents import REFERENCE_MODES
from node.core.errors import InvalidInput
from node.dashboard.web import PREFIX, DashboardRoute, SessionDep, render
from node.ingest.rules import IngestRulesService
from node.pages.sessions import PageSession

router = APIRouter(route_class=DashboardRoute)
_FIELDS = {"type": "event_type", "quantityField": "quantity_field", "multiplier": "multiplier"}
_FIELDS["reasonTemplate"] = "reason_template"


def _page(
    request: Request,
    ingest: IngestRulesService,
    session: PageSession,
    *,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> HTMLResponse:
    return render(
        request,
        "events.html",
        session=session,
        status_code=status_code,
        nav="events",
        title="CloudEvents",
        mappings=ingest.mappings(session.tenant),
        reference_mode=ingest.reference_mode(session.tenant),
        reference_modes=REFERENCE_MODES,
        errors=errors or {},
        values=values or {"multiplier": "-1"},
    )


@router.get("/events", response_class=HTMLResponse, include_in_schema=False)
def events_page(request: Request, ingest: IngestDep, session: SessionDep) -> Response:
    edit = request.query_params.get("type")
    values = {"multiplier": "-1"}
    for row in ingest.mappings(session.tenant) if edit else []:
        if row.event_type == edit:
            values = {
                "event_type": row.event_type,
                "quantity_field": row.quantity_field,
                "multiplier": row.multiplier,
                "reason_template": row.reason_template or "",
            }
    return _page(request, ingest, session, values=values)


@router.post("/events/mappings", response_class=HTMLResponse, include_in_schema=False)
def save_mapping(
    request: Request,
    ingest: IngestDep,
    session: SessionDep,
    event_type: Annotated[str, Form()] = "",
    quantity_field: Annotated[str, Form()] = "",
    multiplier: Annotated[str, Form()] = "",
    reason_template: Annotated[str, Form()] = "",
) -> Response:
    values = {
        "event_type": event_type,
        "quantity_field": quantity_field,
        "multiplier": multiplier,
        "reason_template": reason_template,
    }
    try:
        ingest.put(
            session.tenant,
            event_type.strip(),
            quantity_field=quantity_field.strip(),
            multiplier=multiplier.strip(),
            reason_template=reason_template.strip() or None,
        )
    except InvalidInput as exc:
        errors = {_FIELDS.get(e.field, "event_type"): e.message for e in exc.errors}
        return _page(request, ingest, session, status_code=422, errors=errors, values=values)
    return RedirectResponse(f"{PREFIX}/events?notice=mapping_saved", status_code=303)


@router.post("/events/mappings/delete", include_in_schema=False)
def remove_mapping(ingest: IngestDep, session: SessionDep, event_type: Annotated[str, Form()] = "") -> Response:
    ingest.delete(session.tenant, event_type)
    return RedirectResponse(f"{PREFIX}/events?notice=mapping_deleted", status_code=303)


@router.post("/events/settings", include_in_schema=False)
def save_settings(ingest: IngestDep, session: SessionDep, reference_mode: Annotated[str, Form()] = "") -> Response:
    ingest.set_reference_mode(session.tenant, reference_mode)
    return RedirectResponse(f"{PREFIX}/events?notice=ingest_settings_saved", status_code=303)
