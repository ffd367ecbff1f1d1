"""The protocol v1 vectors' generator as it was first run: ``generate.py --protocol 1``.

The committed v1 vectors' provenance names this module; it stays so that the command it records
still runs::

    .venv/bin/python -m tests.vectors.tools.generate_v1 [--check-only | --force]
"""

from __future__ import annotations

import sys

from tests.vectors.tools.generate import main as generate


def main(argv: list[str] | None = None) -> int:
    return generate(["--protocol", "1", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
