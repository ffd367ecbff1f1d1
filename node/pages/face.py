"""A face: one set of server-rendered pages under a URL prefix (the operator's dashboard, the customer's
portal). A face is described once, by a ``Face``: its prefix and templates, its ``SignInRule`` (which keys
may sign in and keep a session, what a refused key is told, its cookies) and its ``Look`` (brand,
navigation, how the header names who is signed in). Everything that follows from that is here, once:
rendering a page, the signed-in session as a dependency, where sign-in sends a browser and back, error
pages, the route class that runs CSRF before every POST, and the page for an unknown URL."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute

from node.api.auth import Principal
from node.api.deps import StoreDep, services_of
from node.core.errors import NotFound, PacSpaceError, RateLimited
from node.pages.security import CSRF_REFUSED, CsrfRejected, SignInRequired, same_site, secure_headers, tokens_match
from node.pages.sessions import KeyRule, PageSession, load_session
from node.pages.templating import Explorer, environment
from node.store.models import ApiKeyRow

# Short messages a redirect may ask a page to show (?notice=…): codes, never free text from the URL.
SESSION_NOTICES = {
    "signed_out": "You have signed out.",
    "session_ended": "Your session ended. Sign in again to continue.",
}


@dataclass(frozen=True)
class SignInRule:
    """Who may use a face. ``admits`` is checked at sign-in and again on every request, so a session ends as
    soon as its key stops passing it; a session of the other face's cookie is never accepted here."""

    admits: KeyRule
    refusal: Callable[[ApiKeyRow], str]  # what the sign-in form says to a valid key that ``admits`` refuses
    empty_key: str  # what it says when no key was entered
    scopes: frozenset[str]  # the principal the access log names for a page request
    session_cookie: str
    sign_in_cookie: str  # the sign-in form's CSRF token (double submit), before any session exists


@dataclass(frozen=True)
class Look:
    """What the shared layout (``base.html``) shows for a face."""

    brand: str
    nav_label: str
    nav: tuple[tuple[str, str, str], ...]  # (key, label, path under the prefix); ``nav=key`` marks the page
    who_label: str  # the header names the signed-in session by this label …
    who_field: str  # … and this attribute of the session
    home_link: str  # the error page's way back
    footer_note: str = ""


