"""Batches, and receipts: lookup by receiptId or referenceId, status timeline, the proof,
"verify against the chain" (the verifier's fourteen checks) and the bundle to download."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse

from node.api.deps import ServicesDep
from node.core.errors import NotFound
from node.core.hashing import to_hex
from node.dashboard.web import PREFIX, DashboardRoute, SessionDep, render
from node.ledger.verification import CheckResult
from node.pages.records import bundle_download, checks_context, receipt_view, verify_receipt_checks
from node.pages.sessions import PageSession
from node.services import Services
from node.store.dashboard import recent_receipts, tenant_batches
from node.store.models import BatchRow, BatchStatus, DeltaRow, StoredBatch, StoredDelta

router = APIRouter(route_class=DashboardRoute)
PAGE = 50


@dataclass(frozen=True)
class Step:
    title: str
    done: bool
    at: int | None
    detail: str


def confirmations_text(confirmations: int, required: int) -> str:
    """'6 confirmations (1 required)' once there are enough, '0 of 2 required confirmations' before."""
    if confirmations >= required:
        return f"{confirmations} confirmation{'s' if confirmations != 1 else ''} ({required} required)"
    return f"{confirmations} of {required} required confirmation{'s' if required != 1 else ''}"


def _timeline(row: DeltaRow | StoredDelta, batch: BatchRow | StoredBatch | None, receipt: dict[str, Any]) -> list[Step]:
    mined = batch is not None and batch.status in (BatchStatus.ANCHORED, BatchStatus.VERIFIED)
    anchored_detail = "waiting for the next anchoring batch"
    if batch is not None and not mined:
        anchored_detail = f"in the batch from log index {batch.start_index}; its transaction is not mined yet"
    elif batch is not None:
        anchored_detail = f"batch {batch.onchain_batch_id}, log index {row.log_index}, block {batch.block_number}"
    verified = batch is not None and batch.status == BatchStatus.VERIFIED
    return [
        Step("Recorded", True, row.recorded_at, f"signed and stored as pending, customer index {row.customer_index}"),
        Step("Anchored", mined, batch.anchored_at if mined and batch else None, anchored_detail),
        Step(
            "Verified",
            verified,
            batch.verified_at if verified and batch else None,
            confirmations_text(receipt["confirmations"], receipt["confirmationsRequired"]),
        ),
    ]


def _receipt_page(
    request: Request,
    services: Services,
    session: PageSession,
    receipt_id: str,
    checks: list[CheckResult] | None = None,
) -> HTMLResponse:
    view = receipt_view(services, tenant=session.tenant, receipt_id=receipt_id, customer_id=None)
    return render(
        request,
        "receipt.html",
        session=session,
        nav="receipts",
        title=f"Receipt {receipt_id}",
        receipt=view.receipt,
        row=view.row,
        timeline=_timeline(view.row, view.batch, view.receipt),
        bundle=services.receipts.bundle_for(view.row, view.batch) if view.anchored and view.batch else None,
        batch=view.batch,
        **checks_context(checks),
    )


@router.get("/batches", response_class=HTMLResponse, include_in_schema=False)
def batches_page(request: Request, services: ServicesDep, session: SessionDep, before: int | None = None) -> Response:
    state = services
    with state.store.session() as db:
        rows = tenant_batches(session=db, tenant=session.tenant, limit=PAGE + 1, below_start=before)
    head = state.head_block()
    return render(
        request,
        "batches.html",
        session=session,
        nav="batches",
        title="Batches",
        batches=[
            {
                "row": b.batch,
                "root": to_hex(b.batch.root),
                "tx": None if b.batch.tx_hash is None else to_hex(b.batch.tx_hash),
                "confirmations": None
                if head is None or b.batch.block_number is None
                else max(0, head - b.batch.block_number + 1),
                "tenant_deltas": b.tenant_deltas,
            }
            for b in rows[:PAGE]
        ],
        older=rows[PAGE - 1].batch.start_index if len(rows) > PAGE else None,
        head_block=head,
    )


@router.get("/receipts", response_class=HTMLResponse, include_in_schema=False)
def receipts_page(request: Request, services: ServicesDep, session: SessionDep, q: str = "") -> Response:
    state = services
    query = q.strip()
    error = None
    if query:
        try:
            row, _batch = state.receipts.find(tenant=session.tenant, receipt_or_reference_id=query[:200])
        except NotFound:
            error = f"No receipt has the id or referenceId “{query[:200]}” in this tenant."
        else:
            return RedirectResponse(f"{PREFIX}/receipts/{row.receipt_id}", status_code=303)
    with state.store.session() as db:
        recent = recent_receipts(session=db, tenant=session.tenant, limit=25)
    return render(
        request,
        "receipts.html",
        session=session,
        status_code=404 if error else 200,
        nav="receipts",
        title="Receipts",
        query=query,
        error=error,
        recent=recent,
    )


@router.get("/receipts/{receipt_id}", response_class=HTMLResponse, include_in_schema=False)
def receipt_page(receipt_id: str, request: Request, services: ServicesDep, session: SessionDep) -> Response:
    return _receipt_page(request, services, session, receipt_id)


@router.get("/receipts/{receipt_id}/verify", response_class=HTMLResponse, include_in_schema=False)
async def verify_receipt(receipt_id: str, request: Request, services: ServicesDep, session: SessionDep) -> Response:
    checks = await verify_receipt_checks(services, tenant=session.tenant, receipt_id=receipt_id, customer_id=None)
    return await run_in_threadpool(_receipt_page, request, services, session, receipt_id, checks)


@router.get("/receipts/{receipt_id}/bundle.json", include_in_schema=False)
def download_bundle(receipt_id: str, services: ServicesDep, session: SessionDep) -> Response:
    return bundle_download(services, tenant=session.tenant, receipt_id=receipt_id, customer_id=None)
