"""Webhook outbox and delivery worker.

Events are written as delivery rows in the same transaction as the state change that causes
them (``enqueue``), so an event is never lost and never sent for a change that rolled back.
The worker (``deliver_due``) claims due rows, posts them with bounded concurrency and a 10 s
timeout, logs every attempt, retries with exponential backoff and jitter for up to 3 days,
and disables an endpoint that answers 410 Gone. Delivery is at least once: receivers dedupe
on ``Idempotency-Key``.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import random
import secrets
import socket
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlmodel import Session, col, select

from node.core.errors import FieldError, InvalidInput
from node.core.webhooks import backoff_seconds, signature_headers
from node.store.db import Store
from node.store.models import WebhookAttemptRow, WebhookDeliveryRow, WebhookEndpointRow

log = logging.getLogger("pacspace.webhooks")

EVENT_TYPES = (
    "delta.verified",
    "batch.verified",
    "batch.anchored",
    "batch.reorged",
    "checkpoint.created",
    "checkpoint.countersigned",
    "compare.settled",
    "compare.disputed",
    "webhook.test",
)
RETRY_WINDOW_SECONDS = 3 * 86_400
TIMEOUT_SECONDS = 10.0
CLAIM_LEASE_SECONDS = 60
AGGREGATE_PAGE_SIZE = 1000
_METADATA_HOSTS = {"metadata.google.internal", "metadata"}
_METADATA_IPS = {ipaddress.ip_address("100.100.100.200"), ipaddress.ip_address("fd00:ec2::254")}


def iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- URL policy ---------------------------------------------------------------------------


def _forbidden_ip(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    if ip.is_link_local or ip in _METADATA_IPS:
        return "a link-local or cloud metadata address"
    if ip.is_multicast or ip.is_unspecified or ip.is_reserved:
        return "not a unicast address"
    return None


def check_url(url: str, *, allow_loopback_http: bool, resolve: Callable[[str], list[str]] | None = None) -> None:
    """HTTPS only (plain HTTP only to loopback when allowed); never link-local or cloud metadata."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("https", "http") or not host:
        raise InvalidInput("url must be an absolute https URL", errors=[FieldError("url", "must be https://host/…")])
    if host in _METADATA_HOSTS:
        raise InvalidInput("url points at a cloud metadata service", errors=[FieldError("url", "metadata host")])
    resolver = resolve or _resolve
    try:
        addresses = [ipaddress.ip_address(a) for a in resolver(host)]
    except (OSError, ValueError):
        raise InvalidInput(
            f"url host {host!r} does not resolve", errors=[FieldError("url", "does not resolve")]
        ) from None
    for ip in addresses:
        problem = _forbidden_ip(ip)
        if problem:
            raise InvalidInput(f"url resolves to {ip}, {problem}", errors=[FieldError("url", f"resolves to {problem}")])
    loopback = bool(addresses) and all(ip.is_loopback for ip in addresses)
    if parts.scheme == "http" and not (allow_loopback_http and loopback):
        raise InvalidInput(
            "url must use https (plain http only to a loopback address in development)",
            errors=[FieldError("url", "must be https")],
        )


def _resolve(host: str) -> list[str]:
    return sorted({str(info[4][0]) for info in socket.getaddrinfo(host, None)})


# --- outbox -------------------------------------------------------------------------------


def enqueue(
    session: Session,
    *,
    tenant: str,
    event_type: str,
    payloads: Iterable[tuple[dict[str, Any], str]],
    now: float,
    endpoint_filter: Callable[[WebhookEndpointRow], bool] | None = None,
    subscribed_as: Sequence[str] = (),
) -> int:
    """Add one delivery per (payload, subscribed endpoint). ``payloads`` are (body, idempotency key);
    an endpoint is subscribed when its events name ``event_type`` or one of ``subscribed_as``.
    Runs inside the caller's transaction; the caller commits."""
    wanted = {event_type, *subscribed_as}
    endpoints = [
        e
        for e in session.exec(
            select(WebhookEndpointRow).where(WebhookEndpointRow.tenant == tenant, col(WebhookEndpointRow.enabled))
        ).all()
        if wanted & set(e.events.split(",")) and (endpoint_filter is None or endpoint_filter(e))
    ]
    if not endpoints:
        return 0
    count = 0
    for body, idempotency_key in payloads:
        for endpoint in endpoints:
            delivery_id = "evt_" + secrets.token_hex(12)
            payload = {"id": delivery_id, "type": event_type, "createdAt": iso(now), **body}
            session.add(
                WebhookDeliveryRow(
                    id=delivery_id,
                    tenant=tenant,
                    endpoint_id=endpoint.id,
                    event_type=event_type,
                    payload=json.dumps(payload, separators=(",", ":")),
                    idempotency_key=idempotency_key,
                    next_attempt_at=int(now),
                    created_at=int(now),
                )
            )
            count += 1
    return count


