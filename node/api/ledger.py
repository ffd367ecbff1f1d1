"""Derive, export and checkpoints: every party arrives at the same number."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from node.api.auth import Principal, ReaderDep, WriterDep
from node.api.deps import CheckpointsDep, ServicesDep
from node.api.routes import ERRORS
from node.api.schemas import CheckpointCreate, Countersign, from_checkpoint, from_derived_balance
from node.api.strict_json import StrictJsonRoute
from node.checkpoints.service import RangeRequest
from node.core.deltas import MAX_INDEX
from node.core.errors import FieldError, InvalidInput, NotFound
from node.core.hashing import from_hex
from node.ledger.balances import derive_balance, replay_customer
from node.ledger.completeness import completeness_findings

router = APIRouter(prefix="/v1", route_class=StrictJsonRoute)
CustomerQuery = Annotated[str, Query(min_length=1, max_length=128, description="the customer")]


def _customer(principal: Principal, customer_id: str) -> str:
    """A customer-scoped key asking about another customer gets the same 404 as an unknown one."""
    if principal.customer_id is not None and principal.customer_id != customer_id:
        raise NotFound(f"no deltas recorded for customer {customer_id!r}")
    return customer_id


@router.get("/balance/derive", responses=ERRORS, summary="The customer's balance from verified deltas")
def derive(
    services: ServicesDep, principal: ReaderDep, customerId: CustomerQuery, verify: bool = False
) -> dict[str, Any]:
    state = services
    customer_id = _customer(principal, customerId)
    result = from_derived_balance(derive_balance(state.store, tenant=principal.tenant, customer_id=customer_id))
    if verify:
        findings = replay_customer(
            state.store,
            state.anchor.chain,
            domain=state.domain,
            tenant=principal.tenant,
            customer_id=customer_id,
        )
        # The whole log's completeness: a deleted batch's owners cannot be known, so it concerns every customer.
        settings = state.settings
        findings += completeness_findings(
            state.store,
            state.anchor.chain,
            from_block=settings.contract_deployment_block,
            span=settings.log_query_span_blocks,
        )
        result["verification"] = {
            "verified": not findings,
            "checked": result["headIndex"] + 1,
            "discrepancies": [f.to_json() for f in findings],
        }
    return result


@router.get(
    "/balance/export",
    responses={200: {"content": {"application/x-ndjson": {}}}, **ERRORS},
    summary="JSON Lines of proof bundles for the customer's verified deltas",
)
def export(
    services: ServicesDep,
    principal: ReaderDep,
    customerId: CustomerQuery,
    fromIndex: Annotated[int, Query(ge=0, le=MAX_INDEX)] = 0,
    toIndex: Annotated[int | None, Query(ge=0, le=MAX_INDEX)] = None,
) -> StreamingResponse:
    customer_id = _customer(principal, customerId)
    if toIndex is not None and toIndex < fromIndex:
        raise InvalidInput("toIndex is before fromIndex", errors=[FieldError("toIndex", "must be >= fromIndex")])
    state = services
    derive_balance(state.store, tenant=principal.tenant, customer_id=customer_id)  # 404 for unknown customers
    lines = state.receipts.export_lines(
        tenant=principal.tenant, customer_id=customer_id, from_index=fromIndex, to_index=toIndex
    )
    return StreamingResponse(
        lines,
        media_type="application/x-ndjson",
        headers={"Content-Disposition": f'attachment; filename="{customer_id}.jsonl"'},
    )


@router.post("/checkpoints", status_code=201, responses=ERRORS, summary="Sign a checkpoint over a verified range")
def create_checkpoint(body: CheckpointCreate, checkpoints: CheckpointsDep, principal: WriterDep) -> dict[str, Any]:
    if (body.fromIndex is not None or body.toIndex is not None) and (body.from_ is not None or body.to is not None):
        raise InvalidInput(
            "give a range by index or by time, not both",
            errors=[FieldError("from", "not with fromIndex/toIndex")],
        )
    row = checkpoints.create(
        tenant=principal.tenant,
        req=RangeRequest(
            customer_id=_customer(principal, body.customerId),
            from_index=body.fromIndex,
            to_index=body.toIndex,
            recorded_from=body.from_,
            recorded_to=body.to,
        ),
    )
    return from_checkpoint(checkpoints.view(row))


@router.get("/checkpoints", responses=ERRORS, summary="Checkpoints, optionally of one customer")
def list_checkpoints(
    checkpoints: CheckpointsDep,
    principal: ReaderDep,
    customerId: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
) -> dict[str, Any]:
    customer_id = principal.customer_id or customerId
    if customerId is not None:
        customer_id = _customer(principal, customerId)
    rows = checkpoints.list(tenant=principal.tenant, customer_id=customer_id)
    return {"checkpoints": [from_checkpoint(checkpoints.view(r)) for r in rows]}


@router.get("/checkpoints/{checkpoint_id}", responses=ERRORS, summary="One checkpoint")
def get_checkpoint(checkpoint_id: str, checkpoints: CheckpointsDep, principal: ReaderDep) -> dict[str, Any]:
    row = checkpoints.get(tenant=principal.tenant, checkpoint_id=checkpoint_id, customer_id=principal.customer_id)
    return from_checkpoint(checkpoints.view(row))


@router.post(
    "/checkpoints/{checkpoint_id}/countersign",
    responses=ERRORS,
    summary="The customer's own EIP-712 signature over the checkpoint",
)
def countersign(
    checkpoint_id: str, body: Countersign, checkpoints: CheckpointsDep, principal: ReaderDep
) -> dict[str, Any]:
    row = checkpoints.countersign(
        tenant=principal.tenant,
        checkpoint_id=checkpoint_id,
        signature=from_hex(body.signature.lower(), length=65),
        customer_id=principal.customer_id,
    )
    return from_checkpoint(checkpoints.view(row))
