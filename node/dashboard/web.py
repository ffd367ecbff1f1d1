"""The dashboard's plumbing: templates, the signed-in session as a dependency, CSRF on every
POST, security headers, and errors rendered as pages instead of problem+json.

``DashboardRoute`` wraps every dashboard endpoint: a POST is refused (403, nothing done) unless
its ``csrf_token`` field matches the session's (for the sign-in form: the sign-in cookie's) and
it does not come from another site; a request without a live session is sent to sign in.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from node.api.auth import Principal
from node.api.deps import StoreDep, services_of
from node.core.errors import PacSpaceError, RateLimited
from node.dashboard.sessions import SESSION_COOKIE, SIGN_IN_COOKIE, DashboardSession, load_session

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
PREFIX = "/dashboard"
SIGN_IN_PATH = PREFIX + "/sign-in"
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
# Short messages a redirect may ask a page to show (?notice=…): codes, never free text from the URL.
NOTICES = {
    "signed_out": "You have signed out.",
    "session_ended": "Your session ended. Sign in again to continue.",
    "key_revoked": "The key is revoked: requests with it are refused from now on.",
    "webhook_updated": "The webhook endpoint is updated.",
    "test_queued": "A webhook.test event is queued; it appears in the delivery log below once sent.",
    "redelivery_queued": "The delivery is queued to be sent again.",
    "mapping_saved": "The mapping is saved: events of its type recorded from now on use it.",
    "mapping_deleted": "The mapping is removed: events of its type take the default mapping again.",
    "ingest_settings_saved": "The referenceId form is saved: events recorded from now on use it.",
}


class SignInRequired(Exception):
    """No live session: the browser is sent to the sign-in page (and back to ``next`` after)."""

    def __init__(self, next_path: str | None = None, notice: str | None = None) -> None:
        super().__init__("sign in required")
        self.next_path = next_path
        self.notice = notice


class CsrfRejected(Exception):
    """A POST whose CSRF token is missing or wrong, or that came from another site."""


def _asset_version(name: str) -> str:
    return hashlib.sha256((STATIC_DIR / name).read_bytes()).hexdigest()[:12]


# Each asset's URL carries a hash of its content, so a browser never keeps a stale copy after an upgrade.
_ASSET_NAMES = ("dashboard.css", "dashboard.js", "favicon.svg")
_ASSETS = {name: f"{PREFIX}/static/{name}?v={_asset_version(name)}" for name in _ASSET_NAMES}


def _ts(at: int | None) -> str:
    return "—" if at is None else datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    s = int(seconds)
    if s < 120:
        return f"{s} s"
    if s < 7200:
        return f"{s // 60} min"
    if s < 172_800:
        return f"{s // 3600} h {s % 3600 // 60} min"
    return f"{s // 86_400} days"


def _short(value: str | None, keep: int = 8) -> str:
    if value is None:
        return "—"
    return value if len(value) <= 2 * keep + 3 else f"{value[: keep + 2]}…{value[-keep:]}"


def format_wei(wei: int | str | None) -> str:
    """Wei as a person reads it: wei, gwei or ETH."""
    if wei is None:
        return "—"
    amount = int(wei)
    if amount < 1_000_000:
        return f"{amount:,} wei"
    if amount < 10**12:
        return f"{amount / 10**9:,.3f} gwei"
    if amount < 10**15:
        return f"{amount / 10**9:,.0f} gwei"
    return f"{amount / 10**18:,.6f} ETH"


def _amount(value: int | str) -> str:
    number = int(value)
    return f"{number:+,}" if number else "0"


_env = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(default=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters.update(
    ts=_ts, duration=_duration, short=_short, wei=format_wei, amount=_amount, q=lambda s: quote(s, safe="")
)
_env.globals.update(asset=_ASSETS.__getitem__, prefix=PREFIX)


class Explorer:
    """Links to the block explorer of ``PACSPACE_EXPLORER_URL``; None when it is not set."""

    def __init__(self, base: str | None) -> None:
        self.base = base.rstrip("/") if base else None

    def tx(self, tx_hash: str | None) -> str | None:
        return f"{self.base}/tx/{tx_hash}" if self.base and tx_hash else None

    def block(self, number: int | None) -> str | None:
        return f"{self.base}/block/{number}" if self.base and number is not None else None

    def address(self, address: str | None) -> str | None:
        return f"{self.base}/address/{address}" if self.base and address else None


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
    # The access log and usage counters name the key behind a dashboard request, as for the API.
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


def _same_site(request: Request) -> bool:
    """False for a request a browser says came from another site (Origin or Sec-Fetch-Site)."""
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    return origin is None or urlsplit(origin).netloc == request.headers.get("host")


def tokens_match(given: object, expected: str | None) -> bool:
    return isinstance(given, str) and bool(expected) and hmac.compare_digest(given.encode(), str(expected).encode())


async def _check_post(request: Request) -> None:
    """CSRF for every POST, before the endpoint runs: a mismatch raises and nothing is done."""
    form = await request.form()
    given = form.get("csrf_token")
    if not _same_site(request):
        raise CsrfRejected
    if request.url.path == SIGN_IN_PATH:
        if not tokens_match(given, request.cookies.get(SIGN_IN_COOKIE)):
            raise CsrfRejected
        return
    session = await run_in_threadpool(current_session, request, services_of(request.scope).store)
    if not tokens_match(given, session.csrf_token):
        raise CsrfRejected


def error_page(request: Request, status: int, title: str, detail: str) -> HTMLResponse:
    session: DashboardSession | None = getattr(request.state, "dashboard_session", None)
    return render(request, "error.html", session=session, status_code=status, title=title, detail=detail)


def secure_headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = _CSP
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers.setdefault("Cache-Control", "no-store")
    return response


class DashboardRoute(APIRoute):
    """Every dashboard endpoint: CSRF first on POST, then errors as pages, then security headers."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                if request.method == "POST":
                    await _check_post(request)
                response = await handler(request)
            except SignInRequired as exc:
                response = RedirectResponse(sign_in_url(exc.next_path, exc.notice), status_code=303)
            except CsrfRejected:
                response = error_page(
                    request,
                    403,
                    "This form was refused",
                    "Its security token is missing or out of date, or it was sent from another site. Nothing "
                    "was changed. Reload the page and try again.",
                )
            except RequestValidationError:
                response = error_page(request, 422, "That request is not valid", "Go back and check the form.")
            except PacSpaceError as exc:
                response = error_page(request, exc.status, exc.title, exc.detail)
                if isinstance(exc, RateLimited):
                    response.headers["Retry-After"] = exc.retry_after
            return secure_headers(response)

        return guarded
