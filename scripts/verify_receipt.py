#!/usr/bin/env python3
"""Kept for old command lines: ``python scripts/verify_receipt.py ...`` runs ``pacspace-verify ...``.

The verifier is the ``pacspace-verify`` package in verifier/ (``pip install ./verifier``; the
node's environment has it). Without it installed, this runs it from verifier/src.
"""

from __future__ import annotations

import sys
from pathlib import Path

try:
    from pacspace_verify.cli import main
except ModuleNotFoundError as exc:  # not installed: run it from the checkout
    if exc.name != "pacspace_verify":
        raise
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "verifier" / "src"))
    from pacspace_verify.cli import main

if __name__ == "__main__":
    sys.exit(main())
