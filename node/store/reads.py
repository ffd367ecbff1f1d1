"""Single-statement reads on PostgreSQL in one round trip (the per-request hot path).

Through the engine's pool a one-row read costs four round trips: the pool's liveness ping, the
driver's ``BEGIN``, the ``SELECT``, and the ``ROLLBACK`` when the connection goes back. A single
statement needs no transaction (PostgreSQL runs it in one snapshot, at READ COMMITTED as every
other statement here), so these connections run in autocommit mode: one round trip per read.

There is no ping before each use either. A read whose connection turns out to be dead
(PostgreSQL restarted, the connection was killed or timed out) closes every connection opened
before that moment and runs once more on a new connection: a read has no side effect, so it is
safe to repeat. If the new connection fails too, the error propagates (the API answers 503) and
the next read starts over. Dead idle connections are also noticed by TCP keepalives.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
from sqlalchemy.exc import TimeoutError as PoolTimeout

Connect = Callable[[], "psycopg.Connection[Any]"]


class AutocommitReads:
    """A small pool of autocommit psycopg connections for one-statement reads.

    Requires ``connect`` to return a new connection in autocommit mode. Thread-safe; at most
    ``max_size`` connections exist at once, and a read waits up to ``timeout`` seconds for one
    (then ``sqlalchemy.exc.TimeoutError``, as the engine's pool raises).
    """

    def __init__(self, connect: Connect, *, max_size: int, timeout: float) -> None:
        if max_size < 1:
            raise ValueError("max_size must be at least 1")
        self._connect = connect
        self._max_size = max_size
        self._timeout = timeout
        self._lock = threading.Condition()
        self._idle: list[tuple[int, psycopg.Connection[Any]]] = []  # (generation, connection), LIFO
        self._size = 0  # connections that exist: idle or in use
        # Connections opened before the last dead one was found are suspect: a higher generation.
        self._generation = 0
        self._closed = False

    def read_one(self, statement: str, params: tuple[Any, ...]) -> tuple[Any, ...] | None:
        """The first row of ``statement`` (``%s`` placeholders), or None."""
        generation, connection, fresh = self._take()
        try:
            row = connection.execute(statement, params).fetchone()
        except psycopg.OperationalError:
            if fresh or not _dead(connection):
                self._give_back(generation, connection)
                raise
            self._discard(connection, stale_from=generation)
        except BaseException:
            self._give_back(generation, connection)
            raise
        else:
            self._give_back(generation, connection)
            return row
        # The connection had died while idle: once more, on a connection opened just now.
        generation, connection, fresh = self._take()
        try:
            row = connection.execute(statement, params).fetchone()
        finally:
            self._give_back(generation, connection)
        return row

    @property
    def size(self) -> int:
        """Connections open now (idle or in use)."""
        with self._lock:
            return self._size

    def close(self) -> None:
        """Close the idle connections; those in use are closed when they come back."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
            self._size -= len(idle)
            self._lock.notify_all()
        for _generation, connection in idle:
            connection.close()

    def _take(self) -> tuple[int, psycopg.Connection[Any], bool]:
        deadline = time.monotonic() + self._timeout
        with self._lock:
            while True:
                if self._idle:
                    generation, connection = self._idle.pop()
                    return generation, connection, False
                if self._size < self._max_size:
                    self._size += 1
                    generation = self._generation
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._lock.wait(remaining):
                    raise PoolTimeout(f"no database connection for a read within {self._timeout:g} s")
        try:
            connection = self._connect()
        except BaseException:
            with self._lock:
                self._size -= 1
                self._lock.notify()
            raise
        return generation, connection, True

    def _give_back(self, generation: int, connection: psycopg.Connection[Any]) -> None:
        with self._lock:
            keep = not self._closed and generation == self._generation and _reusable(connection)
            if keep:
                self._idle.append((generation, connection))
            else:
                self._size -= 1
            self._lock.notify()
        if not keep:
            connection.close()

    def _discard(self, connection: psycopg.Connection[Any], *, stale_from: int) -> None:
        """Close a dead connection and every idle one at least as old (they share its fate, usually)."""
        with self._lock:
            stale = [(g, c) for g, c in self._idle if g <= stale_from]
            self._idle = [(g, c) for g, c in self._idle if g > stale_from]
            self._size -= 1 + len(stale)
            if self._generation <= stale_from:
                self._generation = stale_from + 1
            self._lock.notify_all()
        connection.close()
        for _generation, idle in stale:
            idle.close()


def _dead(connection: psycopg.Connection[Any]) -> bool:
    return connection.closed or connection.broken


def _reusable(connection: psycopg.Connection[Any]) -> bool:
    """Alive and idle outside any transaction (not, say, interrupted halfway through a statement)."""
    return not _dead(connection) and connection.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
