"""Per request: an id (``X-Request-Id``, echoed or generated), one JSON access log line,
Prometheus counters and latency, and a usage count for authenticated requests.

Every response also carries ``X-Content-Type-Options: nosniff`` and ``X-Frame-Options: DENY``, and HTML
(``/docs``, the evidence summary, error pages) a ``frame-ancestors 'none'`` policy and no referrer, unless
the page set its own (the dashboard sets a full Content-Security-Policy).
"""

from __future__ import annotations

import logging
import os
import re
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from node.observability.logs import request_id_var
from node.observability.metrics import NodeMetrics
from node.usage.service import UsageMeter

log = logging.getLogger("pacspace.access")
_VALID_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_ALWAYS = ((b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"))
_HTML = ((b"content-security-policy", b"frame-ancestors 'none'"), (b"referrer-policy", b"no-referrer"))


def _with_security_headers(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    present = {name.lower() for name, _value in headers}
    html = any(name.lower() == b"content-type" and value.startswith(b"text/html") for name, value in headers)
    added = [(n, v) for n, v in (*_ALWAYS, *(_HTML if html else ())) if n not in present]
    return [*headers, *added]


class Observability:
    def __init__(
        self, app: ASGIApp, *, metrics: NodeMetrics, usage: UsageMeter, page_prefixes: tuple[str, ...] = ()
    ) -> None:
        self.app = app
        self.page_prefixes = page_prefixes  # the dashboard and portal: pages, not API usage
        self.metrics = metrics
        self.usage = usage
        # Generated request ids come from the system's randomness 256 at a time: one read of it per
        # request was a system call (and a GIL release and re-acquire) per request.
        self._random_hex = ""
        self._random_at = 0
        # The metric children of each (method, route, status class): labels() looks them up under a lock.
        self._children: dict[tuple[str, str, str], tuple[Any, Any]] = {}

    def _new_request_id(self) -> str:
        at = self._random_at
        if at >= len(self._random_hex):
            self._random_hex, at = os.urandom(8 * 256).hex(), 0
        self._random_at = at + 16
        return "req_" + self._random_hex[at : at + 16]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"x-request-id"), "")
        request_id = incoming if _VALID_ID.match(incoming) else self._new_request_id()
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = list(message.get("headers", []))
                message["headers"] = [*_with_security_headers(headers), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            self._account(scope, status, time.perf_counter() - started)
            request_id_var.reset(token)

    def _account(self, scope: Scope, status: int, seconds: float) -> None:
        route_obj: Any = scope.get("route")
        route = getattr(route_obj, "path", None) or "unmatched"
        method = scope["method"]
        status_class = f"{status // 100}xx"
        children = self._children.get((method, route, status_class))
        if children is None:
            children = (
                self.metrics.http_requests.labels(method, route, status_class),
                self.metrics.http_latency.labels(method, route),
            )
            self._children[(method, route, status_class)] = children
        children[0].inc()
        children[1].observe(seconds)
        principal = scope.get("state", {}).get("principal")
        # Usage is API usage: a dashboard or portal page (whose session carries its key as the principal,
        # for the log line) is not a request of the API and is not counted under the key.
        if principal is not None and not (self.page_prefixes and route.startswith(self.page_prefixes)):
            self.usage.count(
                tenant=principal.tenant,
                key_id=principal.key_id,
                method=method,
                route=route,
                status=status,
                at=time.time(),
            )
        if not log.isEnabledFor(logging.INFO):
            return
        extra: dict[str, Any] = {
            "method": method,
            "route": route,
            "path": scope.get("path"),
            "status": status,
            "duration_ms": round(seconds * 1000, 2),
        }
        if principal is not None:
            extra["tenant"] = principal.tenant
            extra["key_id"] = principal.key_id
        log.info("request", extra=extra)
