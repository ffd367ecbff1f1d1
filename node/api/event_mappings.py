"""The tenant's CloudEvents mappings and referenceId form (admin): how events of other shapes become deltas."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from node.api.auth import AdminDep
from node.api.deps import IngestDep
from node.api.routes import ERRORS
from node.api.strict_json import StrictJsonRoute
from node.store.event_mappings import EventMappingRow
from node.webhooks.events import iso

router = APIRouter(prefix="/v1/events", tags=["events"], route_class=StrictJsonRoute)


class MappingBody(BaseModel):
    """``delta = data.<quantityField> × multiplier``; ``reasonTemplate`` fills ``{type}``, ``{subject}``,
    ``{source}``, ``{id}``, ``{quantity}`` and ``{data.<field>}`` (default: the event's type)."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [{"quantityField": "tokens", "multiplier": "-2", "reasonTemplate": "{data.model} tokens"}]
        },
    )

    quantityField: str = Field(min_length=1, max_length=256, description="the data field holding the quantity")
    multiplier: str | int = Field(
        description='credits per unit, sign included: an integer, or a decimal string such as "-0.5"'
    )
    reasonTemplate: str | None = Field(default=None, min_length=1, max_length=512)


class Mapping(BaseModel):
    type: str = Field(description="the CloudEvents type this mapping applies to")
    quantityField: str
    multiplier: str
    reasonTemplate: str | None
    createdAt: str
    updatedAt: str


class Mappings(BaseModel):
    referenceIdMode: Literal["source#id", "id"]
    mappings: list[Mapping]


class IngestSettings(BaseModel):
    """``source#id`` (default): the referenceId is ``{source}#{id}``; ``id``: the bare event id (when your ids
    are unique across sources, or ``{source}#{id}`` would pass the 128-character referenceId limit)."""

    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={"examples": [{"referenceIdMode": "id"}]})

    referenceIdMode: Literal["source#id", "id"]


def mapping_json(row: EventMappingRow) -> dict[str, Any]:
    return {
        "type": row.event_type,
        "quantityField": row.quantity_field,
        "multiplier": row.multiplier,
        "reasonTemplate": row.reason_template,
        "createdAt": iso(row.created_at),
        "updatedAt": iso(row.updated_at),
    }


@router.get("/mappings", response_model=Mappings, responses=ERRORS, summary="This tenant's CloudEvents mappings")
async def list_mappings(ingest: IngestDep, principal: AdminDep) -> dict[str, Any]:
    """Every event type with a mapping, and the referenceId form. Events of other types take the default
    mapping (`data.delta`)."""
    rules, rows = await run_in_threadpool(lambda: (ingest.rules(principal.tenant), ingest.mappings(principal.tenant)))
    return {"referenceIdMode": rules.reference_mode, "mappings": [mapping_json(r) for r in rows]}


@router.put(
    "/mappings/{event_type:path}",
    response_model=Mapping,
    status_code=200,
    responses={201: {"model": Mapping, "description": "a new mapping"}, **ERRORS},
    summary="Map an event type to deltas: quantity field, multiplier, reason template",
)
async def put_mapping(event_type: str, body: MappingBody, ingest: IngestDep, principal: AdminDep) -> JSONResponse:
    """Events of `event_type` become `delta = data.<quantityField> × multiplier` (a whole number of credits,
    else the event is refused with 422), with the reason from `reasonTemplate`. Replaces the type's mapping;
    `201` when it is new. Events already recorded keep their deltas."""
    row, created = await run_in_threadpool(
        lambda: ingest.put(
            principal.tenant,
            event_type,
            quantity_field=body.quantityField,
            multiplier=str(body.multiplier),
            reason_template=body.reasonTemplate,
        )
    )
    return JSONResponse(mapping_json(row), status_code=201 if created else 200)


@router.delete(
    "/mappings/{event_type:path}",
    status_code=204,
    responses=ERRORS,
    response_class=Response,
    summary="Remove an event type's mapping (its events take the default mapping again)",
)
async def delete_mapping(event_type: str, ingest: IngestDep, principal: AdminDep) -> Response:
    """`404` when the type has no mapping."""
    await run_in_threadpool(ingest.delete, principal.tenant, event_type)
    return Response(status_code=204)


@router.get("/settings", response_model=IngestSettings, responses=ERRORS, summary="This tenant's ingest settings")
async def get_ingest_settings(ingest: IngestDep, principal: AdminDep) -> dict[str, Any]:
    """The referenceId form of CloudEvents: `source#id` (default) or `id`."""
    return {"referenceIdMode": await run_in_threadpool(ingest.reference_mode, principal.tenant)}


@router.put("/settings", response_model=IngestSettings, responses=ERRORS, summary="Set the referenceId form of events")
async def put_ingest_settings(body: IngestSettings, ingest: IngestDep, principal: AdminDep) -> dict[str, Any]:
    """Applies to events recorded from now on; a retry of an event recorded under the other form is a new delta,
    so change it before production traffic, not during."""
    await run_in_threadpool(ingest.set_reference_mode, principal.tenant, body.referenceIdMode)
    return {"referenceIdMode": body.referenceIdMode}
