"""Helpers shared by test modules: the auditor's verifier loaded from its file, the
protocol document's worked example, and the native Merkle backend."""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import re
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from node.native.loader import NativeMerkle, NativeUnavailable

REPO = Path(__file__).resolve().parents[1]
VERIFIER_SCRIPT = REPO / "scripts" / "verify_receipt.py"
PROTOCOL_DOC = REPO / "docs" / "PROTOCOL.md"


@functools.cache
def load_verifier() -> ModuleType:
    """scripts/verify_receipt.py as a module (scripts/ is not a package): loaded once per process."""
    spec = importlib.util.spec_from_file_location("verify_receipt", VERIFIER_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file executes
    spec.loader.exec_module(module)
    return module


def worked_example() -> dict[str, Any]:
    """The ```json worked-example block of docs/PROTOCOL.md."""
    match = re.search(r"```json worked-example\n(.*?)```", PROTOCOL_DOC.read_text(), re.S)
    assert match, "the worked example block is missing from docs/PROTOCOL.md"
    return json.loads(match.group(1))  # type: ignore[no-any-return]


def sql(db_url: str, statement: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
    """Run one SQL statement against either backend (the tests' way to look under, or tamper with, the API)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    engine = create_engine(db_url, poolclass=NullPool)
    try:
        with engine.begin() as conn:
            result = conn.execute(text(statement), params or {})
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        engine.dispose()


def native_merkle() -> NativeMerkle:
    """The native Merkle backend. Fails the test when it is not built (scripts/bootstrap builds it),
    skips it only when PACSPACE_NATIVE=0 says so explicitly (a machine without a C compiler)."""
    if os.environ.get("PACSPACE_NATIVE", "").strip() == "0":
        pytest.skip("PACSPACE_NATIVE=0: the native Merkle backend is switched off")
    try:
        return NativeMerkle()
    except NativeUnavailable as exc:
        pytest.fail(f"the native Merkle library is required here (scripts/bootstrap builds it): {exc}")


def assert_one_receipt_per_reference(results: list[tuple[str, int, str]], references: list[str]) -> None:
    """Concurrent POSTs of each referenceId (reference, status, receiptId): exactly one created it, every
    other answer was a replay of the same receipt."""
    statuses = Counter(status for _ref, status, _r in results)
    assert set(statuses) <= {200, 201}, statuses
    assert statuses[201] == len(references)  # one creation per referenceId, the other a replay
    receipts: dict[str, set[str]] = {}
    for ref, _status, receipt in results:
        receipts.setdefault(ref, set()).add(receipt)
    assert all(len(ids) == 1 for ids in receipts.values()), "a retry got a different receipt"


BundleEdit = Callable[[dict[str, Any]], None]


def set_at(path: str, value: Any) -> BundleEdit:
    """An edit of a proof bundle that sets the value at a dotted path (``"batch.count"``)."""

    def edit(bundle: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target = bundle
        for key in parents:
            target = target[key]
        target[last] = value

    return edit
