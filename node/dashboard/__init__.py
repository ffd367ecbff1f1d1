"""The operator's dashboard at /dashboard: server-rendered pages over the node's own services.

Sign in with an admin API key; every page shows the signed-in key's tenant only. No build step
and nothing from another host: Jinja2 templates, one CSS file, a little plain JavaScript (copy
buttons, confirmations), charts drawn as inline SVG on the server.
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from node.core.errors import NotFound
from node.dashboard import customers, events, keys, ledger, overview, signin, webhooks
from node.dashboard.web import PREFIX, STATIC_DIR, DashboardRoute, SessionDep

ROUTERS = tuple(m.router for m in (signin, overview, keys, webhooks, events, ledger, customers))
router = APIRouter()
for _pages in ROUTERS:
    router.include_router(_pages, prefix=PREFIX)

_unknown = APIRouter(route_class=DashboardRoute)


@_unknown.get("/{path:path}", include_in_schema=False)
def unknown_page(path: str, _session: SessionDep) -> Response:
    """Any other dashboard URL: a page saying so (after sign-in), not the API's problem+json."""
    raise NotFound(f"There is no dashboard page at {PREFIX}/{path}. Check the address, or start from the overview.")


# Last, so that every real page (and the static files, mounted before it) is matched first.
router.include_router(_unknown, prefix=PREFIX)

__all__ = ["PREFIX", "ROUTERS", "STATIC_DIR", "router"]
