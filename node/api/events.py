"""CloudEvents ingest: ``POST /v1/events`` and the same at ``/api/v1/events`` for OpenMeter's clients.

Structured mode (``application/cloudevents+json``), batch mode (``application/cloudevents-batch+json``, up to
the bulk limit) and binary mode (``ce-*`` headers, the data as the body). Each event is mapped to a delta by
the tenant's rules (node.core.cloudevents, which ends in the delta route's own validation) and recorded through
the one recording path: a single event by ``record_and_answer`` (as ``POST /v1/balance/delta``), a batch by
``record_items`` (as ``POST /v1/balance/deltas``). ``{source}#{id}`` is the referenceId, so an event sent twice is
one delta: the retry answers the first receipt.

``/api/v1/events`` answers as OpenMeter's ingest API does: ``204 No Content`` once every event is recorded (or
was already), a problem+json otherwise; the receipts are at ``/v1/events``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from node.api.auth import Principal, WriterDep
from node.api.blocking import small_read
from node.api.bulk import MAX_BULK_DELTAS, record_items
from node.api.deps import ServicesDep
from node.api.encoding import json_bytes
from node.api.problems import PROBLEM_MEDIA_TYPE, problem_body
from node.api.routes import ERRORS, record_and_answer
from node.api.strict_json import StrictJsonRoute
from node.core.cloudevents import BATCH, STRUCTURED, event_request, parse_body
from node.core.deltas import DeltaRequest
from node.core.errors import FieldError, InvalidInput
from node.services import Services

router = APIRouter(prefix="/v1", tags=["events"], route_class=StrictJsonRoute)
openmeter_router = APIRouter(prefix="/api/v1", tags=["events"], route_class=StrictJsonRoute)
MAX_LISTED_ERRORS = 100
SMALL_BODY = 16 * 1024  # bytes: one event, or a handful

_EVENT = {
    "specversion": "1.0",
    "id": "evt_5f2b",
    "source": "billing-gateway",
    "type": "api_usage",
    "subject": "cust_12345",
    "time": "2026-02-10T12:00:00Z",
    "data": {"delta": -1000, "reason": "api_usage", "endpoint": "/v1/search"},
}
_EVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["specversion", "id", "source", "type", "subject"],
    "properties": {
        "specversion": {"type": "string", "enum": ["1.0"]},
        "id": {"type": "string", "description": "with source, the delta's referenceId: {source}#{id}"},
        "source": {"type": "string"},
        "type": {"type": "string", "description": "the reason, unless data.reason; selects the tenant's mapping"},
        "subject": {"type": "string", "description": "the customerId"},
        "time": {"type": "string", "format": "date-time"},
        "datacontenttype": {"type": "string", "enum": ["application/json"]},
        "data": {"type": "object", "description": "data.delta (an integer) by default; the rest is metadata"},
    },
}
REQUEST_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            STRUCTURED: {"schema": _EVENT_SCHEMA, "example": _EVENT},
            BATCH: {
                "schema": {"type": "array", "items": _EVENT_SCHEMA, "minItems": 1, "maxItems": MAX_BULK_DELTAS},
                "example": [_EVENT, {**_EVENT, "id": "evt_5f2c", "data": {"delta": -250}}],
            },
            "application/json": {
                "schema": {"description": "binary mode: the event's data, with its attributes in ce-* headers"},
                "example": {"delta": -1000, "endpoint": "/v1/search"},
            },
        },
    }
}


async def _items(
    request: Request, services: Services, principal: Principal
) -> tuple[list[DeltaRequest | InvalidInput], bool]:
    """The deltas the request's events stand for (a bad event of a batch is its item's 422), and whether it
    was a batch. A single bad event raises. A batch (up to the bulk limit) is parsed off the event loop."""
    body = await request.body()
    headers = {name.lower(): value for name, value in request.headers.items()}
    if len(body) <= SMALL_BODY:  # one event, or a handful: parsed here, as FastAPI parses a delta's body
        events, batch = parse_body(body, headers.get("content-type", ""), headers)
    else:
        events, batch = await run_in_threadpool(parse_body, body, headers.get("content-type", ""), headers)
    if batch and not 1 <= len(events) <= MAX_BULK_DELTAS:
        why = f"must hold 1 to {MAX_BULK_DELTAS} events, got {len(events)}"
        raise InvalidInput("the batch is empty or too large", errors=[FieldError("body", why)])
    types: set[str] = {t for e in events if isinstance(e, dict) and isinstance(t := e.get("type"), str)}
    rules = await small_read(services.store, services.ingest.rules, principal.tenant, types or None)

    def mapped() -> tuple[list[DeltaRequest | InvalidInput], bool]:
        if not batch:
            return [event_request(events[0], rules)], False
        items: list[DeltaRequest | InvalidInput] = []
        for index, event in enumerate(events):
            try:
                items.append(event_request(event, rules))
            except InvalidInput as exc:
                fields = [FieldError(f"events[{index}].{e.field}", e.message) for e in exc.errors]
                items.append(InvalidInput(f"events[{index}]: {exc.detail}", errors=fields))
        return items, True

    return mapped() if len(events) == 1 else await run_in_threadpool(mapped)


@router.post(
    "/events",
    status_code=201,
    summary="Record usage sent as CloudEvents: one delta and receipt per event",
    openapi_extra=REQUEST_BODY,
    responses={
        201: {
            "description": "one event, newly recorded: its receipt",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Receipt"}}},
        },
        200: {
            "description": "a batch: one result per event (as POST /v1/balance/deltas); or an event sent again: "
            "its first receipt",
            "content": {
                "application/json": {
                    "schema": {
                        "oneOf": [
                            {"$ref": "#/components/schemas/DeltaBatchResult"},
                            {"$ref": "#/components/schemas/Receipt"},
                        ]
                    }
                }
            },
        },
        **ERRORS,
    },
)
async def ingest_events(
    request: Request,
    services: ServicesDep,
    principal: WriterDep,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", min_length=1, max_length=128)] = None,
) -> Response:
    """A CloudEvent in structured mode (`application/cloudevents+json`) or binary mode (`ce-*` headers,
    the data as the JSON body) is one delta: `201` with its receipt, `200` with the first receipt when the
    same event (`{source}#{id}`) comes again. A batch (`application/cloudevents-batch+json`, up to 1,000
    events) answers `200` with one result per event, in order, as `POST /v1/balance/deltas` does; a bad event
    is its own `422` naming `events[i].field`. Mapping: `subject` → customerId, `{source}#{id}` → referenceId,
    `data.delta` → delta, `data.reason` or `type` → reason, the rest of `data` → metadata, unless the tenant
    mapped the event's `type` (`PUT /v1/events/mappings/{type}`)."""
    items, batch = await _items(request, services, principal)
    if not batch:
        item = items[0]
        assert not isinstance(item, InvalidInput)
        return await record_and_answer(services, principal, item)
    result = await record_items(services, principal, items, prefix="events")
    headers = {} if idempotency_key is None else {"Idempotency-Key": idempotency_key}
    content = await run_in_threadpool(json_bytes, result)
    return Response(content, status_code=200, media_type="application/json", headers=headers)


