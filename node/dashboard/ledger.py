"""Batches, and receipts: lookup by receiptId or referenceId, status timeline, the proof,
"verify against the chain" (the verifier's fourteen checks) and the bundle to download."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse

from node.api.deps import ServicesDep
from node.core.errors import NotFound
from node.core.hashing import to_hex
from node.dashboard.sessions import DashboardSession
from node.dashboard.web import PREFIX, DashboardRoute, SessionDep, render
from node.ledger.receipts import receipt_json
from node.ledger.verification import CheckResult, verify_bundle
from node.services import Services
from node.store.dashboard import recent_receipts, tenant_batches
from node.store.models import BatchRow, BatchStatus, DeltaRow, StoredBatch, StoredDelta

router = APIRouter(route_class=DashboardRoute)
PAGE = 50
CHECK_MEANING = {
    "format": "The bundle has every field of a pacspace.proof.v1 bundle, well typed.",
    "domain": "The delta is signed for this chain and this node's anchor contract.",
    "fingerprint": "Hashing the delta again (EIP-712) gives its fingerprint: no field was changed.",
    "metadata": "The metadata text is canonical JSON and hashes to the signed metadataHash.",
    "signature": "The receipt's signature over the fingerprint recovers to the signer.",
    "leaf": "The Merkle leaf is the hash of the log index and the fingerprint.",
    "proof": "The proof's sibling hashes lead from the leaf to the batch root.",
    "range": "The log index lies inside the batch's range.",
    "chain_id": "The chain answering is the chain the bundle names.",
    "anchorer": "The anchor contract authorises the signer: the contract is the root of trust.",
    "commitment": "The contract stores this batch's root and size, and its verify() accepts the proof.",
    "transaction": "The anchoring transaction succeeded, was sent to the contract and emitted this batch.",
    "block": "The anchoring block is still part of the canonical chain.",
    "confirmations": "Enough blocks are built on top of the anchoring block.",
}


@dataclass(frozen=True)
class Step:
    title: str
    done: bool
    at: int | None
    detail: str


def _timeline(row: DeltaRow | StoredDelta, batch: BatchRow | StoredBatch | None, receipt: dict[str, Any]) -> list[Step]:
    mined = batch is not None and batch.status in (BatchStatus.ANCHORED, BatchStatus.VERIFIED)
    anchored_detail = "waiting for the next anchoring batch"
    if batch is not None and not mined:
        anchored_detail = f"in the batch from log index {batch.start_index}; its transaction is not mined yet"
    elif batch is not None:
        anchored_detail = f"batch {batch.onchain_batch_id}, log index {row.log_index}, block {batch.block_number}"
    verified = row.status == "verified"
    return [
        Step("Recorded", True, row.recorded_at, f"signed and stored as pending, customer index {row.customer_index}"),
        Step("Anchored", mined, batch.anchored_at if mined and batch else None, anchored_detail),
        Step(
            "Verified",
            verified,
            batch.verified_at if verified and batch else None,
            f"{receipt['confirmations']} of {receipt['confirmationsRequired']} confirmation(s)",
        ),
    ]


def _receipt_page(
    request: Request,
    services: Services,
    session: DashboardSession,
    receipt_id: str,
    checks: list[CheckResult] | None = None,
) -> HTMLResponse:
    state = services
    row, batch = state.receipts.get(tenant=session.tenant, receipt_id=receipt_id)
    receipt = receipt_json(
        row,
        batch,
        head_block=state.head_block(),
        confirmations_required=state.settings.confirmations,
    )
    mined = batch is not None and batch.status in (BatchStatus.ANCHORED, BatchStatus.VERIFIED)
    bundle = state.receipts.bundle_for(row, batch) if mined and batch is not None else None
    return render(
        request,
        "receipt.html",
        session=session,
        nav="receipts",
        title=f"Receipt {receipt_id}",
        receipt=receipt,
        row=row,
        timeline=_timeline(row, batch, receipt),
        bundle=bundle,
        batch=batch,
        checks=checks,
        check_meaning=CHECK_MEANING,
        passed=None if checks is None else all(c.ok for c in checks),
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
    state = services
    bundle = await run_in_threadpool(state.receipts.proof_bundle, tenant=session.tenant, receipt_id=receipt_id)
    checks = await run_in_threadpool(
        verify_bundle,
        bundle,
        rpc_url=state.anchor.chain.rpc_url(),
        contract=state.settings.contract_address,
        required_confirmations=state.settings.confirmations,
    )
    return await run_in_threadpool(_receipt_page, request, services, session, receipt_id, checks)


@router.get("/receipts/{receipt_id}/bundle.json", include_in_schema=False)
def download_bundle(receipt_id: str, services: ServicesDep, session: SessionDep) -> Response:
    bundle = services.receipts.proof_bundle(tenant=session.tenant, receipt_id=receipt_id)
    return Response(
        json.dumps(bundle, indent=2),
        media_type=services.domain.protocol.media_type,
        headers={"Content-Disposition": f'attachment; filename="{receipt_id}.json"'},
    )
