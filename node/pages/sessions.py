"""Browser sessions backed by an API key, for every face: who is signed in, for how long, and the CSRF
token of their forms.

Signing in takes an API key, checked like any API request (salted hash, constant-time compare). The
browser then holds only a random session token in an HttpOnly cookie; the database holds its SHA-256,
the key it belongs to and a per-session CSRF token. A session ends at sign-out, after ``IDLE_SECONDS``
without a request, ``LIFETIME_SECONDS`` after sign-in, or as soon as its key is revoked, expires or no
longer passes the face's rule (``allowed``: an admin key for the dashboard, a customer-scoped key for
the portal). One table serves both faces: a session is only ever accepted where its key passes the rule.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from node.keys.api_keys import key_status
from node.store.db import Store
from node.store.models import ApiKeyRow, DashboardSessionRow
from node.store.sessions import delete_ended_sessions, delete_session, get_session_and_key, touch_session

LIFETIME_SECONDS = 8 * 3600
IDLE_SECONDS = 30 * 60
SIGN_IN_FORM_SECONDS = 3600
_TOUCH_EVERY_SECONDS = 60
KeyRule = Callable[[ApiKeyRow], bool]


@dataclass(frozen=True)
class PageSession:
    session_id: str
    key_id: str
    key_name: str
    tenant: str
    csrf_token: str
    expires_at: int
    customer_id: str | None = None


def _session_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(store: Store, key: ApiKeyRow, *, now: int | None = None) -> tuple[str, PageSession]:
    """A new session for ``key``; returns the cookie's token (shown to nobody else) and the session."""
    now = int(time.time()) if now is None else now
    token = secrets.token_urlsafe(32)
    row = DashboardSessionRow(
        id=_session_id(token),
        key_id=key.id,
        tenant=key.tenant,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        last_seen_at=now,
        expires_at=now + LIFETIME_SECONDS,
    )
    with store.writer() as session:
        # Housekeeping while we hold the writer: sessions that can no longer be used.
        delete_ended_sessions(session=session, now=now, idle_seconds=IDLE_SECONDS)
        session.add(row)
        session.commit()
    return token, PageSession(
        row.id, key.id, key.name, key.tenant, row.csrf_token, row.expires_at, customer_id=key.customer_id
    )


def _still_valid(row: DashboardSessionRow, key: ApiKeyRow | None, now: int, allowed: KeyRule) -> bool:
    return (
        now < row.expires_at
        and now - row.last_seen_at <= IDLE_SECONDS
        and key is not None
        and key.tenant == row.tenant
        and key_status(key, now) != "revoked"
        and allowed(key)
    )


def load_session(store: Store, token: str | None, *, allowed: KeyRule, now: int | None = None) -> PageSession | None:
    """The live session of a cookie token whose key passes ``allowed``, or None. A session that has ended
    is removed; one whose key fails this face's rule is left alone (it may belong to the other face)."""
    if not token or len(token) > 128:
        return None
    now = int(time.time()) if now is None else now
    session_id = _session_id(token)
    with store.session() as session:
        row, key = get_session_and_key(session=session, session_id=session_id)
    if row is None:
        return None
    if not _still_valid(row, key, now, lambda _key: True):
        end_session(store, session_id)
        return None
    assert key is not None
    if not allowed(key):
        return None
    if now - row.last_seen_at >= _TOUCH_EVERY_SECONDS:
        with store.writer() as session:
            touch_session(session=session, session_id=session_id, now=now)
            session.commit()
    return PageSession(
        row.id, key.id, key.name, row.tenant, row.csrf_token, row.expires_at, customer_id=key.customer_id
    )


def end_session(store: Store, session_id: str) -> None:
    with store.writer() as session:
        delete_session(session=session, session_id=session_id)
        session.commit()
