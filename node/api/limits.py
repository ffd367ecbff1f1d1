"""Request guards that run before routing: body size and JSON content type."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from node.api.problems import error_body
from node.core.errors import PacSpaceError, PayloadTooLarge, UnsupportedMediaType

_JSON_METHODS = {"POST", "PUT", "PATCH"}
_FORM_TYPES = frozenset({"application/x-www-form-urlencoded"})


class _TooLarge(Exception):
    pass


class RequestGuard:
    """413 for bodies over ``max_body_bytes`` (declared or streamed); 415 for non-JSON bodies
    (a POST without a body, such as an action on a resource, needs no content type), except
    HTML form posts to paths under ``form_prefixes`` (the dashboard)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        large_bodies: dict[str, tuple[int, frozenset[str]]] | None = None,
        form_prefixes: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        # path -> (its own limit, content types it also accepts), e.g. CSV uploads to compare
        self.large_bodies = large_bodies or {}
        self.form_prefixes = form_prefixes

    async def _reject(self, send: Send, exc: PacSpaceError) -> None:
        body = json.dumps(error_body(exc)).encode()
        await send(
            {
                "type": "http.response.start",
                "status": exc.status,
                "headers": [
                    (b"content-type", b"application/problem+json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _JSON_METHODS:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        limit, extra_types = self.large_bodies.get(scope["path"], (self.max_body_bytes, frozenset()))
        if scope["path"].startswith(self.form_prefixes):
            extra_types = _FORM_TYPES
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._reject(send, PayloadTooLarge(f"the body is {declared} bytes; the limit is {limit}"))
            return
        has_body = (declared is not None and declared != "0") or "transfer-encoding" in headers
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if has_body and content_type != "application/json" and content_type not in extra_types:
            await self._reject(send, UnsupportedMediaType("send the body as application/json"))
            return
        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._reject(send, PayloadTooLarge(f"the body exceeds {limit} bytes"))
