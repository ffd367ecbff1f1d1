"""Helpers shared by test modules: the auditor's verifier (the pacspace_verify package) as one
module, the protocol document's worked example, the native Merkle backend, a webhook receiver, and
waiting (for a condition, or for a bounded time that nothing changes)."""

from __future__ import annotations

import functools
import importlib
import json
import os
import pkgutil
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import pacspace_verify
from node.native.loader import NativeMerkle, NativeUnavailable

REPO = Path(__file__).resolve().parents[1]
VERIFIER_DIR = REPO / "verifier"
PROTOCOL_DOC = REPO / "docs" / "PROTOCOL.md"


# The verifier's modules, from the protocol up: where two bind one name, the first one's is shown.
_VERIFIER_MODULES = (
    "protocol", "bundle", "offline", "chain", "onchain", "derive", "inputs",
    "proof_token", "checkpoint", "cli", "evidence_pack", "evidence",
)  # fmt: skip


class _Verifier(ModuleType):
    """The verifier's package seen as one module, as the tests knew it when it was one file: every
    module of it is an attribute (``verifier.chain``), and so is every name any of them binds
    (``verifier.check_proof``). A name set here (``monkeypatch.setattr(verifier, "RpcChain", fake)``)
    is also set in every module that binds it, so the code that reads it sees the change."""

    def __init__(self, modules: list[ModuleType]) -> None:
        super().__init__("pacspace_verify (tests)", pacspace_verify.__doc__)
        self.__dict__["_modules"] = modules
        for module in modules:
            self.__dict__[module.__name__.rpartition(".")[2]] = module
        for module in modules:
            for name, value in vars(module).items():
                if not name.startswith("__"):
                    self.__dict__.setdefault(name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        if not name.startswith("__"):
            for module in self.__dict__["_modules"]:
                if name in vars(module):
                    setattr(module, name, value)
        super().__setattr__(name, value)


@functools.cache
def load_verifier() -> ModuleType:
    """The pacspace_verify package (verifier/, a workspace member of the node's environment), every
    module of it imported, as one module: loaded once per process."""
    found = {info.name for info in pkgutil.iter_modules(pacspace_verify.__path__)} - {"__main__"}
    names = [n for n in _VERIFIER_MODULES if n in found] + sorted(found - set(_VERIFIER_MODULES))
    return _Verifier([importlib.import_module(f"pacspace_verify.{name}") for name in names])


def worked_example() -> dict[str, Any]:
    """The ```json worked-example block of docs/PROTOCOL.md."""
    match = re.search(r"```json worked-example\n(.*?)```", PROTOCOL_DOC.read_text(), re.S)
    assert match, "the worked example block is missing from docs/PROTOCOL.md"
    return json.loads(match.group(1))  # type: ignore[no-any-return]


# Deltas not verified yet: a delta's status is its batch's (none yet, or a batch not verified).
UNVERIFIED_SQL = (
    "select count(*) from deltas where batch_id is null "
    "or batch_id in (select id from batches where status <> 'verified')"
)


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


def wait_until(condition: Callable[[], Any], reason: str, timeout: float = 30, every: float = 0.05) -> Any:
    """Poll ``condition`` until it returns something truthy, and return that; fail with ``reason``
    after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"after {timeout} s: {reason}"
        time.sleep(every)


def assert_stays(read: Callable[[], Any], seconds: float, reason: str, every: float = 0.05) -> None:
    """Fail as soon as ``read()`` gives another value than its first, within ``seconds``. For "nothing
    more arrives" once a condition says everything that should arrive has: ``reason`` says why
    ``seconds`` is long enough for a wrong arrival to show."""
    first = read()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(every)
        now = read()
        assert now == first, f"{reason}: {first!r} became {now!r}"


Delivery = tuple[dict[str, str], bytes]


class WebhookReceiver:
    """A loopback HTTP server that keeps every webhook delivery it gets (lower-cased headers, body,
    and the path it was sent to) and answers each with the next status of ``script`` (200 once it
    runs out). A context manager; ``close()`` stops it."""

    def __init__(self, script: list[int] | None = None) -> None:
        self.script: list[int] = list(script or [])
        self.received: list[Delivery] = []
        self.paths: list[str] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                with receiver.lock:
                    receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                    receiver.paths.append(self.path)
                    status = receiver.script.pop(0) if receiver.script else 200
                self.send_response(status)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *_args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.url = f"{self.base}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def __enter__(self) -> WebhookReceiver:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def snapshot(self) -> list[Delivery]:
        with self.lock:
            return list(self.received)

    def ids(self) -> list[str]:
        """The ``webhook-id`` header of every delivery, in arrival order."""
        return [headers["webhook-id"] for headers, _body in self.snapshot()]

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _headers, body in self.snapshot()]

    def wait_for(self, n: int, timeout: float = 20) -> list[Delivery]:
        """Every delivery so far, once there are at least ``n``."""
        wait_until(lambda: len(self.received) >= n, f"got {len(self.received)} of {n} deliveries", timeout)
        return self.snapshot()

    def wait_for_match(self, test: Callable[[dict[str, Any]], bool], timeout: float = 20) -> Delivery:
        """The first delivery whose JSON body passes ``test``."""

        def match() -> Delivery | None:
            return next((d for d in self.snapshot() if test(json.loads(d[1]))), None)

        found: Delivery = wait_until(match, f"no matching delivery among {len(self.received)}", timeout)
        return found
