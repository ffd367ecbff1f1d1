"""API keys: create (the secret shown once), list, revoke; customer-scoped keys for counterparties."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from node.api.deps import StoreDep
from node.api.schemas import KeyCreate
from node.core.errors import InvalidInput
from node.dashboard.web import PREFIX, DashboardRoute, SessionDep, render, sign_in_url
from node.keys import api_keys
from node.pages.sessions import PageSession
from node.store.db import Store

router = APIRouter(route_class=DashboardRoute)
ROTATION_GRACE = {"0": 0, "3600": 3600, "86400": 86_400}
_FIELD_NAMES = {"name": "name", "scopes": "scope", "customerId": "customer_id"}


def _page(
    request: Request,
    store: Store,
    session: PageSession,
    *,
    status_code: int = 200,
    created: tuple[str, str] | None = None,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> HTMLResponse:
    rows = api_keys.tenant_keys(store, tenant=session.tenant)
    return render(
        request,
        "keys.html",
        session=session,
        status_code=status_code,
        nav="keys",
        title="API keys",
        keys=[(row, api_keys.key_status(row)) for row in reversed(rows)],
        created=created,
        errors=errors or {},
        values=values or {"scope": "write"},
    )


@router.get("/keys", response_class=HTMLResponse, include_in_schema=False)
def keys_page(request: Request, store: StoreDep, session: SessionDep) -> Response:
    values = {"scope": "read" if request.query_params.get("customer") else "write"}
    values["customer_id"] = request.query_params.get("customer", "")[:128]
    return _page(request, store, session, values=values)


@router.post("/keys", response_class=HTMLResponse, include_in_schema=False)
def create_key(
    request: Request,
    store: StoreDep,
    session: SessionDep,
    name: Annotated[str, Form()] = "",
    scope: Annotated[str, Form()] = "",
    customer_id: Annotated[str, Form()] = "",
    live: Annotated[str, Form()] = "",
) -> Response:
    values = {"name": name, "scope": scope, "customer_id": customer_id, "live": live}
    errors: dict[str, str] = {}
    try:
        body = KeyCreate.model_validate(
            {
                "name": name.strip(),
                "scopes": [scope] if scope else [],
                "customerId": customer_id.strip() or None,
                "live": live == "on",
            }
        )
        row, token = body.issue(store, tenant=session.tenant)
    except ValidationError as exc:
        for err in exc.errors():
            field = _FIELD_NAMES.get(str(err["loc"][0]) if err["loc"] else "", "name")
            errors.setdefault(field, "Choose one." if field == "scope" else str(err["msg"]))
    except InvalidInput as exc:
        errors["scope"] = "A key for a customer can only read: choose read." if "customer" in exc.detail else exc.detail
    if errors:
        return _page(request, store, session, status_code=422, errors=errors, values=values)
    return _page(request, store, session, status_code=201, created=(row.name, token))


@router.post("/keys/{key_id}/revoke", include_in_schema=False)
def revoke_key(key_id: str, store: StoreDep, session: SessionDep) -> Response:
    api_keys.revoke_key(store, tenant=session.tenant, key_id=key_id)
    if key_id == session.key_id:  # the key of this very session: the session ends with it
        return RedirectResponse(sign_in_url(notice="session_ended"), status_code=303)
    return RedirectResponse(f"{PREFIX}/keys?notice=key_revoked", status_code=303)


@router.post("/keys/{key_id}/rotate", response_class=HTMLResponse, include_in_schema=False)
def rotate_key(
    key_id: str,
    request: Request,
    store: StoreDep,
    session: SessionDep,
    grace_seconds: Annotated[str, Form()] = "0",
) -> Response:
    """A new secret with the same name, scopes and customer (shown once); the old one ends now or after the grace."""
    try:
        new_row, token = api_keys.rotate_key(
            store, tenant=session.tenant, key_id=key_id, grace_seconds=ROTATION_GRACE.get(grace_seconds, 0)
        )
    except InvalidInput as exc:
        return _page(request, store, session, status_code=409, errors={"rotate": exc.detail})
    if key_id == session.key_id and grace_seconds == "0":  # this session's key ended with the rotation
        return RedirectResponse(sign_in_url(notice="session_ended"), status_code=303)
    return _page(request, store, session, status_code=201, created=(new_row.name, token))
