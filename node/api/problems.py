"""Every error leaves as ``application/problem+json``:
``{"type", "title", "status", "code", "detail", "errors": [{"field", "message"}]}``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from node.api.strict_json import DuplicateJsonKey
from node.core.errors import (
    BadRequest,
    Busy,
    DatabaseUnavailable,
    FieldError,
    Forbidden,
    InternalError,
    InvalidInput,
    MalformedJson,
    MethodNotAllowed,
    NotFound,
    PacSpaceError,
    PayloadTooLarge,
    RateLimited,
    Unauthenticated,
    UnsupportedMediaType,
)
from node.core.json_text import DuplicateKey

PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "https://pacspace.dev/problems/"
log = logging.getLogger("pacspace.api")

# The errors Starlette itself raises (an unknown route, a wrong method, ...), by status.
_HTTP_ERRORS: dict[int, type[PacSpaceError]] = {
    cls.status: cls
    for cls in (
        BadRequest,
        Unauthenticated,
        Forbidden,
        NotFound,
        MethodNotAllowed,
        PayloadTooLarge,
        UnsupportedMediaType,
        RateLimited,
    )
}


def problem(
    status: int,
    code: str,
    title: str,
    detail: str,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    body = problem_body(status, code, title, detail, errors, extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def problem_body(
    status: int,
    code: str,
    title: str,
    detail: str,
    errors: list[FieldError] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": TYPE_BASE + code,
        "title": title,
        "status": status,
        "code": code,
        "detail": detail,
        "errors": [{"field": e.field, "message": e.message} for e in (errors or [])],
    }
    if extra:
        body.update(extra)
    return body


def error_body(exc: PacSpaceError) -> dict[str, Any]:
    """The problem body of a domain error (what its response would carry)."""
    return problem_body(exc.status, exc.code, exc.title, exc.detail, exc.errors, dict(exc.extra()))


def _response(exc: PacSpaceError, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(exc), status_code=exc.status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


_MESSAGES = {
    "int_type": "must be an integer (JSON number without fraction; strings, floats and booleans are refused)",
    "int_parsing": "must be an integer (JSON number without fraction; strings, floats and booleans are refused)",
    "extra_forbidden": "unknown field",
    "missing": "is required",
}


def field_message(err: Mapping[str, Any]) -> str:
    """The message for one pydantic error: ours for the common kinds, pydantic's own otherwise."""
    return _MESSAGES.get(str(err.get("type", "")), str(err.get("msg", "invalid")))


def _validation_errors(exc: RequestValidationError) -> tuple[list[FieldError], bool]:
    errors: list[FieldError] = []
    malformed = False
    for err in exc.errors():
        kind = err.get("type", "")
        if kind == "json_invalid":
            malformed = True
            errors.append(FieldError("body", f"malformed JSON: {err.get('ctx', {}).get('error', 'invalid')}"))
            continue
        errors.append(FieldError(_field_name(tuple(err.get("loc", ()))), field_message(err)))
    return errors, malformed


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(PacSpaceError)
    async def _domain(_request: Request, exc: PacSpaceError) -> JSONResponse:
        return _response(exc, {"Retry-After": exc.retry_after} if isinstance(exc, RateLimited | Busy) else None)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors, malformed = _validation_errors(exc)
        if malformed:
            return _response(MalformedJson("the request body is not valid JSON", errors=errors))
        names = ", ".join(sorted({e.field for e in errors}))
        return _response(InvalidInput(f"invalid fields: {names}", errors=errors))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if isinstance(exc, DuplicateJsonKey):
            return _response(DuplicateKey(exc.key).invalid_input())
        known = _HTTP_ERRORS.get(exc.status_code)
        code, title = (known.code, known.title) if known is not None else ("http_error", "HTTP error")
        return problem(exc.status_code, code, title, str(exc.detail), headers=dict(exc.headers or {}))

    @app.exception_handler(OperationalError)
    @app.exception_handler(PoolTimeout)
    async def _database(_request: Request, exc: Exception) -> JSONResponse:
        # Locked, full, unreachable or out of pooled connections: the transaction rolled back,
        # so nothing was half-written.
        log.warning("database unavailable", extra={"error": str(getattr(exc, "orig", exc))[:200]})
        return _response(
            DatabaseUnavailable(
                "the database could not take the request (locked, full or unreachable); nothing was stored, retry"
            ),
            headers={"Retry-After": "1"},
        )

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return _response(InternalError("the node failed to handle this request"))
