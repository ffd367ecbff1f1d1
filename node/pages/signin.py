"""Signing in to a face with an API key, and signing out: one flow for every face, parametrised by the
face's ``SignInRule`` (which keys it admits, what a refused key is told, its cookies) and its paths.

The key is checked like any API request (salted hash, constant-time compare); failed sign-ins draw from
the same per-client bucket as failed API authentications. The browser then holds only the session token,
in an HttpOnly cookie scoped to the face's prefix."""

from __future__ import annotations

import secrets
from typing import Annotated, Literal

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from node.api.auth import client_address, verify_api_key
from node.api.deps import ServicesDep, StoreDep
from node.core.errors import PacSpaceError
from node.pages.face import Face
from node.pages.sessions import LIFETIME_SECONDS, SIGN_IN_FORM_SECONDS, end_session, load_session, start_session
from node.store.keys import get_api_key

INVALID_KEY = "That API key is not valid."


def _cookie(
    face: Face,
    response: Response,
    request: Request,
    name: str,
    value: str,
    max_age: int,
    same_site: Literal["lax", "strict"],
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=face.prefix,
        httponly=True,
        samesite=same_site,
        secure=request.url.scheme == "https",
    )


def _form(
    face: Face, request: Request, *, status_code: int = 200, error: str | None = None, next_path: str | None = None
) -> Response:
    token = secrets.token_urlsafe(32)
    response = face.render(
        request,
        "sign_in.html",
        session=None,
        title="Sign in",
        status_code=status_code,
        csrf_token=token,
        error=error,
        next_path=face.safe_next(next_path or request.query_params.get("next")) or face.prefix,
    )
    _cookie(face, response, request, face.rule.sign_in_cookie, token, SIGN_IN_FORM_SECONDS, "strict")
    return response


def sign_in_router(face: Face) -> APIRouter:
    """``GET``/``POST {prefix}/sign-in`` and ``POST {prefix}/sign-out`` for ``face``."""
    router = APIRouter(route_class=face.route_class)
    rule = face.rule

    @router.get("/sign-in", response_class=HTMLResponse, include_in_schema=False)
    def sign_in_form(request: Request, store: StoreDep) -> Response:
        if load_session(store, request.cookies.get(rule.session_cookie), allowed=rule.admits) is not None:
            return RedirectResponse(face.safe_next(request.query_params.get("next")) or face.prefix, status_code=303)
        return _form(face, request)

    @router.post("/sign-in", response_class=HTMLResponse, include_in_schema=False)
    def sign_in(
        request: Request,
        services: ServicesDep,
        api_key: Annotated[str, Form()] = "",
        next_path: Annotated[str, Form(alias="next")] = face.prefix,
    ) -> Response:
        token = api_key.strip()
        if not token:
            return _form(face, request, status_code=422, error=rule.empty_key, next_path=next_path)
        try:
            key = verify_api_key(services.store, token)
        except PacSpaceError:
            services.rate_limiter.spend(
                "auth-failure:" + client_address(request),
                services.auth_failure_policy,
                detail="Too many failed sign-ins from this address",
            )
            return _form(face, request, status_code=401, error=INVALID_KEY, next_path=next_path)
        with services.store.session() as session:
            row = get_api_key(session=session, key_id=key.id)
        if row is None:  # revoked and deleted between the two reads: treat as invalid
            return _form(face, request, status_code=401, error=INVALID_KEY, next_path=next_path)
        if not rule.admits(row):
            return _form(face, request, status_code=403, error=rule.refusal(row), next_path=next_path)
        cookie_token, _session = start_session(services.store, row)
        response = RedirectResponse(face.safe_next(next_path) or face.prefix, status_code=303)
        _cookie(face, response, request, rule.session_cookie, cookie_token, LIFETIME_SECONDS, "lax")
        response.delete_cookie(rule.sign_in_cookie, path=face.prefix)
        return response

    @router.post("/sign-out", include_in_schema=False)
    def sign_out(request: Request, store: StoreDep) -> Response:
        session = face.current_session(request, store)  # PageRoute has already checked it on the way in
        end_session(store, session.session_id)
        response = RedirectResponse(face.sign_in_url(notice="signed_out"), status_code=303)
        response.delete_cookie(rule.session_cookie, path=face.prefix, httponly=True, samesite="lax")
        return response

    return router
