"""What keeps a page and its forms safe, for every face: CSRF (a POST's ``csrf_token`` must match the
session's, and must not come from another site) and security headers. ``PageRoute`` (node/pages/face.py)
runs the check before every endpoint and turns errors into pages."""

from __future__ import annotations

import hmac
from urllib.parse import urlsplit

from fastapi import Request, Response

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
