"""The dashboard as a face of node/pages: its sign-in rule (an admin key), cookies, look and notices.

``FACE`` gives every dashboard page its plumbing: ``render``, the signed-in session as ``SessionDep``,
``DashboardRoute`` (CSRF on every POST, errors as pages, security headers) and sign-in redirects. Every
page reads the tenant from the signed-in session, never from the request."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import Depends

from node.pages.face import SESSION_NOTICES, Face, Look, SignInRule
from node.pages.sessions import PageSession
from node.store.models import ApiKeyRow

PREFIX = "/dashboard"


def is_admin(key: ApiKeyRow) -> bool:
    """The dashboard's rule: an admin key. It is checked on every request, not only at sign-in: a session
    ends as soon as its key is revoked, expires or loses the admin scope."""
    return "admin" in key.scopes.split(",")


def _refusal(key: ApiKeyRow) -> str:
    scopes = key.scopes.replace(",", ", ")
    scoped = f" for customer {key.customer_id}" if key.customer_id else ""
    return f"Only an admin key can sign in to the dashboard; this key has the {scopes} scope{scoped}."


FACE = Face(
    prefix=PREFIX,
    templates=Path(__file__).resolve().parent / "templates",
    rule=SignInRule(
        admits=is_admin,
        refusal=_refusal,
        empty_key="Enter an API key.",
        scopes=frozenset({"admin"}),
        session_cookie="pacspace_session",
        sign_in_cookie="pacspace_sign_in",
    ),
    look=Look(
        brand="PacSpace node",
        nav_label="Dashboard",
        nav=(
            ("overview", "Overview", ""),
            ("keys", "API keys", "/keys"),
            ("webhooks", "Webhooks", "/webhooks"),
            ("events", "CloudEvents", "/events"),
            ("batches", "Batches", "/batches"),
            ("receipts", "Receipts", "/receipts"),
            ("customers", "Customers", "/customers"),
        ),
        who_label="Tenant",
        who_field="tenant",
        home_link="Back to the overview",
    ),
    notices={
        **SESSION_NOTICES,
        "key_revoked": "The key is revoked: requests with it are refused from now on.",
        "webhook_updated": "The webhook endpoint is updated.",
        "webhook_deleted": "The webhook endpoint and its delivery log are deleted.",
        "test_queued": "A webhook.test event is queued; it appears in the delivery log below once sent.",
        "redelivery_queued": "The delivery is queued to be sent again.",
        "mapping_saved": "The mapping is saved: events of its type recorded from now on use it.",
        "mapping_deleted": "The mapping is removed: events of its type take the default mapping again.",
        "ingest_settings_saved": "The referenceId form is saved: events recorded from now on use it.",
    },
    unknown_page="There is no dashboard page at {url}. Check the address, or start from the overview.",
)
DashboardRoute = FACE.route_class
SessionDep = Annotated[PageSession, Depends(FACE.current_session)]
render = FACE.render
sign_in_url = FACE.sign_in_url

__all__ = ["FACE", "PREFIX", "DashboardRoute", "SessionDep", "render", "sign_in_url"]
