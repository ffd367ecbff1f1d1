"""``pacspace-node bench``: runs bench/bench.py of a source checkout."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path


def cmd_bench(args: argparse.Namespace) -> int:
    return run_bench(args.bench_args)


def run_bench(bench_args: list[str]) -> int:
    """Delegates to bench/bench.py of a source checkout (it needs Anvil, the forge artifact and node_modules)."""
    script = Path(__file__).resolve().parents[2] / "bench" / "bench.py"
    if not script.exists():
        print("error: the benchmark runs from a source checkout (bench/bench.py); see docs/PERFORMANCE.md")
        return 2
    return subprocess.call([sys.executable, str(script), *bench_args])  # noqa: S603 (our own script)
