"""What the server-rendered faces (node/dashboard for the operator, node/portal for the customer) share:
a ``Face`` (face.py: rendering, the session dependency, the route class with CSRF and error pages),
browser sessions backed by an API key (sessions.py), one sign-in flow (signin.py), security headers,
the Jinja2 environment with the layout (``base.html``), its filters and macros (``_macros.html``, and
``_records.html`` for the record both faces show), the steps that show a receipt or a comparison
(records.py), the stylesheet and script, and turning a comparison form into the API's request.
Each face keeps its own pages, templates, sign-in rule and URL prefix; neither imports the other."""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
TEMPLATES_DIR = HERE / "templates"
