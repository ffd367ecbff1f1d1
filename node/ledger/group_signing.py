"""Signing a writer group's new deltas, shared between the writer thread and a small pool.

Signing releases the GIL (coincurve calls libsecp256k1 through cffi), so a large group's signatures
are split between the calling thread and ``threads - 1`` pool threads. Below ``PARALLEL_SIGN_MIN``
rows a group is signed on the calling thread alone: handing work to another thread costs more than
it saves.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from node.store.models import StoredDelta

PARALLEL_SIGN_MIN = 64


def _sign_rows(sign: Callable[[bytes], bytes], rows: Sequence[StoredDelta]) -> None:
    for row in rows:
        row.signature = sign(row.fingerprint)


class GroupSigner:
    """Sets each row's signature over its fingerprint. Used by one writer thread at a time."""

    def __init__(self, sign: Callable[[bytes], bytes], *, threads: int) -> None:
        self._sign = sign
        self._threads = max(1, threads)
        self._pool: ThreadPoolExecutor | None = None  # started with the first large group

    def sign(self, rows: Sequence[StoredDelta]) -> None:
        if self._threads == 1 or len(rows) < PARALLEL_SIGN_MIN:
            _sign_rows(self._sign, rows)
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self._threads - 1, thread_name_prefix="pacspace-signer")
        share = -(-len(rows) // self._threads)
        others = [
            self._pool.submit(_sign_rows, self._sign, rows[start : start + share])
            for start in range(share, len(rows), share)
        ]
        _sign_rows(self._sign, rows[:share])
        for other in others:
            other.result()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