class Face:
    """One face of the node: build it once per face package; its pages use ``render`` and its
    ``route_class``, and take the session through ``Annotated[PageSession, Depends(face.current_session)]``."""

    def __init__(
        self,
        *,
        prefix: str,
        templates: Path,
        rule: SignInRule,
        look: Look,
        notices: Mapping[str, str] = SESSION_NOTICES,
        unknown_page: str,
    ) -> None:
        self.prefix = prefix
        self.sign_in_path = prefix + "/sign-in"
        self.rule = rule
        self.notices = notices
        self.unknown_page = unknown_page  # formatted with the URL
        self.env = environment(templates, prefix=prefix)
        self.env.globals["look"] = look
        self.route_class: type[PageRoute] = type(f"PageRoute{prefix.replace('/', '_')}", (PageRoute,), {"face": self})

    def render(
        self,
        request: Request,
        template: str,
        *,
        session: PageSession | None,
        title: str,
        nav: str | None = None,
        status_code: int = 200,
        **context: Any,
    ) -> HTMLResponse:
        settings = services_of(request.scope).settings  # also renders error pages, outside any route
        html = self.env.get_template(template).render(
            session=session,
            title=title,
            nav=nav,
            notice=self.notices.get(request.query_params.get("notice", "")),
            explorer=Explorer(settings.explorer_url),
            chain_id=settings.chain_id,
            contract=settings.contract_address,
            **context,
        )
        return HTMLResponse(html, status_code=status_code)

    def current_session(self, request: Request, store: StoreDep) -> PageSession:
        """The signed-in session (a dependency); without one the browser is sent to sign in."""
        known: PageSession | None = getattr(request.state, "page_session", None)
        if known is not None:
            return known
        session = load_session(store, request.cookies.get(self.rule.session_cookie), allowed=self.rule.admits)
        if session is None:
            query = f"?{request.url.query}" if request.url.query else ""
            had_cookie = self.rule.session_cookie in request.cookies
            raise SignInRequired(request.url.path + query, "session_ended" if had_cookie else None)
        request.state.page_session = session
        # The access log names the key behind a page request, as for the API.
        request.state.principal = Principal(session.key_id, session.tenant, self.rule.scopes, session.customer_id)
        return session

    def safe_next(self, value: str | None) -> str | None:
        """``value`` if it is a path of this face on this site (no scheme, host or ``..``), else None: where
        to go after signing in must never be an open redirect."""
        prefix = self.prefix
        if not value or not (value == prefix or value.startswith(prefix + "/") or value.startswith(prefix + "?")):
            return None
        if "//" in value or "\\" in value or ".." in value or any(ord(c) < 32 for c in value):
            return None
        return value

    def sign_in_url(self, next_path: str | None = None, notice: str | None = None) -> str:
        params = []
        target = self.safe_next(next_path)
        if target and not target.startswith(self.sign_in_path):
            params.append("next=" + quote(target, safe="/"))
        if notice:
            params.append("notice=" + notice)
        return self.sign_in_path + ("?" + "&".join(params) if params else "")

    def error_page(self, request: Request, status: int, title: str, detail: str) -> HTMLResponse:
        session: PageSession | None = getattr(request.state, "page_session", None)
        return self.render(request, "error.html", session=session, status_code=status, title=title, detail=detail)

    def router(self, pages: Iterable[APIRouter]) -> APIRouter:
        """The face's pages under its prefix, then a page for any other URL (after sign-in), last so that
        every real page (and the static files, mounted before it) is matched first."""
        router = APIRouter()
        for page_router in pages:
            router.include_router(page_router, prefix=self.prefix)
        unknown = APIRouter(route_class=self.route_class)

        @unknown.get("/{path:path}", include_in_schema=False, dependencies=[Depends(self.current_session)])
        def unknown_page(path: str) -> Response:
            raise NotFound(self.unknown_page.format(url=f"{self.prefix}/{path}"))

        router.include_router(unknown, prefix=self.prefix)
        return router


class PageRoute(APIRoute):
    """Every page endpoint of a face: CSRF first on POST, then errors as pages, then security headers.

    A POST is refused (403, nothing done) unless its ``csrf_token`` field matches the session's (for the
    sign-in form: the sign-in cookie's) and it does not come from another site; a request without a live
    session is sent to sign in. ``Face`` makes one subclass per face, with ``face`` set."""

    face: ClassVar[Face]

    async def _check_post(self, request: Request) -> None:
        form = await request.form()
        given = form.get("csrf_token")
        if not same_site(request):
            raise CsrfRejected
        if request.url.path == self.face.sign_in_path:
            expected: str | None = request.cookies.get(self.face.rule.sign_in_cookie)
        else:
            session = await run_in_threadpool(self.face.current_session, request, services_of(request.scope).store)
            expected = session.csrf_token
        if not tokens_match(given, expected):
            raise CsrfRejected

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        face = self.face

        async def guarded(request: Request) -> Response:
            try:
                if request.method == "POST":
                    await self._check_post(request)
                response = await handler(request)
            except SignInRequired as exc:
                response = RedirectResponse(face.sign_in_url(exc.next_path, exc.notice), status_code=303)
            except CsrfRejected:
                response = face.error_page(request, 403, *CSRF_REFUSED)
            except RequestValidationError:
                response = face.error_page(request, 422, "That request is not valid", "Go back and check the form.")
            except PacSpaceError as exc:
                response = face.error_page(request, exc.status, exc.title, exc.detail)
                if isinstance(exc, RateLimited):
                    response.headers["Retry-After"] = exc.retry_after
            return secure_headers(response)

        return guarded
