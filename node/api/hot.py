"""``POST /v1/balance/delta`` without FastAPI's per-request routing and dependency solving.

Routing through the included routers and solving the route's dependencies cost about a third of a
request's time on the event loop (docs/PERFORMANCE.md). This middleware sits inside RequestGuard
(body limit, content type) and Observability (request id, metrics, usage, access log), and takes only
requests that the route would accept as they are: a JSON object body that validates as ``DeltaCreate``
and passes the core rules. It then runs what the route runs, in the route's order: authentication
(rate limits included), the write scope, then ``routes.record_validated``; an exception gets the app's
own handler for it, and one without a handler goes up to Starlette's server-error handler, as from the
route. Anything else (another path or method, malformed JSON, an invalid or unknown field, a bad
Idempotency-Key) is handed on unchanged, body included, to the FastAPI route, which answers it exactly
as before: nothing has been spent or recorded by then.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi.routing import APIRoute
from pydantic import ValidationError
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from node.api.auth import authenticate
from node.api.deps import services_of
from node.api.routes import record_validated
from node.api.routes import router as routes_router
from node.api.schemas import DeltaCreate
from node.core.deltas import DeltaRequest
from node.core.errors import PacSpaceError

PATH = "/v1/balance/delta"


def _route() -> APIRoute:
    for route in routes_router.routes:
        if isinstance(route, APIRoute) and route.path == PATH and "POST" in (route.methods or ()):
            return route
    raise LookupError(f"no POST {PATH} route")  # pragma: no cover (the router defines it)


class HotRoutes:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.route = _route()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != PATH:
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away: let the route see it
                await self.app(scope, _replay(b"".join(chunks), receive, message), send)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body_bytes = b"".join(chunks)
        accepted = _accepted(scope, body_bytes)
        if accepted is None:
            await self.app(scope, _replay(body_bytes, receive), send)
            return
        scope["route"] = self.route  # what FastAPI sets: Observability labels metrics and usage with it
        request = Request(scope, _replay(body_bytes, receive), send)
        try:
            services = services_of(scope)
            principal = await authenticate(request, services)
            principal.require("write")
            body, delta_request = accepted
            idempotency_key = request.headers.get("idempotency-key")
            response = await record_validated(body, services, principal, idempotency_key, delta_request)
        except Exception as exc:
            handler = _handler(scope, exc)
            if handler is None:
                raise  # Starlette's ServerErrorMiddleware answers 500 and logs it, as for the route
            response = await handler(request, exc)
        await response(scope, receive, send)


def _accepted(scope: Scope, body_bytes: bytes) -> tuple[DeltaCreate, DeltaRequest] | None:
    """The body as the route would receive it, or None when the route would refuse it (or might)."""
    content_type = ""
    for name, value in scope["headers"]:
        if name == b"content-type":
            content_type = value.decode("latin-1")
            break
    if not body_bytes or content_type.split(";")[0].strip().lower() != "application/json":
        return None
    try:
        value = json.loads(body_bytes)
    except ValueError:
        return None
    if not isinstance(value, dict):
        return None
    try:
        body = DeltaCreate.model_validate(value, strict=True)
        delta_request = body.to_request()
    except (ValidationError, PacSpaceError):
        return None
    return body, delta_request


def _handler(scope: Scope, exc: Exception) -> Any:
    """The app's handler for ``exc`` (by its class's MRO), except the catch-all, which Starlette runs
    above every middleware (ServerErrorMiddleware) rather than in ExceptionMiddleware."""
    handlers = scope["app"].exception_handlers
    for cls in type(exc).__mro__:
        if cls is Exception:
            return None
        if cls in handlers:
            return handlers[cls]
    return None


def _replay(body: bytes, receive: Receive, first: Message | None = None) -> Receive:
    """A ``receive`` that gives the buffered body once (or the message that ended it), then the client's own."""
    pending: list[Message] = [first] if first is not None else []
    given = False

    async def replay() -> Message:
        nonlocal given
        if not given:
            given = True
            if first is None:
                return {"type": "http.request", "body": body, "more_body": False}
            if body:
                return {"type": "http.request", "body": body, "more_body": True}
        if pending:
            return pending.pop()
        return await receive()

    return replay
