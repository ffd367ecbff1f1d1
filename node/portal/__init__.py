"""The counterparty's portal at /portal: read-only pages for one customer of one tenant.

The vendor hands its customer a customer-scoped API key (read only, one customerId); with it the customer
signs in and sees its own balance (verified and pending apart), its deltas with their status, each
receipt verified against the chain by the verifier's checks, its checkpoints with their tokens and
countersignature state, its comparisons and evidence packs, and downloads its export and evidence. It
may start a comparison. It sees nothing of any other customer or tenant: every page takes the customer
and tenant from the session, never from the request. What it shares with the dashboard (sessions,
sign-in, CSRF, the layout and the record's tables, the style) is node/pages; nothing loads from another host.
"""

from __future__ import annotations

from node.pages import STATIC_DIR
from node.pages.signin import sign_in_router
from node.portal import comparisons, pages
from node.portal.web import FACE, PREFIX

ROUTERS = (sign_in_router(FACE), pages.router, comparisons.router)
router = FACE.router(ROUTERS)

__all__ = ["PREFIX", "ROUTERS", "STATIC_DIR", "router"]
