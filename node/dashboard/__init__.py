"""The operator's dashboard at /dashboard: server-rendered pages over the node's own services.

Sign in with an admin API key; every page shows the signed-in key's tenant only. No build step
and nothing from another host: Jinja2 templates, one CSS file, a little plain JavaScript (copy
buttons, confirmations), charts drawn as inline SVG on the server.
"""

from __future__ import annotations

from fastapi import APIRouter

from node.dashboard import customers, events, keys, ledger, overview, signin, webhooks
from node.dashboard.web import PREFIX, STATIC_DIR

ROUTERS = tuple(m.router for m in (signin, overview, keys, webhooks, events, ledger, customers))
router = APIRouter()
for _pages in ROUTERS:
    router.include_router(_pages, prefix=PREFIX)

__all__ = ["PREFIX", "ROUTERS", "STATIC_DIR", "router"]
