"""Queries over dashboard sessions (rows keyed by the SHA-256 of the cookie's token)."""

from __future__ import annotations

from sqlmodel import Session, col, delete

from node.store.models import ApiKeyRow, DashboardSessionRow


def delete_ended_sessions(*, session: Session, now: int, idle_seconds: int) -> None:
    """Sessions past their lifetime, or idle longer than ``idle_seconds``: they can no longer be used."""
    session.execute(
        delete(DashboardSessionRow).where(
            (col(DashboardSessionRow.expires_at) <= now) | (col(DashboardSessionRow.last_seen_at) < now - idle_seconds)
        )
    )


def get_session_and_key(*, session: Session, session_id: str) -> tuple[DashboardSessionRow | None, ApiKeyRow | None]:
    """The session row and the API key it belongs to (None for either that does not exist)."""
    row = session.get(DashboardSessionRow, session_id)
    key = None if row is None else session.get(ApiKeyRow, row.key_id)
    return row, key


def touch_session(*, session: Session, session_id: str, now: int) -> None:
    row = session.get(DashboardSessionRow, session_id)
    if row is not None:
        row.last_seen_at = now
        session.add(row)


def delete_session(*, session: Session, session_id: str) -> None:
    session.execute(delete(DashboardSessionRow).where(col(DashboardSessionRow.id) == session_id))
