"""Admin endpoints: API keys (create, list, revoke, rotate) and usage."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query

from node.api.auth import AdminDep
from node.api.deps import ServicesDep, StoreDep
from node.api.routes import ERRORS
from node.api.schemas import ApiKey, ApiKeyCreated, KeyCreate, KeyRotate, from_usage_report
from node.api.strict_json import StrictJsonRoute
from node.core.errors import FieldError, InvalidInput
from node.keys import api_keys
from node.store.models import ApiKeyRow
from node.usage.service import build_usage_report

router = APIRouter(prefix="/v1", route_class=StrictJsonRoute)
MAX_USAGE_DAYS = 366


def _iso(at: int | None) -> str | None:
    return None if at is None else datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def key_json(row: ApiKeyRow, now: int | None = None) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "prefix": row.prefix,
        "scopes": row.scopes.split(","),
        "customerId": row.customer_id,
        "status": api_keys.key_status(row, now),
        "createdAt": _iso(row.created_at),
        "lastUsedAt": _iso(row.last_used_at),
        "revokedAt": _iso(row.revoked_at),
        "expiresAt": _iso(row.expires_at),
        "rotatedTo": row.rotated_to,
        "ratePerSecond": row.rate_per_second,
        "rateBurst": row.rate_burst,
    }


@router.post("/keys", status_code=201, response_model=ApiKeyCreated, responses=ERRORS, summary="Create an API key")
def create_key(body: KeyCreate, store: StoreDep, principal: AdminDep) -> dict[str, Any]:
    row, token = body.issue(store, tenant=principal.tenant)
    return {**key_json(row), "secret": token}


@router.get("/keys", responses=ERRORS, summary="List this tenant's API keys")
def list_keys(store: StoreDep, principal: AdminDep) -> dict[str, list[dict[str, Any]]]:
    return {"keys": [key_json(r) for r in api_keys.tenant_keys(store, tenant=principal.tenant)]}


@router.get("/keys/{key_id}", response_model=ApiKey, responses=ERRORS, summary="One API key")
def get_key(key_id: str, store: StoreDep, principal: AdminDep) -> dict[str, Any]:
    return key_json(api_keys.tenant_key(store, tenant=principal.tenant, key_id=key_id))


@router.delete("/keys/{key_id}", response_model=ApiKey, responses=ERRORS, summary="Revoke an API key, at once")
def revoke_key(key_id: str, store: StoreDep, principal: AdminDep) -> dict[str, Any]:
    return key_json(api_keys.revoke_key(store, tenant=principal.tenant, key_id=key_id))


@router.post(
    "/keys/{key_id}/rotate",
    status_code=201,
    response_model=ApiKeyCreated,
    responses=ERRORS,
    summary="Replace a key with a new secret; the old one ends now or after graceSeconds",
)
def rotate_key(key_id: str, store: StoreDep, principal: AdminDep, body: KeyRotate | None = None) -> dict[str, Any]:
    new_row, token = api_keys.rotate_key(
        store,
        tenant=principal.tenant,
        key_id=key_id,
        grace_seconds=(body or KeyRotate()).graceSeconds,
    )
    return {**key_json(new_row), "secret": token}


def _parse_day(value: str | None, name: str, default: date) -> date:
    if value is None:
        return default
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{name} is not a date", errors=[FieldError(name, "must be YYYY-MM-DD")]) from None


@router.get("/usage", responses=ERRORS, summary="Usage per UTC day: requests, deltas, batches, gas and cost")
def usage(
    services: ServicesDep,
    principal: AdminDep,
    from_: Annotated[
        str | None, Query(alias="from", description="first day, YYYY-MM-DD (default: 29 days ago)")
    ] = None,
    to: Annotated[str | None, Query(description="last day, YYYY-MM-DD, inclusive (default: today)")] = None,
) -> dict[str, Any]:
    today = datetime.now(UTC).date()
    last = _parse_day(to, "to", today)
    first = _parse_day(from_, "from", last - timedelta(days=29))
    if first > last:
        raise InvalidInput("from is after to", errors=[FieldError("from", "must not be after to")])
    if (last - first).days >= MAX_USAGE_DAYS:
        raise InvalidInput("range too long", errors=[FieldError("from", f"at most {MAX_USAGE_DAYS} days per request")])
    state = services
    state.usage.flush()
    report = build_usage_report(
        state.store,
        tenant=principal.tenant,
        first=first,
        last=last,
        native_price=state.settings.native_price,
        currency=state.settings.fiat_currency,
    )
    return from_usage_report(report)
