"""node.core is pure: importing it must not pull in a framework, a database or a network client."""

from __future__ import annotations

import subprocess
import sys

FORBIDDEN = ("fastapi", "starlette", "sqlmodel", "sqlalchemy", "web3", "httpx", "requests", "uvicorn", "apscheduler")


def test_core_imports_no_adapter_or_framework() -> None:
    code = (
        "import sys, pkgutil, importlib, node.core as c\n"
        "for m in pkgutil.iter_modules(c.__path__): importlib.import_module('node.core.' + m.name)\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r})\n"
        "bad += sorted(m for m in sys.modules if m.startswith('node.') and not m.startswith('node.core'))\n"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"node.core pulled in: {out}"
