"""The portal as a face of node/pages: its sign-in rule (a customer-scoped key), cookies and look.

Every page reads the customer and tenant from the signed-in session only (``customer_of``), never from the
URL or a form: there is no parameter through which one customer could name another's records."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import Depends

from node.pages.face import Face, Look, SignInRule
from node.pages.sessions import PageSession
from node.store.models import ApiKeyRow

PREFIX = "/portal"


def is_customer_key(key: ApiKeyRow) -> bool:
    """The portal's rule: a customer-scoped key (read only, one customer); never an operator's key. Checked
    at sign-in and on every request."""
    return key.customer_id is not None and key.scopes.split(",") == ["read"]


FACE = Face(
    prefix=PREFIX,
    templates=Path(__file__).resolve().parent / "templates",
    rule=SignInRule(
        admits=is_customer_key,
        refusal=lambda _key: (
            "The portal takes a customer key (read only, for one customer). Operators sign in "
            "to the dashboard at /dashboard."
        ),
        empty_key="Enter the API key you were given.",
        scopes=frozenset({"read"}),
        session_cookie="pacspace_portal",
        sign_in_cookie="pacspace_portal_sign_in",
    ),
    look=Look(
        brand="PacSpace portal",
        nav_label="Portal",
        nav=(
            ("home", "Your record", ""),
            ("deltas", "Deltas", "/deltas"),
            ("checkpoints", "Checkpoints", "/checkpoints"),
            ("comparisons", "Comparisons", "/comparisons"),
        ),
        who_label="Customer",
        who_field="customer_id",
        home_link="Back to your record",
        footer_note="Read only.",
    ),
    unknown_page="There is no portal page at {url}. Start from your record.",
)
PortalRoute = FACE.route_class
SessionDep = Annotated[PageSession, Depends(FACE.current_session)]
render = FACE.render


def customer_of(session: PageSession) -> str:
    """The signed-in customer: every portal read is scoped by it (and the session's tenant)."""
    if session.customer_id is None:  # is_customer_key admits customer-scoped keys only; never widen to the tenant
        raise AssertionError("a portal session without a customer")
    return session.customer_id
