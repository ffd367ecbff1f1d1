"""Sign in with a customer-scoped API key (the one the vendor handed over), sign out."""

from __future__ import annotations

import secrets
from typing import Annotated, Literal

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from node.api.auth import client_address, verify_api_key
from node.api.deps import ServicesDep, StoreDep
from node.core.errors import PacSpaceError
from node.pages.sessions import LIFETIME_SECONDS, SIGN_IN_FORM_SECONDS, end_session, load_session, start_session
from node.portal.web import (
    COOKIE_PATH,
    PREFIX,
    SESSION_COOKIE,
    SIGN_IN_COOKIE,
    PortalRoute,
    SessionDep,
    is_customer_key,
    render,
    safe_next,
    sign_in_url,
)
from node.store.keys import get_api_key

router = APIRouter(route_class=PortalRoute)


def _cookie(
    response: Response, request: Request, name: str, value: str, max_age: int, same_site: Literal["lax", "strict"]
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=COOKIE_PATH,
        httponly=True,
        samesite=same_site,
        secure=request.url.scheme == "https",
    )


def _form(
    request: Request, *, status_code: int = 200, error: str | None = None, next_path: str | None = None
) -> Response:
    token = secrets.token_urlsafe(32)
    response = render(
        request,
        "sign_in.html",
        session=None,
        title="Sign in",
        status_code=status_code,
        csrf_token=token,
        error=error,
        next_path=safe_next(next_path or request.query_params.get("next")) or PREFIX,
    )
    _cookie(response, request, SIGN_IN_COOKIE, token, SIGN_IN_FORM_SECONDS, "strict")
    return response


@router.get("/sign-in", response_class=HTMLResponse, include_in_schema=False)
def sign_in_form(request: Request, store: StoreDep) -> Response:
    if load_session(store, request.cookies.get(SESSION_COOKIE), allowed=is_customer_key) is not None:
        return RedirectResponse(safe_next(request.query_params.get("next")) or PREFIX, status_code=303)
    return _form(request)


@router.post("/sign-in", response_class=HTMLResponse, include_in_schema=False)
def sign_in(
    request: Request,
    services: ServicesDep,
    api_key: Annotated[str, Form()] = "",
    next_path: Annotated[str, Form(alias="next")] = PREFIX,
) -> Response:
    token = api_key.strip()
    if not token:
        return _form(request, status_code=422, error="Enter the API key you were given.", next_path=next_path)
    try:
        key = verify_api_key(services.store, token)
    except PacSpaceError:
        # Failed sign-ins draw from the same per-client bucket as failed API authentications.
        services.rate_limiter.spend(
            "auth-failure:" + client_address(request),
            services.auth_failure_policy,
            detail="Too many failed sign-ins from this address",
        )
        return _form(request, status_code=401, error="That API key is not valid.", next_path=next_path)
    with services.store.session() as session:
        row = get_api_key(session=session, key_id=key.id)
    if row is None:
        return _form(request, status_code=401, error="That API key is not valid.", next_path=next_path)
    if not is_customer_key(row):
        return _form(
            request,
            status_code=403,
            error="The portal takes a customer key (read only, for one customer). Operators sign in to the "
            "dashboard at /dashboard.",
            next_path=next_path,
        )
    cookie_token, _session = start_session(services.store, row)
    response = RedirectResponse(safe_next(next_path) or PREFIX, status_code=303)
    _cookie(response, request, SESSION_COOKIE, cookie_token, LIFETIME_SECONDS, "lax")
    response.delete_cookie(SIGN_IN_COOKIE, path=COOKIE_PATH)
    return response


@router.post("/sign-out", include_in_schema=False)
def sign_out(store: StoreDep, session: SessionDep) -> Response:
    end_session(store, session.session_id)
    response = RedirectResponse(sign_in_url(notice="signed_out"), status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH, httponly=True, samesite="lax")
    return response