def _not_recorded(results: list[dict[str, Any]], batch: bool) -> Response | None:
    """The problem for OpenMeter's clients when some event was not recorded, else None (204)."""
    failed = [(i, r["problem"]) for i, r in enumerate(results) if r["status"] not in (200, 201)]
    if not failed:
        return None
    if not batch:
        problem = failed[0][1]
        return Response(json_bytes(problem), status_code=problem["status"], media_type=PROBLEM_MEDIA_TYPE)
    statuses = {problem["status"] for _, problem in failed}
    status = statuses.pop() if len(statuses) == 1 else 422
    errors: list[FieldError] = []
    for index, problem in failed:
        listed = problem["errors"] or [{"field": f"events[{index}]", "message": problem["detail"]}]
        errors += [FieldError(e["field"], e["message"]) for e in listed]
    if len(failed) == len(results):
        detail = f"no event of the batch was recorded ({len(failed)} refused)"
    else:
        detail = (
            f"{len(failed)} of {len(results)} events were not recorded; the others were, and sending the batch "
            "again answers them with their first receipts"
        )
    body = problem_body(status, "events_not_recorded", "Events not recorded", detail, errors[:MAX_LISTED_ERRORS], {})
    return Response(json_bytes(body), status_code=status, media_type=PROBLEM_MEDIA_TYPE)


@openmeter_router.post(
    "/events",
    status_code=204,
    summary="Record usage CloudEvents sent by an OpenMeter client (OpenMeter's ingest API)",
    openapi_extra=REQUEST_BODY,
    responses={204: {"description": "every event recorded, or already recorded"}, **ERRORS},
    response_class=Response,
)
async def ingest_openmeter(request: Request, services: ServicesDep, principal: WriterDep) -> Response:
    """The same events and mapping as `POST /v1/events`, answered as OpenMeter's `POST /api/v1/events` is:
    `204 No Content` when every event is recorded (or was already: an event sent again is one delta).
    When some event of a batch is not, a problem+json lists each one as `events[i].field`; the others are
    recorded, and sending the batch again records nothing twice. Receipts: `POST /v1/events`,
    `GET /v1/receipts/{receiptId}`."""
    items, batch = await _items(request, services, principal)
    result = await record_items(services, principal, items, prefix="events")
    refused = _not_recorded(result["results"], batch)
    return refused if refused is not None else Response(status_code=204)
