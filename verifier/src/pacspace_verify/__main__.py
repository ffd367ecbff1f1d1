"""``python -m pacspace_verify``: the same as the ``pacspace-verify`` command."""

from __future__ import annotations

import sys

from pacspace_verify.cli import main

sys.exit(main())
