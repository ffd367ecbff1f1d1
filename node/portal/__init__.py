"""The counterparty's portal at /portal: read-only pages for one customer of one tenant.

The vendor hands its customer a customer-scoped API key (read only, one customerId); with it the customer
signs in and sees its own balance (verified and pending apart), its deltas with their status, each
receipt verified against the chain by the verifier's checks, its checkpoints with their tokens and
countersignature state, its comparisons and evidence packs, and downloads its export and evidence. It
may start a comparison. It sees nothing of any other customer or tenant: every page takes the customer
and tenant from the session, never from the request. Same style as the dashboard (node/pages), CSRF on
every form, nothing loaded from another host.
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from node.core.errors import NotFound
from node.pages import STATIC_DIR
from node.portal import comparisons, pages, signin
from node.portal.web import PREFIX, PortalRoute, SessionDep

ROUTERS = tuple(m.router for m in (signin, pages, comparisons))
router = APIRouter()
for _pages in ROUTERS:
    router.include_router(_pages, prefix=PREFIX)

_unknown = APIRouter(route_class=PortalRoute)


@_unknown.get("/{path:path}", include_in_schema=False)
def unknown_page(path: str, _session: SessionDep) -> Response:
    raise NotFound(f"There is no portal page at {PREFIX}/{path}. Start from your record.")


router.include_router(_unknown, prefix=PREFIX)  # last: every real page is matched first

__all__ = ["PREFIX", "ROUTERS", "STATIC_DIR", "router"]
