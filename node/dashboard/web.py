"""The dashboard's plumbing: templates, the signed-in session as a dependency, CSRF on every
POST, security headers, and errors rendered as pages instead of problem+json.

``DashboardRoute`` wraps every dashboard endpoint: a POST is refused (403, nothing done) unless
its ``csrf_token`` field matches the session's (for the sign-in form: the sign-in cookie's) and
it does not come from another site; a request without a live session is sent to sign in.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse

from node.api.auth import Principal
from node.api.deps import StoreDep, services_of
from node.dashboard.sessions import SESSION_COOKIE, SIGN_IN_COOKIE, DashboardSession, load_session
from node.pages import STATIC_DIR
from node.pages.security import CsrfRejected, PageRoute, SignInRequired, secure_headers, tokens_match
from node.pages.templating import Explorer, environment, format_wei

HERE = Path(__file__).resolve().parent
PREFIX = "/dashboard"
SIGN_IN_PATH = PREFIX + "/sign-in"
# Short messages a redirect may ask a page to show (?notice=…): codes, never free text from the URL.
NOTICES = {
    "signed_out": "You have signed out.",
    "session_ended": "Your session ended. Sign in again to continue.",
    "key_revoked": "The key is revoked: requests with it are refused from now on.",
    "webhook_updated": "The webhook endpoint is updated.",
    "webhook_deleted": "The webhook endpoint and its delivery log are deleted.",
    "test_queued": "A webhook.test event is queued; it appears in the delivery log below once sent.",
    "redelivery_queued": "The delivery is queued to be sent again.",
    "mapping_saved": "The mapping is saved: events of its type recorded from now on use it.",
    "mapping_deleted": "The mapping is removed: events of its type take the default mapping again.",
    "ingest_settings_saved": "The referenceId form is saved: events recorded from now on use it.",
}
__all__ = [
    "PREFIX",
    "STATIC_DIR",
    "CsrfRejected",
    "DashboardRoute",
    "SessionDep",
    "SignInRequired",
    "format_wei",
    "render",
    "secure_headers",
    "tokens_match",
]

_env = environment(HERE / "templates", prefix=PREFIX)


def render(
    request: Request,
    template: str,
    *,
    session: DashboardSession | None,
    title: str,
    nav: str | None = None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    settings = services_of(request.scope).settings  # also renders error pages, outside any route
    notice = NOTICES.get(request.query_params.get("notice", ""))
    html = _env.get_template(template).render(
        session=session,
        title=title,
        nav=nav,
        notice=notice,
        explorer=Explorer(settings.explorer_url),
        chain_id=settings.chain_id,
        contract=settings.contract_address,
        **context,
    )
    return HTMLResponse(html, status_code=status_code)


def current_session(request: Request, store: StoreDep) -> DashboardSession:
    """The signed-in session (a dependency); without one the browser is sent to sign in."""
    known: DashboardSession | None = getattr(request.state, "dashboard_session", None)
    if known is not None:
        return known
    session = load_session(store, request.cookies.get(SESSION_COOKIE))
    if session is None:
        query = f"?{request.url.query}" if request.url.query else ""
        had_cookie = SESSION_COOKIE in request.cookies
        raise SignInRequired(request.url.path + query, "session_ended" if had_cookie else None)
    request.state.dashboard_session = session
    # The access log names the key behind a dashboard request, as for the API.
    request.state.principal = Principal(session.key_id, session.tenant, frozenset({"admin"}))
    return session


SessionDep = Annotated[DashboardSession, Depends(current_session)]


def safe_next(value: str | None) -> str | None:
    """``value`` if it is a dashboard path of this site (no scheme, host or ``..``), else None:
    where to go after signing in must never be an open redirect."""
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
    session: DashboardSession | None = getattr(request.state, "dashboard_session", None)
    return render(request, "error.html", session=session, status_code=status, title=title, detail=detail)


class DashboardRoute(PageRoute):
    """Every dashboard endpoint: CSRF first on POST, then errors as pages, then security headers."""

    sign_in_path = SIGN_IN_PATH
    sign_in_cookie = SIGN_IN_COOKIE

    async def session_csrf_token(self, request: Request) -> str:
        session = await run_in_threadpool(current_session, request, services_of(request.scope).store)
        return session.csrf_token

    def error_page(self, request: Request, status: int, title: str, detail: str) -> Response:
        return error_page(request, status, title, detail)

    def to_sign_in(self, exc: SignInRequired) -> Response:
        return RedirectResponse(sign_in_url(exc.next_path, exc.notice), status_code=303)
