"""Per request: an id (``X-Request-Id``, echoed or generated), one JSON access log line,
Prometheus counters and latency, and a usage count for authenticated requests.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from node.logs import request_id_var
from node.metrics import NodeMetrics
from node.usage import UsageMeter

log = logging.getLogger("pacspace.access")
_VALID_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class Observability:
    def __init__(self, app: ASGIApp, *, metrics: NodeMetrics, usage: UsageMeter) -> None:
        self.app = app
        self.metrics = metrics
        self.usage = usage

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"x-request-id"), "")
        request_id = incoming if _VALID_ID.match(incoming) else "req_" + secrets.token_hex(8)
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
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
        self.metrics.http_requests.labels(method, route, status_class).inc()
        self.metrics.http_latency.labels(method, route).observe(seconds)
        principal = scope.get("state", {}).get("principal")
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
            self.usage.count(
                tenant=principal.tenant,
                key_id=principal.key_id,
                method=method,
                route=route,
                status=status,
                at=time.time(),
            )
        log.info("request", extra=extra)
