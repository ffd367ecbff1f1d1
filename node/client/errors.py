"""The client's exception hierarchy, and the error built from a node's problem+json response."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping, Sequence
from typing import Any

import httpx


class PacSpaceError(Exception):
    """Base of every client error. ``status`` is None when no HTTP response arrived."""

    def __init__(
        self,
        detail: str,
        *,
        status: int | None = None,
        code: str = "error",
        errors: Sequence[tuple[str, str]] = (),
        request_id: str | None = None,
        receipt_id: str | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {detail}" if status is not None else detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.errors: list[tuple[str, str]] = list(errors)
        self.request_id = request_id
        self.receipt_id = receipt_id
        self.body: dict[str, Any] = dict(body or {})


class ValidationError(PacSpaceError, ValueError):
    """400, 413, 415 or 422: the request was refused; ``errors`` names each bad field."""


class AuthenticationError(PacSpaceError):
    """401: the API key is missing, wrong, revoked or expired."""


class PermissionDeniedError(PacSpaceError):
    """403: the API key lacks the scope."""


class NotFoundError(PacSpaceError, LookupError):
    """404: no such id for this key's tenant (or customer, for a customer-scoped key)."""


class ConflictError(PacSpaceError):
    """409: e.g. ``reference_conflict`` (``receipt_id`` names the existing receipt) or ``not_anchored``."""


class RateLimitedError(PacSpaceError):
    """429. ``retry_after`` is the node's ``Retry-After`` in seconds, when it sent one."""

    def __init__(self, detail: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(detail, **kwargs)
        self.retry_after = retry_after


class ServerError(PacSpaceError):
    """5xx from the node or a proxy in front of it."""


class TransportError(PacSpaceError):
    """No usable response: connection refused, timeouts, a broken stream, after the retries allowed."""


class WaitTimeoutError(PacSpaceError, TimeoutError):
    """``receipts.wait`` gave up before the receipt reached the status."""


class InvalidResponseError(PacSpaceError):
    """The node answered with something that is not the documented JSON."""


_ERRORS_BY_STATUS: dict[int, type[PacSpaceError]] = {
    400: ValidationError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    413: ValidationError,
    415: ValidationError,
    422: ValidationError,
    429: RateLimitedError,
}


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds from ``Retry-After``: delta-seconds or an HTTP date (RFC 9110)."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _error_from(response: httpx.Response) -> PacSpaceError:
    body: dict[str, Any] = {}
    try:
        parsed = response.json()
        if isinstance(parsed, dict):
            body = parsed
    except ValueError:
        pass
    return _error_from_problem(
        response.status_code,
        body,
        request_id=response.headers.get("x-request-id"),
        fallback_detail=response.text[:200] or response.reason_phrase,
        retry_after=_retry_after(response) if response.status_code == 429 else None,
    )


def _error_from_problem(
    status: int,
    body: dict[str, Any],
    *,
    request_id: str | None,
    fallback_detail: str = "",
    retry_after: float | None = None,
) -> PacSpaceError:
    """The typed error of a problem+json body (of a response, or of one item of a bulk response)."""
    detail = body.get("detail")
    if not isinstance(detail, str):
        detail = fallback_detail
    errors = [
        (str(e.get("field", "")), str(e.get("message", ""))) for e in body.get("errors") or [] if isinstance(e, dict)
    ]
    code = body.get("code")
    receipt_id = body.get("receiptId")
    kwargs: dict[str, Any] = {
        "status": status,
        "code": code if isinstance(code, str) else "http_error",
        "errors": errors,
        "request_id": request_id,
        "receipt_id": receipt_id if isinstance(receipt_id, str) else None,
        "body": body,
    }
    if status == 429:
        return RateLimitedError(detail, retry_after=retry_after, **kwargs)
    error_type = _ERRORS_BY_STATUS.get(status, ServerError if status >= 500 else PacSpaceError)
    return error_type(detail, **kwargs)
