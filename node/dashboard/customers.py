"""Customers: balance, chain head, latest deltas, checkpoints (create, copy the token), comparisons
and their evidence."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from node.api.deps import ServicesDep, StoreDep
from node.api.schemas import CheckpointCreate, from_checkpoint, from_derived_balance
from node.checkpoints.service import RangeRequest
from node.core.errors import Conflict, InvalidInput
from node.dashboard.web import PREFIX, DashboardRoute, SessionDep, render
from node.ledger.balances import derive_balance
from node.pages.compare_form import run_compare_form
from node.pages.records import comparison_context
from node.pages.sessions import PageSession
from node.services import Services
from node.store.dashboard import customer_comparisons, recent_deltas, tenant_customers

router = APIRouter(route_class=DashboardRoute)
PAGE = 50


@router.get("/customers", response_class=HTMLResponse, include_in_schema=False)
def customers_page(
    request: Request, store: StoreDep, session: SessionDep, search: str = "", after: str | None = None
) -> Response:
    term = search.strip()[:128]
    with store.session() as db:
        rows = tenant_customers(session=db, tenant=session.tenant, limit=PAGE + 1, after=after, search=term or None)
    return render(
        request,
        "customers.html",
        session=session,
        nav="customers",
        title="Customers",
        customers=rows[:PAGE],
        search=term,
        next_after=rows[PAGE - 1].customer_id if len(rows) > PAGE else None,
    )


def _customer_page(
    request: Request,
    services: Services,
    session: PageSession,
    customer_id: str,
    *,
    status_code: int = 200,
    created: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> HTMLResponse:
    state = services
    # NotFound if unknown
    balance = from_derived_balance(derive_balance(state.store, tenant=session.tenant, customer_id=customer_id))
    with state.store.session() as db:
        deltas = recent_deltas(session=db, tenant=session.tenant, customer_id=customer_id, limit=10)
        comparisons = customer_comparisons(session=db, tenant=session.tenant, customer_id=customer_id, limit=50)
    rows = state.checkpoints.list(tenant=session.tenant, customer_id=customer_id)
    checkpoints = [from_checkpoint(state.checkpoints.view(r)) for r in rows]
    return render(
        request,
        "customer.html",
        session=session,
        status_code=status_code,
        nav="customers",
        title=f"Customer {customer_id}",
        customer_id=customer_id,
        balance=balance,
        deltas=deltas,
        checkpoints=list(reversed(checkpoints)),
        comparisons=comparisons,
        created=created,
        errors=errors or {},
        values=values or {},
    )


@router.get("/customer", response_class=HTMLResponse, include_in_schema=False)
def customer_page(request: Request, services: ServicesDep, session: SessionDep, id: str = "") -> Response:
    return _customer_page(request, services, session, id)


def _optional_index(text: str) -> int | str | None:
    """Empty: None; digits: the number; anything else as typed (the model refuses it, by field)."""
    value = text.strip()
    if not value:
        return None
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 20 else value


@router.post("/customer/checkpoints", response_class=HTMLResponse, include_in_schema=False)
def create_checkpoint(
    request: Request,
    services: ServicesDep,
    session: SessionDep,
    customer_id: Annotated[str, Form()] = "",
    from_index: Annotated[str, Form()] = "",
    to_index: Annotated[str, Form()] = "",
) -> Response:
    values = {"from_index": from_index, "to_index": to_index}
    try:
        body = CheckpointCreate.model_validate(
            {"customerId": customer_id, "fromIndex": _optional_index(from_index), "toIndex": _optional_index(to_index)}
        )
        row = services.checkpoints.create(
            tenant=session.tenant,
            req=RangeRequest(customer_id=body.customerId, from_index=body.fromIndex, to_index=body.toIndex),
        )
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for err in exc.errors():
            field = {"fromIndex": "from_index", "toIndex": "to_index"}.get(str(err["loc"][0]), "from_index")
            errors.setdefault(field, "Enter a whole number of 0 or more, or leave it empty.")
        return _customer_page(request, services, session, customer_id, status_code=422, errors=errors, values=values)
    except (InvalidInput, Conflict) as exc:
        field = "to_index" if exc.errors and exc.errors[0].field == "toIndex" else "from_index"
        status = 422 if isinstance(exc, InvalidInput) else 409
        problem = {field: exc.detail}
        return _customer_page(
            request, services, session, customer_id, status_code=status, errors=problem, values=values
        )
    created = from_checkpoint(services.checkpoints.view(row))
    return _customer_page(request, services, session, customer_id, status_code=201, created=created)


@router.get("/comparisons/{comparison_id}", response_class=HTMLResponse, include_in_schema=False)
def comparison_page(comparison_id: str, request: Request, services: ServicesDep, session: SessionDep) -> Response:
    row = services.comparisons.get(tenant=session.tenant, comparison_id=comparison_id)
    return render(
        request,
        "comparison.html",
        session=session,
        nav="customers",
        title=f"Comparison {comparison_id}",
        **comparison_context(row),
    )


@router.post("/customer/compare", response_class=HTMLResponse, include_in_schema=False)
def start_comparison(
    request: Request,
    services: ServicesDep,
    session: SessionDep,
    customer_id: Annotated[str, Form()] = "",
    their_balance: Annotated[str, Form()] = "",
    their_deltas: Annotated[str, Form()] = "",
) -> Response:
    """The customer's figures against the record, as POST /v1/balance/compare does; then its page."""
    ran = run_compare_form(
        services,
        tenant=session.tenant,
        key_id=session.key_id,
        customer_id=customer_id,
        their_balance=their_balance,
        their_deltas=their_deltas,
        # The dashboard admits admin keys only, which may write: a variance within tolerance settles, as
        # POST /v1/balance/compare with that key would.
        may_settle=True,
    )
    if isinstance(ran, dict):
        values = {"their_balance": their_balance, "their_deltas": their_deltas}
        return _customer_page(request, services, session, customer_id, status_code=422, errors=ran, values=values)
    return RedirectResponse(f"{PREFIX}/comparisons/{ran.id}", status_code=303)
