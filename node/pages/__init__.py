"""What the server-rendered faces (node/dashboard for the operator, node/portal for the customer) share:
browser sessions backed by an API key, CSRF and security headers, the Jinja2 environment with its
filters and macros, the stylesheet and script, and turning a comparison form into the API's request.
Each face keeps its own pages, templates, session rule and URL prefix; neither imports the other."""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
TEMPLATES_DIR = HERE / "templates"
