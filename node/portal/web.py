"""The portal's plumbing: its session rule (a customer-scoped key), cookies, pages rendered with the shared
templates and filters, and ``PortalRoute`` (CSRF on every POST, errors as pages, security headers).

Every page reads the customer and tenant from the signed-in session only, never from the URL or a form:
there is no parameter through which one customer could name another's records."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse

from node.api.auth import Principal
from node.api.deps import StoreDep, services_of
from node.pages.security import PageRoute, SignInRequired
from node.pages.sessions import PageSession, load_session
from node.pages.templating import Explorer, environment
from node.store.models import ApiKeyRow

HERE = Path(__file__).resolve().parent
PREFIX = "/portal"
SIGN_IN_PATH = PREFIX + "/sign-in"
SESSION_COOKIE = "pacspace_portal"
SIGN_IN_COOKIE = "pacspace_portal_sign_in"
COOKIE_PATH = PREFIX
NOTICES = {
    "signed_out": "You have signed out.",
    "session_ended": "Your session ended. Sign in again to continue.",
}
_env = environment(HERE / "templates", prefix=PREFIX)


def is_customer_key(key: ApiKeyRow) -> bool:
    """The portal's rule: a customer-scoped key (read only, one customer); never an operator's key."""
    return key.customer_id is not None and key.scopes.split(",") == ["read"]


def render(
    request: Request,
    template: str,
    *,
    session: PageSession | None,
    title: str,
    nav: str | None = None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    settings = services_of(request.scope).settings
    html = _env.get_template(template).render(
        session=session,
        title=title,
        nav=nav,
        notice=NOTICES.get(request.query_params.get("notice", "")),
        explorer=Explorer(settings.explorer_url),
        chain_id=settings.chain_id,
        contract=settings.contract_address,
        **context,
    )
    return HTMLResponse(html, status_code=status_code)


def current_session(request: Request, store: StoreDep) -> PageSession:
    """The signed-in customer (a dependency); without a session the browser is sent to sign in."""
    known: PageSession | None = getattr(request.state, "portal_session", None)
    if known is not None:
        return known
    session = load_session(store, request.cookies.get(SESSION_COOKIE), allowed=is_customer_key)
    if session is None or session.customer_id is None:
        query = f"?{request.url.query}" if request.url.query else ""
        had_cookie = SESSION_COOKIE in request.cookies
        raise SignInRequired(request.url.path + query, "session_ended" if had_cookie else None)
    request.state.portal_session = session
    request.state.principal = Principal(session.key_id, session.tenant, frozenset({"read"}), session.customer_id)
    return session


SessionDep = Annotated[PageSession, Depends(current_session)]


def customer_of(session: PageSession) -> str:
    assert session.customer_id is not None  # current_session admits customer-scoped keys only
    return session.customer_id


def safe_next(value: str | None) -> str | None:
    """A portal path of this site, or None: never an open redirect after signing in."""
    if not value or not (value == PREFIX or value.startswith(PREFIX + "/") or value.startswith(PREFIX + "?")):
        return None
    if "//" in value or "\\" in value or ".." in value or any(ord(c) < 32 for c in value):
        return None
    return value


def sign_in_url(next_path: str | None = None, notice: str | None = None) -> str:
    params = []
    target = safe_next(next_path)
    if target and not target.startswith(SIGN_IN_PATH):
        params.append("next=" + quote(target, safe="/"))
    if notice:
        params.append("notice=" + notice)
    return SIGN_IN_PATH + ("?" + "&".join(params) if params else "")


def error_page(request: Request, status: int, title: str, detail: str) -> HTMLResponse:
    session: PageSession | None = getattr(request.state, "portal_session", None)
    return render(request, "error.html", session=session, status_code=status, title=title, detail=detail)


class PortalRoute(PageRoute):
    sign_in_path = SIGN_IN_PATH
    sign_in_cookie = SIGN_IN_COOKIE

    async def session_csrf_token(self, request: Request) -> str:
        session = await run_in_threadpool(current_session, request, services_of(request.scope).store)
        return session.csrf_token

    def error_page(self, request: Request, status: int, title: str, detail: str) -> Response:
        return error_page(request, status, title, detail)

    def to_sign_in(self, exc: SignInRequired) -> Response:
        return RedirectResponse(sign_in_url(exc.next_path, exc.notice), status_code=303)
