"""The customer's comparisons: its figures against the record (the same request and rules as
POST /v1/balance/compare with its key), each comparison's evidence, and the evidence pack to download
(what ``pacspace-verify evidence`` checks)."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from node.api.compare_routes import evidence_pack
from node.api.deps import ServicesDep
from node.pages.compare_form import run_compare_form
from node.pages.records import comparison_context
from node.pages.sessions import PageSession
from node.portal.web import PREFIX, PortalRoute, SessionDep, customer_of, render
from node.services import Services
from node.store.dashboard import customer_comparisons

router = APIRouter(route_class=PortalRoute)


def _list_page(
    request: Request,
    services: Services,
    session: PageSession,
    *,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> HTMLResponse:
    with services.store.session() as db:
        rows = customer_comparisons(session=db, tenant=session.tenant, customer_id=customer_of(session), limit=100)
    return render(
        request,
        "comparisons.html",
        session=session,
        nav="comparisons",
        title="Comparisons",
        comparisons=rows,
        errors=errors or {},
        values=values or {},
        status_code=status_code,
    )


@router.get("/comparisons", response_class=HTMLResponse, include_in_schema=False)
def comparisons_page(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    return _list_page(request, services, session)


@router.post("/comparisons", response_class=HTMLResponse, include_in_schema=False)
def start_comparison(
    request: Request,
    services: ServicesDep,
    session: SessionDep,
    their_balance: Annotated[str, Form()] = "",
    their_deltas: Annotated[str, Form()] = "",
) -> Response:
    """Always for the signed-in customer: the form has no customer field to change."""
    ran = run_compare_form(
        services,
        tenant=session.tenant,
        key_id=session.key_id,
        customer_id=customer_of(session),
        their_balance=their_balance,
        their_deltas=their_deltas,
        may_settle=False,  # a customer's key never settles: the portal compares and records nothing on the ledger
    )
    if isinstance(ran, dict):
        values = {"their_balance": their_balance, "their_deltas": their_deltas}
        return _list_page(request, services, session, status_code=422, errors=ran, values=values)
    return RedirectResponse(f"{PREFIX}/comparisons/{ran.id}", status_code=303)


@router.get("/comparisons/{comparison_id}", response_class=HTMLResponse, include_in_schema=False)
def comparison_page(comparison_id: str, request: Request, services: ServicesDep, session: SessionDep) -> Response:
    row = services.comparisons.get(tenant=session.tenant, comparison_id=comparison_id, customer_id=customer_of(session))
    return render(
        request,
        "comparison.html",
        session=session,
        nav="comparisons",
        title=f"Comparison {comparison_id}",
        **comparison_context(row),
    )


@router.get("/comparisons/{comparison_id}/evidence.json", include_in_schema=False)
def download_evidence(comparison_id: str, services: ServicesDep, session: SessionDep) -> Response:
    row = services.comparisons.get(tenant=session.tenant, comparison_id=comparison_id, customer_id=customer_of(session))
    return Response(
        json.dumps(evidence_pack(services, session.tenant, row), indent=2),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{comparison_id}-evidence.json"'},
    )
