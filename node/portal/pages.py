"""The customer's own record: balance (derived, verified and pending apart), deltas with their status,
each receipt with its verification against the chain (the verifier's checks, as the dashboard runs
them), checkpoints with their tokens and countersignature state, and the export to download.

Every read is scoped by the session's tenant and customer; an id from the URL that belongs to anyone
else is the same 404 as an id that does not exist."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, StreamingResponse

from node.api.deps import ServicesDep
from node.api.schemas import from_checkpoint, from_derived_balance
from node.core.errors import NotFound
from node.ledger.balances import derive_balance
from node.ledger.receipts import receipt_json
from node.ledger.verification import CheckResult, verify_bundle
from node.pages.sessions import PageSession
from node.portal.web import PortalRoute, SessionDep, customer_of, render
from node.services import Services
from node.store.dashboard import customer_comparisons, recent_deltas
from node.store.models import BatchStatus

router = APIRouter(route_class=PortalRoute)
PAGE = 100
CHECK_MEANING = {
    "format": "The bundle has every field of a proof bundle, well typed.",
    "domain": "The delta is signed for this chain and this anchor contract.",
    "fingerprint": "Hashing the delta again (EIP-712) gives its fingerprint: no field was changed.",
    "metadata": "The metadata text is canonical JSON and hashes to the signed metadataHash.",
    "signature": "The receipt's signature over the fingerprint recovers to the signer.",
    "leaf": "The Merkle leaf is the hash of the log index and the fingerprint.",
    "proof": "The proof's sibling hashes lead from the leaf to the batch root.",
    "range": "The log index lies inside the batch's range.",
    "chain_id": "The chain answering is the chain the bundle names.",
    "anchorer": "The anchor contract authorises the signer: the contract, not the vendor, is the root of trust.",
    "commitment": "The contract stores this batch's root and size, and its verify() accepts the proof.",
    "transaction": "The anchoring transaction succeeded, was sent to the contract and emitted this batch.",
    "block": "The anchoring block is still part of the canonical chain.",
    "confirmations": "Enough blocks are built on top of the anchoring block.",
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
    row, batch = services.receipts.get(tenant=session.tenant, receipt_id=receipt_id, customer_id=customer_of(session))
    receipt = receipt_json(
        row, batch, head_block=services.head_block(), confirmations_required=services.settings.confirmations
    )
    mined = batch is not None and batch.status in (BatchStatus.ANCHORED, BatchStatus.VERIFIED)
    return render(
        request,
        "receipt.html",
        session=session,
        nav="deltas",
        title=f"Receipt {receipt_id}",
        receipt=receipt,
        anchored=mined,
        checks=checks,
        check_meaning=CHECK_MEANING,
        passed=None if checks is None else all(c.ok for c in checks),
    )


@router.get("/receipts/{receipt_id}", response_class=HTMLResponse, include_in_schema=False)
def receipt_page(receipt_id: str, request: Request, services: ServicesDep, session: SessionDep) -> Response:
    return _receipt_page(request, services, session, receipt_id, None)


@router.get("/receipts/{receipt_id}/verify", response_class=HTMLResponse, include_in_schema=False)
async def verify_receipt(receipt_id: str, request: Request, services: ServicesDep, session: SessionDep) -> Response:
    """The verifier package's checks of the receipt's proof bundle, against the chain. Each run reads the
    chain a dozen times, so it draws from the key's rate limit as an API request does."""
    services.rate_limiter.spend("key:" + session.key_id, services.key_policy, detail="too many verifications")
    bundle = await run_in_threadpool(
        services.receipts.proof_bundle, tenant=session.tenant, receipt_id=receipt_id, customer_id=customer_of(session)
    )
    checks = await run_in_threadpool(
        verify_bundle,
        bundle,
        rpc_url=services.settings.rpc_url,
        contract=services.settings.contract_address,
        required_confirmations=services.settings.confirmations,
    )
    return await run_in_threadpool(_receipt_page, request, services, session, receipt_id, checks)


@router.get("/receipts/{receipt_id}/bundle.json", include_in_schema=False)
def download_bundle(receipt_id: str, services: ServicesDep, session: SessionDep) -> Response:
    bundle = services.receipts.proof_bundle(
        tenant=session.tenant, receipt_id=receipt_id, customer_id=customer_of(session)
    )
    return Response(
        json.dumps(bundle, indent=2),
        media_type=services.domain.protocol.media_type,
        headers={"Content-Disposition": f'attachment; filename="{receipt_id}.json"'},
    )


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
