"""Dashboard sessions: node.pages.sessions with the dashboard's rule (an admin key) and its cookies.

A session ends as soon as its key is revoked, expires or loses the admin scope (the rule is checked on
every request, not only at sign-in)."""

from __future__ import annotations

from node.pages.sessions import (
    IDLE_SECONDS,
    LIFETIME_SECONDS,
    SIGN_IN_FORM_SECONDS,
    PageSession,
    end_session,
    start_session,
)
from node.pages.sessions import load_session as _load_session
from node.store.db import Store
from node.store.models import ApiKeyRow

SESSION_COOKIE = "pacspace_session"
SIGN_IN_COOKIE = "pacspace_sign_in"  # the sign-in form's CSRF token (double submit), before any session exists
COOKIE_PATH = "/dashboard"
DashboardSession = PageSession

__all__ = [
    "COOKIE_PATH",
    "IDLE_SECONDS",
    "LIFETIME_SECONDS",
    "SESSION_COOKIE",
    "SIGN_IN_COOKIE",
    "SIGN_IN_FORM_SECONDS",
    "DashboardSession",
    "end_session",
    "is_admin",
    "load_session",
    "start_session",
]


def is_admin(key: ApiKeyRow) -> bool:
    return "admin" in key.scopes.split(",")


def load_session(store: Store, token: str | None, *, now: int | None = None) -> DashboardSession | None:
    """The live dashboard session of a cookie token (its key still an admin key), or None."""
    return _load_session(store, token, allowed=is_admin, now=now)
