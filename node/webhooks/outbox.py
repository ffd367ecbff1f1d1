"""The webhook outbox: events written as delivery rows in the same transaction as the state change
that causes them (``enqueue``), so an event is never lost and never sent for a change that rolled
back. The delivery worker (node.webhooks.delivery) sends them; node.webhooks.events shapes their bodies.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlmodel import Session

from node.core.webhooks import WebhookEvent
from node.store.models import BatchRow, DeltaRow, WebhookDeliveryRow, WebhookEndpointRow
from node.store.webhooks import enabled_endpoints
from node.webhooks import events
from node.webhooks.events import iso

AGGREGATE_PAGE_SIZE = 1000


def enqueue(
    session: Session,
    *,
    tenant: str,
    event_type: WebhookEvent,
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
        for e in enabled_endpoints(session=session, tenant=tenant)
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


def enqueue_verified_batch(session: Session, *, rows: Sequence[DeltaRow], batch: BatchRow, now: float) -> None:
    """delta.verified per delta, or batch.verified (paged) for endpoints that aggregate."""
    by_tenant: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_tenant.setdefault(row.tenant, []).append(events.verified_receipt(row, batch))
    for tenant, items in by_tenant.items():
        enqueue(
            session,
            tenant=tenant,
            event_type=WebhookEvent.DELTA_VERIFIED,
            payloads=((events.delta_verified(item, now=now), f"{item['receiptId']}:{tenant}") for item in items),
            now=now,
            endpoint_filter=lambda e: not e.aggregate,
        )
        pages = [items[i : i + AGGREGATE_PAGE_SIZE] for i in range(0, len(items), AGGREGATE_PAGE_SIZE)]
        enqueue(
            session,
            tenant=tenant,
            event_type=WebhookEvent.BATCH_VERIFIED,
            subscribed_as=(WebhookEvent.DELTA_VERIFIED,),
            payloads=(
                (
                    events.batch_verified(batch, page=n + 1, pages=len(pages), receipts=page, now=now),
                    f"batch-{batch.start_index}-page-{n + 1}:{tenant}",
                )
                for n, page in enumerate(pages)
            ),
            now=now,
            endpoint_filter=lambda e: e.aggregate,
        )


def enqueue_batch_event(
    session: Session, *, event_type: WebhookEvent, batch: BatchRow, tenant_counts: dict[str, int], now: float
) -> None:
    """batch.anchored / batch.reorged to every tenant with deltas in the batch."""
    tx_hash = events.batch_json(batch)["txHash"]
    for tenant, count in tenant_counts.items():
        enqueue(
            session,
            tenant=tenant,
            event_type=event_type,
            payloads=[
                (
                    events.batch_event(batch, receipt_count=count),
                    f"{event_type}-{batch.start_index}-{tx_hash}:{tenant}",
                )
            ],
            now=now,
        )
