"""The webhook delivery worker.

It claims due delivery rows from the outbox (node.webhooks.outbox), posts them with bounded
concurrency and a 10 s timeout, logs every attempt, retries with exponential backoff and jitter
for up to 3 days, and disables an endpoint that answers 410 Gone. Delivery is at least once:
receivers dedupe on ``Idempotency-Key``.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx

from node.core.errors import InvalidInput
from node.core.webhooks import backoff_seconds, signature_headers
from node.store.db import Store
from node.store.models import WebhookAttemptRow, WebhookDeliveryRow, WebhookDeliveryStatus, WebhookEndpointRow
from node.store.webhooks import due_deliveries, endpoints_by_id, get_delivery, get_endpoint
from node.webhooks.url_policy import UrlPolicy

log = logging.getLogger("pacspace.webhooks")

RETRY_WINDOW_SECONDS = 3 * 86_400
TIMEOUT_SECONDS = 10.0
CLAIM_LEASE_SECONDS = 60


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    latency_ms: int
    error: str | None
    snippet: str | None


class WebhookWorker:
    def __init__(
        self,
        *,
        store: Store,
        policy: UrlPolicy,
        concurrency: int = 8,
        retry_base_seconds: float = 5.0,
        clock: Callable[[], float] = time.time,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.store = store
        self.policy = policy
        self.concurrency = concurrency
        self.retry_base_seconds = retry_base_seconds
        self.clock = clock
        # No environment proxies (they would resolve the name again) and no pooled connections (a TLS
        # connection is checked for the name it was opened for; another host on the same address gets its own).
        self.client = httpx.Client(
            timeout=TIMEOUT_SECONDS,
            follow_redirects=False,
            transport=transport,
            trust_env=False,
            limits=httpx.Limits(max_keepalive_connections=0),
        )

    def close(self) -> None:
        self.client.close()

    def deliver_due(self, limit: int = 100) -> int:
        """Claim due deliveries (leasing them so a slow cycle is not doubled) and send them."""
        now = self.clock()
        with self.store.writer() as session:
            due = due_deliveries(session=session, now=int(now), limit=limit)
            endpoints = endpoints_by_id(session=session, endpoint_ids={d.endpoint_id for d in due})
            for delivery in due:
                delivery.next_attempt_at = int(now) + CLAIM_LEASE_SECONDS
                session.add(delivery)
            session.commit()
        if not due:
            return 0
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            outcomes = list(pool.map(lambda d: self._send(d, endpoints[d.endpoint_id]), due))
        for delivery, outcome in zip(due, outcomes, strict=True):
            self._record(delivery, endpoints[delivery.endpoint_id], outcome)
        return len(due)

    def _send(self, delivery: WebhookDeliveryRow, endpoint: WebhookEndpointRow) -> Outcome:
        started = time.perf_counter()
        if not endpoint.enabled:
            return Outcome(None, 0, "endpoint disabled", None)
        try:
            destination = self.policy.check(endpoint.url)  # again: DNS may have changed since it was saved
        except InvalidInput as exc:
            return Outcome(None, 0, f"refused: {exc.detail}", None)
        now = int(self.clock())
        active = [endpoint.secret]
        if endpoint.previous_secret and (endpoint.previous_secret_expires_at or 0) > now:
            active.append(endpoint.previous_secret)
        body = delivery.payload.encode()
        headers = signature_headers(
            secrets_=active,
            message_id=delivery.id,
            timestamp=now,
            body=body,
            event_type=delivery.event_type,
            idempotency_key=delivery.idempotency_key,
        )
        headers["User-Agent"] = "PacSpace-Webhooks/1"
        headers["Host"] = destination.host_header
        # To the address just checked, never a second resolution of the name (DNS rebinding).
        extensions = {} if destination.sni is None else {"sni_hostname": destination.sni}
        try:
            response = self.client.post(destination.url, content=body, headers=headers, extensions=extensions)
        except httpx.HTTPError as exc:
            return Outcome(
                None, int((time.perf_counter() - started) * 1000), f"{type(exc).__name__}: {exc}"[:500], None
            )
        return Outcome(response.status_code, int((time.perf_counter() - started) * 1000), None, response.text[:500])

    def _record(self, delivery: WebhookDeliveryRow, endpoint: WebhookEndpointRow, outcome: Outcome) -> None:
        now = int(self.clock())
        with self.store.writer() as session:
            fresh = get_delivery(session=session, delivery_id=delivery.id)
            assert fresh is not None
            fresh.attempts += 1
            fresh.last_attempt_at = now
            fresh.last_status_code = outcome.status_code
            fresh.last_error = outcome.error
            session.add(
                WebhookAttemptRow(
                    delivery_id=delivery.id,
                    attempted_at=now,
                    status_code=outcome.status_code,
                    latency_ms=outcome.latency_ms,
                    error=outcome.error,
                    response_snippet=outcome.snippet,
                )
            )
            code = outcome.status_code
            if code is not None and 200 <= code < 300:
                fresh.status = WebhookDeliveryStatus.DELIVERED
                fresh.delivered_at = now
            elif code == 410:
                fresh.status = WebhookDeliveryStatus.FAILED
                stored_endpoint = get_endpoint(session=session, endpoint_id=endpoint.id)
                if stored_endpoint is not None:
                    stored_endpoint.enabled = False
                    stored_endpoint.disabled_reason = "the endpoint answered 410 Gone"
                    stored_endpoint.updated_at = now
                    session.add(stored_endpoint)
                log.warning("webhook endpoint disabled after 410 Gone", extra={"endpoint_id": endpoint.id})
            elif now - fresh.created_at >= RETRY_WINDOW_SECONDS:
                fresh.status = WebhookDeliveryStatus.FAILED
            else:
                delay = backoff_seconds(fresh.attempts, base=self.retry_base_seconds, jitter=random.random() * 0.25)  # noqa: S311
                fresh.next_attempt_at = now + max(1, round(delay))
            session.add(fresh)
            session.commit()
        log.info(
            "webhook attempt",
            extra={
                "delivery_id": delivery.id,
                "endpoint_id": endpoint.id,
                "event": delivery.event_type,
                "status_code": outcome.status_code,
                "latency_ms": outcome.latency_ms,
                "error": outcome.error,
            },
        )
