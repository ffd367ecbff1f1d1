"""The customer's own record: balance (derived, verified and pending apart), deltas with their status,
each receipt with its verification against the chain (the verifier's checks, as the dashboard runs
them), checkpoints with their tokens and countersignature state, and the export to download.

Every read is scoped by the session's tenant and customer; an id from the URL that belongs to anyone
else is the same 404 as an id that does not exist."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, StreamingResponse

from node.api.deps import ServicesDep
from node.api.schemas import from_checkpoint, from_derived_balance
from node.core.errors import NotFound
from node.ledger.balances import derive_balance
from node.ledger.verification import CheckResult
from node.pages.records import CHECK_MEANING, bundle_download, checks_context, receipt_view, verify_receipt_checks
from node.pages.sessions import PageSession
from node.portal.web import PortalRoute, SessionDep, customer_of, render
from node.services import Services
from node.store.dashboard import customer_comparisons, recent_deltas

router = APIRouter(route_class=PortalRoute)
PAGE = 100
# The customer reads the checks against its vendor: say who the root of trust is not.
PORTAL_CHECK_MEANING = {
    **CHECK_MEANING,
    "anchorer": "The anchor contract authorises the signer: the contract, not the vendor, is the root of trust.",
}


def _balance(services: Services, session: PageSession) -> dict[str, object] | None:
    try:
        return from_derived_balance(
            derive_balance(services.store, tenant=session.tenant, customer_id=customer_of(session))
        )
    except NotFound:
        return None  # a customer key issued before its first delta: an empty record, not an error


@router.get("", response_class=HTMLResponse, include_in_schema=False)
def home(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    customer = customer_of(session)
    with services.store.session() as db:
        deltas = recent_deltas(session=db, tenant=session.tenant, customer_id=customer, limit=10)
        comparisons = customer_comparisons(session=db, tenant=session.tenant, customer_id=customer, limit=5)
    return render(
        request,
        "home.html",
        session=session,
        nav="home",
        title="Your record",
        balance=_balance(services, session),
        deltas=deltas,
        comparisons=comparisons,
        checkpoints=len(services.checkpoints.list(tenant=session.tenant, customer_id=customer)),
    )


@router.get("/deltas", response_class=HTMLResponse, include_in_schema=False)
def deltas_page(
    request: Request, services: ServicesDep, session: SessionDep, before: Annotated[int | None, Query(ge=0)] = None
) -> Response:
    customer = customer_of(session)
    with services.store.session() as db:
        rows = list(
            recent_deltas(session=db, tenant=session.tenant, customer_id=customer, limit=PAGE + 1, below=before)
        )
    return render(
        request,
        "deltas.html",
        session=session,
        nav="deltas",
        title="Deltas",
        deltas=rows[:PAGE],
        older=rows[PAGE - 1].customer_index if len(rows) > PAGE else None,
    )


def _receipt_page(
    request: Request, services: Services, session: PageSession, receipt_id: str, checks: list[CheckResult] | None
) -> HTMLResponse:
    view = receipt_view(services, tenant=session.tenant, receipt_id=receipt_id, customer_id=customer_of(session))
    return render(
        request,
        "receipt.html",
        session=session,
        nav="deltas",
        title=f"Receipt {receipt_id}",
        receipt=view.receipt,
        anchored=view.anchored,
        **checks_context(checks, PORTAL_CHECK_MEANING),
    )


@router.get("/receipts/{receipt_id}", response_class=HTMLResponse, include_in_schema=False)
def receipt_page(receipt_id: str, request: Request, services: ServicesDep, session: SessionDep) -> Response:
    return _receipt_page(request, services, session, receipt_id, None)


@router.get("/receipts/{receipt_id}/verify", response_class=HTMLResponse, include_in_schema=False)
async def verify_receipt(receipt_id: str, request: Request, services: ServicesDep, session: SessionDep) -> Response:
    """The verifier package's checks of the receipt's proof bundle, against the chain. Each run reads the
    chain a dozen times, so it draws from the key's rate limit as an API request does."""
    services.rate_limiter.spend("key:" + session.key_id, services.key_policy, detail="too many verifications")
    checks = await verify_receipt_checks(
        services, tenant=session.tenant, receipt_id=receipt_id, customer_id=customer_of(session)
    )
    return await run_in_threadpool(_receipt_page, request, services, session, receipt_id, checks)


@router.get("/receipts/{receipt_id}/bundle.json", include_in_schema=False)
def download_bundle(receipt_id: str, services: ServicesDep, session: SessionDep) -> Response:
    return bundle_download(services, tenant=session.tenant, receipt_id=receipt_id, customer_id=customer_of(session))


@router.get("/checkpoints", response_class=HTMLResponse, include_in_schema=False)
def checkpoints_page(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    rows = services.checkpoints.list(tenant=session.tenant, customer_id=customer_of(session))
    return render(
        request,
        "checkpoints.html",
        session=session,
        nav="checkpoints",
        title="Checkpoints",
        checkpoints=[from_checkpoint(services.checkpoints.view(r)) for r in reversed(rows)],
    )


@router.get("/export.jsonl", include_in_schema=False)
def download_export(services: ServicesDep, session: SessionDep) -> Response:
    """Every verified delta's proof bundle, as GET /v1/balance/export streams it: what pacspace-verify derive reads."""
    customer = customer_of(session)
    lines = services.receipts.export_lines(tenant=session.tenant, customer_id=customer, from_index=0, to_index=None)
    return StreamingResponse(
        lines,
        media_type="application/x-ndjson",
        headers={"Content-Disposition": f'attachment; filename="{customer}.jsonl"'},
    )
