"""What keeps a page and its forms safe, for every face: CSRF (a POST's ``csrf_token`` must match the
session's, and must not come from another site), security headers, and ``PageRoute``, which runs the
check before the endpoint and turns errors into pages.

A face subclasses ``PageRoute`` with its sign-in path, how it finds the session's CSRF token, and how
it renders an error page and sends a browser to sign in."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

from node.core.errors import PacSpaceError, RateLimited

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


class SignInRequired(Exception):
    """No live session: the browser is sent to the sign-in page (and back to ``next`` after)."""

    def __init__(self, next_path: str | None = None, notice: str | None = None) -> None:
        super().__init__("sign in required")
        self.next_path = next_path
        self.notice = notice


class CsrfRejected(Exception):
    """A POST whose CSRF token is missing or wrong, or that came from another site."""


def same_site(request: Request) -> bool:
    """False for a request a browser says came from another site (Origin or Sec-Fetch-Site)."""
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    return origin is None or urlsplit(origin).netloc == request.headers.get("host")


def tokens_match(given: object, expected: str | None) -> bool:
    return isinstance(given, str) and bool(expected) and hmac.compare_digest(given.encode(), str(expected).encode())


def secure_headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers.setdefault("Cache-Control", "no-store")
    return response


CSRF_REFUSED = (
    "This form was refused",
    "Its security token is missing or out of date, or it was sent from another site. Nothing was changed. "
    "Reload the page and try again.",
)


class PageRoute(APIRoute):
    """Every page endpoint of a face: CSRF first on POST, then errors as pages, then security headers."""

    sign_in_path = ""
    sign_in_cookie = ""

    async def session_csrf_token(self, request: Request) -> str:
        """The signed-in session's CSRF token (raises SignInRequired without a session)."""
        raise NotImplementedError

    def error_page(self, request: Request, status: int, title: str, detail: str) -> Response:
        raise NotImplementedError

    def to_sign_in(self, exc: SignInRequired) -> Response:
        raise NotImplementedError

    async def _check_post(self, request: Request) -> None:
        form = await request.form()
        given = form.get("csrf_token")
        if not same_site(request):
            raise CsrfRejected
        if request.url.path == self.sign_in_path:
            expected: str | None = request.cookies.get(self.sign_in_cookie)
        else:
            expected = await self.session_csrf_token(request)
        if not tokens_match(given, expected):
            raise CsrfRejected

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                if request.method == "POST":
                    await self._check_post(request)
                response = await handler(request)
            except SignInRequired as exc:
                response = self.to_sign_in(exc)
            except CsrfRejected:
                response = self.error_page(request, 403, *CSRF_REFUSED)
            except RequestValidationError:
                response = self.error_page(request, 422, "That request is not valid", "Go back and check the form.")
            except PacSpaceError as exc:
                response = self.error_page(request, exc.status, exc.title, exc.detail)
                if isinstance(exc, RateLimited):
                    response.headers["Retry-After"] = exc.retry_after
            return secure_headers(response)

        return guarded
