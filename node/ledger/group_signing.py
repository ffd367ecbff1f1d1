"""Signing a writer group's new deltas, shared between the writer thread and a small pool.

Signing releases the GIL (coincurve calls libsecp256k1 through cffi; an external signer waits on its
HTTP answer), so a large group's signatures are split between the calling thread and ``threads - 1``
pool threads. Below ``PARALLEL_SIGN_MIN`` rows a group is signed on the calling thread alone: handing
work to another thread costs more than it saves. Each share goes to the signer as one call
(``ReceiptSigner.sign_typed``), which an external signer sends as one JSON-RPC batch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

from node.core.signing import ReceiptSigner
from node.store.models import StoredDelta

PARALLEL_SIGN_MIN = 64


TypedDataOf = Callable[[StoredDelta], dict[str, Any]]


def _sign_rows(signer: ReceiptSigner, typed_data_of: TypedDataOf, rows: Sequence[StoredDelta]) -> None:
    signatures = signer.sign_typed([(row.fingerprint, partial(typed_data_of, row)) for row in rows])
    for row, signature in zip(rows, signatures, strict=True):
        row.signature = signature


class GroupSigner:
    """Sets each row's signature over its fingerprint. Used by one writer thread at a time."""

    def __init__(self, signer: ReceiptSigner, typed_data_of: TypedDataOf, *, threads: int) -> None:
        self._signer = signer
        self._typed_data_of = typed_data_of
        self._threads = max(1, threads)
        self._pool: ThreadPoolExecutor | None = None  # started with the first large group

    def sign(self, rows: Sequence[StoredDelta]) -> None:
        if self._threads == 1 or len(rows) < PARALLEL_SIGN_MIN:
            _sign_rows(self._signer, self._typed_data_of, rows)
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self._threads - 1, thread_name_prefix="pacspace-signer")
        share = -(-len(rows) // self._threads)
        others = [
            self._pool.submit(_sign_rows, self._signer, self._typed_data_of, rows[start : start + share])
            for start in range(share, len(rows), share)
        ]
        _sign_rows(self._signer, self._typed_data_of, rows[:share])
        for other in others:
            other.result()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
