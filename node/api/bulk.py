"""``POST /v1/balance/deltas``: up to 1,000 deltas in one request, each recorded independently.

Every item goes through exactly the rules of ``POST /v1/balance/delta`` (same model, same core
validation, same recorder) and gets its own result, in order: ``201`` with a new receipt,
``200`` with the first receipt of a referenceId already recorded with the same payload, ``409``
for a referenceId recorded with another payload, ``422`` naming ``deltas[i].field``. Valid items
are recorded even when others are not. The same referenceId twice in one request is one delta:
the later items are replays of the first (or conflicts); ``503`` for an item whose transaction
the database refused (nothing of it stored). The response is ``200`` whenever the request itself
is well-formed; a malformed or oversized request is refused whole, storing nothing.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from node.api.auth import Principal, WriterDep
from node.api.deps import ServicesDep
from node.api.encoding import json_bytes
from node.api.problems import error_body, field_message
from node.api.routes import ERRORS
from node.api.schemas import DeltaCreate
from node.api.strict_json import StrictJsonRoute
from node.core.deltas import DeltaRequest
from node.core.errors import DatabaseUnavailable, FieldError, InvalidInput, PacSpaceError
from node.ledger.receipts import receipt_json
from node.ledger.recording import RecordResult
from node.services import Services
from node.store.batches import get_batch
from node.store.models import BatchRow, StoredDelta

MAX_BULK_DELTAS = 1000
router = APIRouter(prefix="/v1", route_class=StrictJsonRoute)


class DeltaBatchCreate(BaseModel):
    """Up to 1,000 deltas, each shaped like the body of ``POST /v1/balance/delta``."""

    model_config = ConfigDict(extra="forbid", strict=True)

    # Items are validated one by one (a bad item is that item's 422, not the request's), so the
    # request model takes any JSON value; the schema still names the item model.
    deltas: list[Any] = Field(
        min_length=1,
        max_length=MAX_BULK_DELTAS,
        json_schema_extra={"items": {"$ref": "#/components/schemas/DeltaCreate"}},
    )


class DeltaResult(BaseModel):
    status: int = Field(description="201 created, 200 replay of the first receipt, 409 conflict, 422 invalid")
    receipt: dict[str, Any] | None = Field(default=None, description="the receipt (201 and 200)")
    problem: dict[str, Any] | None = Field(default=None, description="a problem+json body (409 and 422)")


class DeltaBatchResult(BaseModel):
    results: list[DeltaResult] = Field(description="one per item, in request order")
    created: int
    replayed: int
    failed: int


def _field(index: int, loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    return f"deltas[{index}]" + "".join("." + p for p in parts)


def _validate_item(index: int, item: Any) -> DeltaRequest | InvalidInput:
    try:
        body = DeltaCreate.model_validate(item, strict=True)
    except ValidationError as exc:
        errors = []
        for err in exc.errors():
            errors.append(FieldError(_field(index, tuple(err.get("loc", ()))), field_message(err)))
        return InvalidInput(f"deltas[{index}] is not valid", errors=errors)
    try:
        return body.to_request()
    except InvalidInput as exc:
        return InvalidInput(
            f"deltas[{index}] is not valid",
            errors=[FieldError(f"deltas[{index}].{e.field}", e.message) for e in exc.errors],
        )


def _prefixed(index: int, exc: Exception, prefix: str = "deltas") -> dict[str, Any]:
    if not isinstance(exc, PacSpaceError):
        # The database refused this item's transaction (locked, full): nothing of it was stored.
        return error_body(
            DatabaseUnavailable(
                "the database could not take this delta (locked, full or unreachable); nothing was stored, retry"
            )
        )
    body = error_body(exc)
    for error in body["errors"]:
        if not error["field"].startswith(f"{prefix}["):
            error["field"] = f"{prefix}[{index}].{error['field']}"
    return body


def render_results(
    state: Services, items: list[DeltaRequest | InvalidInput], outcomes: list[RecordResult], prefix: str = "deltas"
) -> dict[str, Any]:
    """One result per item, in order (the ``DeltaBatchResult`` shape); problems name ``<prefix>[i].field``."""
    required = state.settings.confirmations
    head_block = state.head_block()
    batches: dict[int, BatchRow | None] = {}
    replays = [r.row for r in outcomes if r.row is not None and not r.created and r.row.batch_id is not None]
    if replays:  # a replayed receipt may be anchored by now: show its batch, as the single endpoint does
        with state.store.session() as session:
            for batch_id in {row.batch_id for row in replays if row.batch_id is not None}:
                batches[batch_id] = get_batch(session=session, batch_id=batch_id)
    results: list[dict[str, Any]] = []
    counts = {"created": 0, "replayed": 0, "failed": 0}
    outcome_iter = iter(outcomes)
    for index, item in enumerate(items):
        if isinstance(item, InvalidInput):
            results.append({"status": 422, "problem": error_body(item)})
            counts["failed"] += 1
            continue
        outcome = next(outcome_iter)
        if outcome.error is not None:
            body = _prefixed(index, outcome.error, prefix)
            results.append({"status": body["status"], "problem": body})
            counts["failed"] += 1
            continue
        row: StoredDelta | None = outcome.row
        assert row is not None
        batch = None if row.batch_id is None else batches.get(row.batch_id)
        receipt = receipt_json(row, batch, head_block=head_block, confirmations_required=required)
        results.append({"status": 201 if outcome.created else 200, "receipt": receipt})
        counts["created" if outcome.created else "replayed"] += 1
    return {"results": results, **counts}


async def record_items(
    services: Services, principal: Principal, items: list[DeltaRequest | InvalidInput], prefix: str = "deltas"
) -> dict[str, Any]:
    """Record the valid items through the one recorder, each independently, and render every item's result.
    The one path of a batch, whichever route it came in by (``/v1/balance/deltas``, ``/v1/events``)."""
    valid = [item for item in items if not isinstance(item, InvalidInput)]
    outcomes = await services.recorder.record_many_async(
        tenant=principal.tenant, requests=valid, api_key_id=principal.key_id
    )
    return await run_in_threadpool(render_results, services, items, outcomes, prefix)


@router.post(
    "/balance/deltas",
    response_model=DeltaBatchResult,
    responses=ERRORS,
    summary="Record up to 1,000 deltas, each independently, with one result per item",
)
async def record_deltas(
    body: DeltaBatchCreate,
    services: ServicesDep,
    principal: WriterDep,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", min_length=1, max_length=128)] = None,
) -> Response:
    """Each item is validated, fingerprinted, signed and recorded on its own; the referenceId of each item
    is its idempotency key, so retrying the whole request records nothing twice and answers every item with
    its first receipt (status 200). An ``Idempotency-Key`` header is accepted and echoed; it adds nothing to
    the per-item referenceIds. One request counts once against the key's rate limit."""
    items = await run_in_threadpool(lambda: [_validate_item(i, item) for i, item in enumerate(body.deltas)])
    content = await run_in_threadpool(json_bytes, await record_items(services, principal, items))
    headers = {} if idempotency_key is None else {"Idempotency-Key": idempotency_key}
    return Response(content, status_code=200, media_type="application/json", headers=headers)
