"""The webhook outbox: events written as delivery rows in the same transaction as the state change
that causes them (``enqueue``), so an event is never lost and never sent for a change that rolled
back. The delivery worker (node.webhooks.delivery) sends them.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, col, select

from node.store.models import WebhookDeliveryRow, WebhookEndpointRow

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
AGGREGATE_PAGE_SIZE = 1000


def iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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
