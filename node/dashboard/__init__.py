"""The operator's dashboard at /dashboard: server-rendered pages over the node's own services.

Sign in with an admin API key; every page shows the signed-in key's tenant only. No build step
and nothing from another host: Jinja2 templates, one CSS file, a little plain JavaScript (copy
buttons, confirmations), charts drawn as inline SVG on the server. What it shares with the portal
(sessions, sign-in, CSRF, the layout and the record's tables) is node/pages.
"""

from __future__ import annotations

from node.dashboard import customers, events, keys, ledger, overview, webhooks
from node.dashboard.web import FACE, PREFIX
from node.pages import STATIC_DIR
from node.pages.signin import sign_in_router

ROUTERS = (sign_in_router(FACE), *(m.router for m in (overview, keys, webhooks, events, ledger, customers)))
router = FACE.router(ROUTERS)

__all__ = ["PREFIX", "ROUTERS", "STATIC_DIR", "router"]