def enqueue_verified_batch(
    session: Session, *, receipts: Sequence[dict[str, Any]], batch: dict[str, Any], now: float
) -> None:
    """delta.verified per receipt, or batch.verified (paged) for endpoints that aggregate."""
    by_tenant: dict[str, list[dict[str, Any]]] = {}
    for receipt in receipts:
        by_tenant.setdefault(receipt.pop("tenant"), []).append(receipt)
    for tenant, items in by_tenant.items():
        enqueue(
            session,
            tenant=tenant,
            event_type="delta.verified",
            payloads=(
                (
                    {
                        **item,
                        "verification": {"verified": True, "discrepancies": []},
                        "verifiedAt": iso(now),
                        "status": "success",
                    },
                    f"{item['receiptId']}:{tenant}",
                )
                for item in items
            ),
            now=now,
            endpoint_filter=lambda e: not e.aggregate,
        )
        pages = [items[i : i + AGGREGATE_PAGE_SIZE] for i in range(0, len(items), AGGREGATE_PAGE_SIZE)]
        enqueue(
            session,
            tenant=tenant,
            event_type="batch.verified",
            subscribed_as=("delta.verified",),
            payloads=(
                (
                    {
                        "batch": batch,
                        "page": n + 1,
                        "pages": len(pages),
                        "receipts": page,
                        "verifiedAt": iso(now),
                        "status": "success",
                    },
                    f"batch-{batch['startIndex']}-page-{n + 1}:{tenant}",
                )
                for n, page in enumerate(pages)
            ),
            now=now,
            endpoint_filter=lambda e: e.aggregate,
        )


def any_endpoints(session: Session) -> bool:
    return (
        session.exec(select(WebhookEndpointRow.id).where(col(WebhookEndpointRow.enabled)).limit(1)).first() is not None
    )


def enqueue_batch_event(
    session: Session, *, event_type: str, batch: dict[str, Any], tenant_counts: dict[str, int], now: float
) -> None:
    """batch.anchored / batch.reorged to every tenant with deltas in the batch."""
    for tenant, count in tenant_counts.items():
        enqueue(
            session,
            tenant=tenant,
            event_type=event_type,
            payloads=[
                (
                    {"batch": batch, "receiptCount": count},
                    f"{event_type}-{batch['startIndex']}-{batch['txHash']}:{tenant}",
                )
            ],
            now=now,
        )


# --- delivery -----------------------------------------------------------------------------


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
        allow_loopback_http: bool,
        concurrency: int = 8,
        retry_base_seconds: float = 5.0,
        clock: Callable[[], float] = time.time,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.store = store
        self.allow_loopback_http = allow_loopback_http
        self.concurrency = concurrency
        self.retry_base_seconds = retry_base_seconds
        self.clock = clock
        self.client = httpx.Client(timeout=TIMEOUT_SECONDS, follow_redirects=False, transport=transport)

    def close(self) -> None:
        self.client.close()

    def deliver_due(self, limit: int = 100) -> int:
        """Claim due deliveries (leasing them so a slow cycle is not doubled) and send them."""
        now = self.clock()
        with self.store.writer() as session:
            due = list(
                session.exec(
                    select(WebhookDeliveryRow)
                    .where(WebhookDeliveryRow.status == "pending", col(WebhookDeliveryRow.next_attempt_at) <= int(now))
                    .order_by(col(WebhookDeliveryRow.next_attempt_at))
                    .limit(limit)
                    # PostgreSQL: processes polling together claim disjoint rows (SQLite's writer is exclusive).
                    .with_for_update(skip_locked=True)
                ).all()
            )
            endpoints = {
                e.id: e
                for e in session.exec(
                    select(WebhookEndpointRow).where(col(WebhookEndpointRow.id).in_({d.endpoint_id for d in due}))
                ).all()
            }
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
            check_url(endpoint.url, allow_loopback_http=self.allow_loopback_http)  # again: DNS may have changed
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
        try:
            response = self.client.post(endpoint.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return Outcome(
                None, int((time.perf_counter() - started) * 1000), f"{type(exc).__name__}: {exc}"[:500], None
            )
        return Outcome(response.status_code, int((time.perf_counter() - started) * 1000), None, response.text[:500])

    def _record(self, delivery: WebhookDeliveryRow, endpoint: WebhookEndpointRow, outcome: Outcome) -> None:
        now = int(self.clock())
        with self.store.writer() as session:
            fresh = session.get(WebhookDeliveryRow, delivery.id)
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
                fresh.status = "delivered"
                fresh.delivered_at = now
            elif code == 410:
                fresh.status = "failed"
                stored_endpoint = session.get(WebhookEndpointRow, endpoint.id)
                if stored_endpoint is not None:
                    stored_endpoint.enabled = False
                    stored_endpoint.disabled_reason = "the endpoint answered 410 Gone"
                    stored_endpoint.updated_at = now
                    session.add(stored_endpoint)
                log.warning("webhook endpoint disabled after 410 Gone", extra={"endpoint_id": endpoint.id})
            elif now - fresh.created_at >= RETRY_WINDOW_SECONDS:
                fresh.status = "failed"
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
