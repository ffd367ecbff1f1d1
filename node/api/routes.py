"""Thin routes: parse, call the service, shape the response."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from node.api.auth import Principal, PrincipalDep, ReaderDep, WriterDep
from node.api.blocking import small_read
from node.api.deps import ServicesDep
from node.api.schemas import DeltaCreate, Problem, Receipt
from node.api.strict_json import StrictJsonRoute
from node.core.bundle import BUNDLE_MEDIA_TYPES
from node.core.deltas import DeltaRequest
from node.core.errors import FieldError, InvalidInput
from node.ledger.receipts import receipt_json
from node.services import Services

router = APIRouter(prefix="/v1", route_class=StrictJsonRoute)
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem, "content": {"application/problem+json": {}}}
    for code in (400, 401, 403, 404, 409, 413, 415, 422, 429)
}


def _receipt(state: Services, receipt_id: str, principal: Principal) -> dict[str, Any]:
    row, batch = state.receipts.get(tenant=principal.tenant, receipt_id=receipt_id, customer_id=principal.customer_id)
    return receipt_json(
        row,
        batch,
        head_block=state.head_block(),
        confirmations_required=state.settings.confirmations,
    )


@router.post(
    "/balance/delta",
    status_code=201,
    response_model=Receipt,
    responses={200: {"model": Receipt, "description": "a retry: the first receipt"}, **ERRORS},
    summary="Record a credit delta and get its signed receipt",
)
async def record_delta(
    body: DeltaCreate,
    services: ServicesDep,
    principal: WriterDep,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> JSONResponse:
    if idempotency_key is not None and idempotency_key != body.referenceId:
        raise InvalidInput(
            "Idempotency-Key must equal referenceId (referenceId is the idempotency key)",
            errors=[FieldError("Idempotency-Key", "differs from referenceId")],
        )
    return await record_and_answer(services, principal, body.to_request())


async def record_and_answer(services: Services, principal: Principal, delta_request: DeltaRequest) -> JSONResponse:
    """Record one validated delta and answer with its receipt: 201 new, 200 the first receipt of a retry.
    The one path of a single delta, whichever route it came in by (``/v1/balance/delta``, ``/v1/events``)."""
    # On the event loop: the recorder's writer thread signs and commits, this request just waits.
    row, created = await services.recorder.record_async(
        tenant=principal.tenant, request=delta_request, api_key_id=principal.key_id
    )
    headers = {"Location": f"/v1/receipts/{row.receipt_id}"}
    if not created:  # a retry: the receipt may be anchored by now
        replay = await run_in_threadpool(_receipt, services, row.receipt_id, principal)
        return JSONResponse(replay, status_code=200, headers=headers)
    # A new row has no batch yet: answer from it without reading it back, and as a
    # JSONResponse, which skips re-validating the body against the response model.
    body_json = receipt_json(row, None, head_block=None, confirmations_required=services.settings.confirmations)
    return JSONResponse(body_json, status_code=201, headers=headers)


@router.get("/receipts/{receipt_id}", response_model=Receipt, responses=ERRORS, summary="A receipt and its status")
async def get_receipt(receipt_id: str, services: ServicesDep, principal: ReaderDep) -> JSONResponse:
    # Two indexed reads: on the event loop with SQLite (cheaper than a thread hop), else off it.
    return JSONResponse(await small_read(services.store, _receipt, services, receipt_id, principal))


@router.get(
    "/receipts/{receipt_id}/proof",
    responses={200: {"content": {media_type: {} for media_type in BUNDLE_MEDIA_TYPES}}, **ERRORS},
    summary="A self-contained proof bundle for an anchored receipt",
)
async def get_proof(receipt_id: str, services: ServicesDep, principal: ReaderDep) -> JSONResponse:
    # On the event loop as get_receipt: the batch's stored tree is one row, and a proof a few slices of it
    # (a batch anchored before trees were stored is rebuilt once, then cached).
    state = services
    bundle = await small_read(
        state.store,
        state.receipts.proof_bundle,
        tenant=principal.tenant,
        receipt_id=receipt_id,
        customer_id=principal.customer_id,
    )
    return JSONResponse(bundle, media_type=state.domain.protocol.media_type)


@router.get("/me", responses=ERRORS, summary="The API key making the request: its id, tenant, scopes and customer")
async def me(principal: PrincipalDep) -> JSONResponse:
    """Any valid key may ask (no scope needed); it answers from the authentication alone, touching nothing else."""
    return JSONResponse(
        {
            "keyId": principal.key_id,
            "tenant": principal.tenant,
            "scopes": sorted(principal.scopes),
            "customerId": principal.customer_id,
        }
    )
