"""A tenant's webhook endpoints: create, change, rotate the secret, test, read the delivery log,
redeliver. The JSON API and the dashboard both call these; delivery itself is ``node.webhooks.delivery``.

Another tenant's endpoint or delivery id is ``NotFound``, like one that does not exist.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass

from node.core.errors import NotFound
from node.core.webhooks import WebhookEvent, new_secret
from node.store import webhooks as stored
from node.store.db import Store
from node.store.models import WebhookAttemptRow, WebhookDeliveryRow, WebhookDeliveryStatus, WebhookEndpointRow
from node.webhooks.outbox import enqueue
from node.webhooks.url_policy import UrlPolicy


@dataclass(frozen=True)
class Delivery:
    row: WebhookDeliveryRow
    attempts: list[WebhookAttemptRow]


def _events(events: Sequence[str]) -> str:
    return ",".join(sorted(set(events)))


def create_endpoint(
    store: Store, *, tenant: str, url: str, events: Sequence[str], aggregate: bool, policy: UrlPolicy
) -> WebhookEndpointRow:
    """A new endpoint with a new secret (the caller shows it once). Raises InvalidInput for a refused URL."""
    policy.check(url)
    now = int(time.time())
    row = WebhookEndpointRow(
        id="whk_" + secrets.token_hex(12),
        tenant=tenant,
        url=url,
        events=_events(events),
        aggregate=aggregate,
        secret=new_secret(),
        created_at=now,
        updated_at=now,
    )
    with store.writer() as session:
        session.add(row)
        session.commit()
    return row


def list_endpoints(store: Store, *, tenant: str) -> list[WebhookEndpointRow]:
    with store.session() as session:
        return list(stored.list_endpoints(session=session, tenant=tenant))


def get_endpoint(store: Store, *, tenant: str, endpoint_id: str) -> WebhookEndpointRow:
    with store.session() as session:
        row = stored.get_endpoint(session=session, endpoint_id=endpoint_id)
    if row is None or row.tenant != tenant:
        raise NotFound(f"no webhook endpoint {endpoint_id}")
    return row


def update_endpoint(
    store: Store,
    row: WebhookEndpointRow,
    *,
    policy: UrlPolicy,
    url: str | None = None,
    events: Sequence[str] | None = None,
    aggregate: bool | None = None,
    enabled: bool | None = None,
) -> WebhookEndpointRow:
    """Change what is given; re-enabling clears the reason it was disabled."""
    if url is not None:
        policy.check(url)
        row.url = url
    if events is not None:
        row.events = _events(events)
    if aggregate is not None:
        row.aggregate = aggregate
    if enabled is not None:
        row.enabled = enabled
        row.disabled_reason = None if enabled else "disabled by an admin"
    row.updated_at = int(time.time())
    with store.writer() as session:
        session.add(row)
        session.commit()
    return row


def delete_endpoint(store: Store, row: WebhookEndpointRow) -> None:
    """The endpoint, its deliveries and their attempts."""
    with store.writer() as session:
        stored.delete_endpoint(session=session, endpoint_id=row.id)
        session.commit()


def rotate_secret(store: Store, row: WebhookEndpointRow, *, grace_seconds: int) -> WebhookEndpointRow:
    """A new secret; with a grace period the old one keeps signing alongside until it ends."""
    now = int(time.time())
    row.previous_secret = row.secret if grace_seconds > 0 else None
    row.previous_secret_expires_at = now + grace_seconds if grace_seconds > 0 else None
    row.secret = new_secret()
    row.updated_at = now
    with store.writer() as session:
        session.add(row)
        session.commit()
    return row


def send_test_event(store: Store, row: WebhookEndpointRow) -> str | None:
    """Queue a ``webhook.test`` delivery to this endpoint; its id, or None if the endpoint is disabled."""
    with store.writer() as session:
        enqueue(
            session,
            tenant=row.tenant,
            event_type=WebhookEvent.TEST,
            payloads=[({"message": "a test event from PacSpace node"}, f"test-{time.time_ns()}:{row.tenant}")],
            now=time.time(),
            endpoint_filter=lambda e: e.id == row.id,
            subscribed_as=tuple(row.events.split(",")),
        )
        session.commit()
        delivery = stored.latest_delivery(session=session, endpoint_id=row.id, event_type=WebhookEvent.TEST)
    return None if delivery is None else delivery.id


def list_deliveries(
    store: Store, row: WebhookEndpointRow, *, status: str | None = None, limit: int = 100
) -> list[Delivery]:
    """The endpoint's deliveries, newest first, each with its attempts in order."""
    with store.session() as session:
        items = stored.list_deliveries(session=session, endpoint_id=row.id, status=status, limit=limit)
        attempts = stored.attempts_of(session=session, delivery_ids=[d.id for d in items])
    return [Delivery(d, attempts.get(d.id, [])) for d in items]


def redeliver(store: Store, row: WebhookEndpointRow, *, delivery_id: str) -> None:
    """Send a delivery of this endpoint again now, with a fresh 3-day retry window."""
    with store.writer() as session:
        delivery = stored.get_delivery(session=session, delivery_id=delivery_id)
        if delivery is None or delivery.endpoint_id != row.id:
            raise NotFound(f"no delivery {delivery_id}")
        now = int(time.time())
        delivery.status = WebhookDeliveryStatus.PENDING
        delivery.next_attempt_at = now
        delivery.created_at = now
        session.add(delivery)
        session.commit()
