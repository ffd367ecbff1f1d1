"""The two verifiers agree: every committed vector (tests/vectors/) through the Python ``pacspace-verify``
and the TypeScript ``pacspace-verify-js`` (clients/typescript/, written independently from docs/PROTOCOL.md)
gives the same exit status and the same failed checks, and both give what the vector wants.

The TypeScript side runs every vector in one ``node`` process (clients/typescript/test/support/vector-report.mjs,
its own replay server built from tests/vectors/README.md); the Python side runs its CLI's ``main`` in this process.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.unit.test_vectors import FILES, VECTORS, load, run_vector

SDK = Path(__file__).resolve().parents[2] / "clients" / "typescript"


@pytest.fixture(scope="module")
def typescript_verdicts() -> dict[str, dict[str, Any]]:
    run = subprocess.run(
        ["node", "test/support/vector-report.mjs"], cwd=SDK, capture_output=True, text=True, timeout=300, check=False
    )
    assert run.returncode == 0, run.stderr[-3000:]
    verdicts = [json.loads(line) for line in run.stdout.splitlines() if line.strip()]
    return {v["vector"]: v for v in verdicts}


def test_the_typescript_verifier_ran_every_vector(typescript_verdicts: dict[str, dict[str, Any]]) -> None:
    assert sorted(typescript_verdicts) == sorted(str(p.relative_to(VECTORS).with_suffix("")) for p in FILES)


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(VECTORS).with_suffix("")))
def test_both_verifiers_agree(path: Path, typescript_verdicts: dict[str, dict[str, Any]]) -> None:
    vector = load(path)
    code, failed, proc = run_vector(vector)
    ts = typescript_verdicts[str(path.relative_to(VECTORS).with_suffix(""))]
    want = (vector["want"]["exit"], vector["want"]["failed"])
    assert (code, failed) == want, proc.stdout[-2000:] + proc.stderr
    assert (ts["exit"], ts["failed"]) == (code, failed), f"TypeScript {ts}, Python {(code, failed)}"
