"""Queries over webhook endpoints, their outbox of deliveries and the attempts of each delivery."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session, col, delete, select

from node.store.models import WebhookAttemptRow, WebhookDeliveryRow, WebhookDeliveryStatus, WebhookEndpointRow


def get_endpoint(*, session: Session, endpoint_id: str) -> WebhookEndpointRow | None:
    return session.get(WebhookEndpointRow, endpoint_id)


def list_endpoints(*, session: Session, tenant: str) -> Sequence[WebhookEndpointRow]:
    """The tenant's endpoints, oldest first."""
    stmt = (
        select(WebhookEndpointRow)
        .where(WebhookEndpointRow.tenant == tenant)
        .order_by(col(WebhookEndpointRow.created_at))
    )
    return session.exec(stmt).all()


def enabled_endpoints(*, session: Session, tenant: str) -> Sequence[WebhookEndpointRow]:
    stmt = select(WebhookEndpointRow).where(WebhookEndpointRow.tenant == tenant, col(WebhookEndpointRow.enabled))
    return session.exec(stmt).all()


def any_enabled_endpoint(*, session: Session) -> bool:
    """Whether any tenant has an enabled endpoint (if none, no event needs building)."""
    stmt = select(WebhookEndpointRow.id).where(col(WebhookEndpointRow.enabled)).limit(1)
    return session.exec(stmt).first() is not None


def endpoints_by_id(*, session: Session, endpoint_ids: set[str]) -> dict[str, WebhookEndpointRow]:
    stmt = select(WebhookEndpointRow).where(col(WebhookEndpointRow.id).in_(endpoint_ids))
    return {e.id: e for e in session.exec(stmt).all()}


def delete_endpoint(*, session: Session, endpoint_id: str) -> None:
    """The endpoint, its deliveries and their attempts (the caller commits)."""
    ids = select(WebhookDeliveryRow.id).where(WebhookDeliveryRow.endpoint_id == endpoint_id)
    session.execute(delete(WebhookAttemptRow).where(col(WebhookAttemptRow.delivery_id).in_(ids)))
    session.execute(delete(WebhookDeliveryRow).where(col(WebhookDeliveryRow.endpoint_id) == endpoint_id))
    session.execute(delete(WebhookEndpointRow).where(col(WebhookEndpointRow.id) == endpoint_id))


def get_delivery(*, session: Session, delivery_id: str) -> WebhookDeliveryRow | None:
    return session.get(WebhookDeliveryRow, delivery_id)


def due_deliveries(*, session: Session, now: int, limit: int) -> list[WebhookDeliveryRow]:
    """Pending deliveries due by ``now``, the longest-waiting first, locked for this transaction."""
    stmt = (
        select(WebhookDeliveryRow)
        .where(
            WebhookDeliveryRow.status == WebhookDeliveryStatus.PENDING,
            col(WebhookDeliveryRow.next_attempt_at) <= now,
        )
        .order_by(col(WebhookDeliveryRow.next_attempt_at))
        .limit(limit)
        # PostgreSQL: processes polling together claim disjoint rows (SQLite's writer is exclusive).
        .with_for_update(skip_locked=True)
    )
    return list(session.exec(stmt).all())


def latest_delivery(*, session: Session, endpoint_id: str, event_type: str) -> WebhookDeliveryRow | None:
    stmt = (
        select(WebhookDeliveryRow)
        .where(WebhookDeliveryRow.endpoint_id == endpoint_id, WebhookDeliveryRow.event_type == event_type)
        .order_by(col(WebhookDeliveryRow.created_at).desc())
    )
    return session.exec(stmt).first()


def list_deliveries(
    *, session: Session, endpoint_id: str, status: str | None, limit: int
) -> Sequence[WebhookDeliveryRow]:
    """The endpoint's deliveries (only those in ``status`` if given), newest first."""
    stmt = select(WebhookDeliveryRow).where(WebhookDeliveryRow.endpoint_id == endpoint_id)
    if status is not None:
        stmt = stmt.where(WebhookDeliveryRow.status == status)
    return session.exec(stmt.order_by(col(WebhookDeliveryRow.created_at).desc()).limit(limit)).all()


def attempts_of(*, session: Session, delivery_ids: Sequence[str]) -> dict[str, list[WebhookAttemptRow]]:
    """Each delivery's attempts, in the order they were made."""
    stmt = (
        select(WebhookAttemptRow)
        .where(col(WebhookAttemptRow.delivery_id).in_(delivery_ids))
        .order_by(col(WebhookAttemptRow.id))
    )
    attempts: dict[str, list[WebhookAttemptRow]] = {}
    for a in session.exec(stmt).all():
        attempts.setdefault(a.delivery_id, []).append(a)
    return attempts
