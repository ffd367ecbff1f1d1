"""Engine and sessions, built from a URL by the caller (never at import time).

Two backends, one write discipline:

* **SQLite** (the zero-configuration default) is opened in WAL mode with ``synchronous=FULL``
  (an acknowledged delta survives a power cut, not just a process crash) and every writer
  transaction begins IMMEDIATE, so two writers never both read the same chain head. Within
  one process a lock serialises writers first, cheaper than SQLite's busy-wait backoff.
* **PostgreSQL** (``postgresql+psycopg://``) runs writers concurrently at READ COMMITTED.
  A writer that extends a customer's chain takes a transaction-scoped advisory lock on that
  chain first (:meth:`Store.lock_chains`), so writers in any number of processes extend it
  one at a time; the unique constraints on (tenant, referenceId) and (tenant, customer,
  index) refuse whatever slips past anyway.

Schema changes are Alembic migrations (``node/store/migrations``): :mod:`node.store.migrate` creates,
upgrades and checks a database's schema (``upgrade(store)``, ``ensure_current(store)``).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.engine.url import URL
from sqlmodel import Session, create_engine

from node.store import models  # noqa: F401  (registers the tables)
from node.store.reads import AutocommitReads

SUPPORTED = ("sqlite", "postgresql")


class UnsupportedDatabase(ValueError):
    """The database URL names a backend the node does not run on."""


def normalise_url(url: str) -> URL:
    """Accept ``postgres://`` and ``postgresql://`` (as hosting providers hand them out) as psycopg 3."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend not in SUPPORTED:
        raise UnsupportedDatabase(
            f"database URL {parsed.render_as_string(hide_password=True)!r}: the node runs on SQLite "
            "(sqlite:///path/to/file.db) or PostgreSQL (postgresql+psycopg://user:password@host/db)"
        )
    if backend == "postgresql" and parsed.get_driver_name() != "psycopg":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def _configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Writers take the write lock up front; readers get a snapshot and never block writers.
        immediate = connection.get_execution_options().get("pacspace_immediate", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def dialect_insert(backend: str, table: Any) -> Any:
    """The INSERT construct of ``backend`` ("sqlite" or "postgresql"), with its ON CONFLICT clauses."""
    return postgresql.insert(table) if backend == "postgresql" else sqlite.insert(table)


def advisory_key(*parts: str) -> int:
    """A signed 64-bit key for ``pg_advisory_*lock`` naming these strings (stable across processes)."""
    digest = hashlib.blake2b("\x00".join(parts).encode(), digest_size=8, person=b"pacspace-lock").digest()
    return int.from_bytes(digest, "big", signed=True)


# Each key's lock in ascending key order, in one statement (see Store.lock_chains).
_LOCK_CHAINS = text("SELECT pg_advisory_xact_lock(k) FROM unnest(CAST(:keys AS bigint[])) AS k ORDER BY k")


class SchemaOutdatedError(RuntimeError):
    """The database's schema is not the one this version of the node needs."""


class Store:
    """The database: an engine plus the write discipline around it."""

    def __init__(self, url: str, *, busy_timeout_ms: int = 10_000, pool_size: int = 10) -> None:
        parsed = normalise_url(url)
        self.url = parsed.render_as_string(hide_password=False)
        self.backend = parsed.get_backend_name()
        self.is_sqlite = self.backend == "sqlite"
        self.is_postgresql = self.backend == "postgresql"
        kwargs: dict[str, Any] = {}
        if self.is_sqlite:
            if parsed.database not in (None, "", ":memory:"):
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": busy_timeout_ms / 1000}
        else:
            kwargs.update(
                pool_size=pool_size,
                # With the per-request reads on their own connections (below), the engine needs
                # fewer in bursts: pool_size more, so a process still opens at most 3 x pool_size.
                max_overflow=pool_size,
                pool_pre_ping=True,
                pool_timeout=max(1.0, busy_timeout_ms / 1000),
                connect_args={"connect_timeout": 10, "application_name": "pacspace-node"},
            )
        self.engine = create_engine(parsed, **kwargs)
        self._write_engine: Engine = self.engine
        if self.is_sqlite:
            _configure_sqlite(self.engine, busy_timeout_ms)
            self._write_engine = self.engine.execution_options(pacspace_immediate=True)
        self._write_lock = threading.Lock() if self.is_sqlite else None
        # Hot-path SQL is written with ``?`` placeholders and adapted once per statement text.
        self._format_params = self.engine.dialect.paramstyle in ("format", "pyformat")
        self._sql_cache: dict[str, str] = {}
        self._reads: AutocommitReads | None = None
        if self.is_postgresql:
            self._reads = AutocommitReads(
                self._autocommit_connection, max_size=pool_size, timeout=max(1.0, busy_timeout_ms / 1000)
            )

    def describe(self) -> str:
        """The URL without its password (for logs and messages)."""
        return self.engine.url.render_as_string(hide_password=True)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session for reads (and for writes that need no chain-head serialisation)."""
        with Session(self.engine, expire_on_commit=False) as session:
            yield session

    @contextmanager
    def writer(self) -> Iterator[Session]:
        """A session for writes. On SQLite it holds the process write lock for its whole life."""
        if self._write_lock is None:
            with Session(self._write_engine, expire_on_commit=False) as session:
                yield session
            return
        with self._write_lock, Session(self._write_engine, expire_on_commit=False) as session:
            yield session

    def sql(self, statement: str) -> str:
        """``statement`` with its ``?`` placeholders in the driver's own style (for raw cursors)."""
        adapted = self._sql_cache.get(statement)
        if adapted is None:
            adapted = statement.replace("?", "%s") if self._format_params else statement
            self._sql_cache[statement] = adapted
        return adapted

    def read_one(self, statement: str, params: tuple[Any, ...]) -> tuple[Any, ...] | None:
        """One row of a single-statement read, straight from the driver.

        For the per-request hot path (API key lookup, receipts, proofs): an ORM session costs
        ~0.5 ms, a raw cursor on a pooled connection ~30 µs on SQLite. A single statement needs no
        explicit transaction; on PostgreSQL it runs on an autocommit connection in one round trip
        (:mod:`node.store.reads`).
        """
        if self._reads is not None:
            return self._reads.read_one(self.sql(statement), params)
        connection = self.engine.raw_connection()
        try:
            cursor = connection.cursor()
            try:
                cursor.execute(self.sql(statement), params)
                row = cursor.fetchone()
            finally:
                cursor.close()
        finally:
            connection.close()
        return None if row is None else tuple(row)

    def lock_chains(self, session: Session, chains: Iterable[tuple[str, str]]) -> None:
        """Serialise writers of these (tenant, customerId) chains until the transaction ends.

        SQLite's writer transaction is already exclusive, so this is a no-op there. PostgreSQL
        takes transaction-scoped advisory locks in ascending key order, so two writers that
        lock overlapping sets never deadlock, all in one statement (one round trip, not one per
        chain). Order: since 9.6 PostgreSQL evaluates a volatile output expression that ORDER BY
        does not reference after the sort (the SELECT reference page, "SELECT List"), so the
        locks are taken row by row in key order; the array is sent sorted as well, and a test
        checks the order against a real server.
        """
        if self.is_sqlite:
            return
        keys = sorted({advisory_key("chain", tenant, customer) for tenant, customer in chains})
        if keys:
            session.execute(_LOCK_CHAINS, {"keys": keys})

    def insert(self, table: Any) -> Any:
        """This backend's INSERT construct (both have ``on_conflict_do_nothing/_do_update``)."""
        return dialect_insert(self.backend, table)

    def _autocommit_connection(self) -> psycopg.Connection[Any]:
        """A new connection to this database in autocommit mode, outside the engine's pool."""
        cargs, cparams = self.engine.dialect.create_connect_args(self.engine.url)
        return psycopg.connect(
            *cargs,
            **{
                "connect_timeout": 10,
                "application_name": "pacspace-node reads",
                # An idle connection whose server vanished is noticed before it is next used.
                "keepalives": 1,
                "keepalives_idle": 5,
                "keepalives_interval": 2,
                "keepalives_count": 3,
                **cparams,
            },
            autocommit=True,
        )

    def close(self) -> None:
        if self._reads is not None:
            self._reads.close()
        self.engine.dispose()
