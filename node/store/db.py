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
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from sqlalchemy import event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Dialect, Engine, make_url
from sqlalchemy.engine.url import URL
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import ClauseElement, Executable
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import UpdateBase
from sqlmodel import Session, create_engine

from node.store import models  # noqa: F401  (registers the tables)
from node.store.files import private_sqlite

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


# The writers' own SQLite connection (see Store): a page cache that keeps the hot pages of the deltas
# table's indexes (SQLite's default is 2 MB), and a checkpoint every 10,000 WAL pages instead of every
# 1,000, so pages that every writer group dirties again (each customer's newest page in the chain
# index, the table's last pages) are copied back to the database file once per several groups.
# Measured on the recorder at 1,000,000 deltas: the insert and commit ~25% cheaper (issue 21).
WRITER_CACHE_KIB = 64 * 1024
WRITER_CHECKPOINT_PAGES = 10_000


def _configure_sqlite(engine: Engine, busy_timeout_ms: int, *, writer: bool = False) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        if writer:
            cursor.execute(f"PRAGMA cache_size=-{WRITER_CACHE_KIB}")
            cursor.execute(f"PRAGMA wal_autocheckpoint={WRITER_CHECKPOINT_PAGES}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Writers take the write lock up front; readers get a snapshot and never block writers; a
        # single-statement read (Store.read_one) needs no transaction at all: no BEGIN, no ROLLBACK.
        options = connection.get_execution_options()
        if options.get("pacspace_single_statement", False):
            return
        connection.exec_driver_sql("BEGIN IMMEDIATE" if options.get("pacspace_immediate", False) else "BEGIN")


def dialect_insert(backend: str, table: Any) -> Any:
    """The INSERT construct of ``backend`` ("sqlite" or "postgresql"), with its ON CONFLICT clauses."""
    return postgresql.insert(table) if backend == "postgresql" else sqlite.insert(table)


# statement id -> (the statement, kept so its id is not reused; {(dialect, paramstyle): compiled form})
_DRIVER_SQL: dict[int, tuple[ClauseElement, dict[tuple[str, str], DriverSql]]] = {}
_DRIVER_SQL_LIMIT = 256


@dataclass(frozen=True)
class DriverSql:
    """A statement as its driver takes it: the SQL text, the parameter names in positional order (None
    for a named paramstyle), and the values of parameters the statement itself binds."""

    text: str
    positions: Sequence[str] | None
    defaults: Mapping[str, Any]

    def positional(self, values: Mapping[str, Any]) -> tuple[Any, ...]:
        assert self.positions is not None
        return tuple(values[name] if name in values else self.defaults[name] for name in self.positions)


def driver_sql(dialect: Dialect, statement: ClauseElement) -> DriverSql:
    """``statement`` compiled once per backend and paramstyle (kept by the statement's identity, so
    only module-level constants belong here)."""
    entry = _DRIVER_SQL.get(id(statement))
    if entry is None or entry[0] is not statement:
        entry = (statement, {})
        if len(_DRIVER_SQL) < _DRIVER_SQL_LIMIT:  # a statement built per call is compiled, not kept
            _DRIVER_SQL[id(statement)] = entry
    key = (dialect.name, dialect.paramstyle)
    found = entry[1].get(key)
    if found is None:
        compiled = cast("SQLCompiler", statement.compile(dialect=dialect))
        found = DriverSql(str(compiled), compiled.positiontup, dict(compiled.params))
        entry[1][key] = found
    return found


def execute_many(connection: Connection, statement: UpdateBase, rows: Sequence[Mapping[str, Any]]) -> None:
    """Run ``statement`` once per mapping of ``rows`` in one driver executemany, the values as they are.

    SQLAlchemy's executemany of a Core statement processes every value of every row in Python, which
    for the anchoring job's 10,000-row updates cost more than the database's own work; here the
    statement is compiled once per backend and the values go straight to the driver. So the values
    must be what the driver takes (str, int, bytes, None): no type conversion happens. ``statement``
    is a module-level constant (its compiled form is kept by identity).
    """
    sql = driver_sql(connection.dialect, statement)
    if sql.positions is None:
        connection.exec_driver_sql(sql.text, [{**sql.defaults, **row} for row in rows])
    else:
        connection.exec_driver_sql(sql.text, [sql.positional(row) for row in rows])


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
                private_sqlite(Path(parsed.database))  # 0700 directory, 0600 file, or a warning
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": busy_timeout_ms / 1000}
        else:
            kwargs.update(
                pool_size=pool_size,
                # With the per-request reads on their own engine (below), this one needs fewer in
                # bursts: pool_size more, so a process opens at most 3 x pool_size connections.
                max_overflow=pool_size,
                pool_pre_ping=True,
                pool_timeout=max(1.0, busy_timeout_ms / 1000),
                connect_args={"connect_timeout": 10, "application_name": "pacspace-node"},
            )
        self.engine = create_engine(parsed, **kwargs)
        self._write_engine: Engine = self.engine
        self._writes: Engine | None = None
        if self.is_sqlite:
            _configure_sqlite(self.engine, busy_timeout_ms)
            writes = self.engine
            if parsed.database not in (None, "", ":memory:"):
                # Writers are serialised by _write_lock, so one connection of their own serves them all
                # and only it carries the large page cache (WRITER_CACHE_KIB).
                writes = self._writes = create_engine(parsed, pool_size=1, max_overflow=0, **kwargs)
                _configure_sqlite(writes, busy_timeout_ms, writer=True)
            self._write_engine = writes.execution_options(pacspace_immediate=True)
        self._write_lock = threading.Lock() if self.is_sqlite else None
        # Single-statement reads (read_one) run outside any transaction. SQLite: the same pool, with
        # the BEGIN skipped. PostgreSQL: a second, smaller engine in autocommit mode (below).
        self._autocommit: Engine | None = None
        self._read_engine: Engine = self.engine.execution_options(pacspace_single_statement=True)
        if self.is_postgresql:
            self._autocommit = _autocommit_engine(parsed, pool_size=pool_size, timeout=kwargs["pool_timeout"])
            self._read_engine = self._autocommit

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

    def read_one(self, statement: Executable, params: dict[str, Any] | None = None) -> Sequence[Any] | None:
        """The first row of a single-statement read (a Core select), outside any transaction.

        For the per-request reads (API key lookup, receipts, proofs). A single statement needs no
        explicit transaction: PostgreSQL runs it in one snapshot, at READ COMMITTED as every other
        statement here, so it costs one round trip instead of four (the pool's ping, BEGIN, the
        SELECT, ROLLBACK). There is no ping before use either: a read whose connection turns out to
        be dead (the server restarted, the connection was killed) makes the engine drop every
        connection opened before it, and runs once more on a new one; a read has no side effect, so
        repeating it is safe. If that fails too, the error propagates (the API answers 503).
        """
        try:
            return self._read(statement, params)
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
        return self._read(statement, params)  # once more, on a connection opened now

    def _read(self, statement: Executable, params: dict[str, Any] | None) -> Sequence[Any] | None:
        if self.is_sqlite and isinstance(statement, ClauseElement):
            return self._read_sqlite(statement, params or {})
        with self._read_engine.connect() as connection:
            return connection.execute(statement, params).first()

    def _read_sqlite(self, statement: ClauseElement, params: Mapping[str, Any]) -> Sequence[Any] | None:
        """SQLite: straight from a pooled connection's cursor. SQLAlchemy's Connection and Result cost
        ~100 us of CPU per read here, the indexed read itself ~6 (docs/PERFORMANCE.md, issue 21); the
        per-request reads return only text, numbers and bytes, which need no conversion. A driver
        error still arrives as SQLAlchemy's (an OperationalError answers 503)."""
        sql = driver_sql(self.engine.dialect, statement)
        values = sql.positional(params)
        connection = self.engine.pool.connect()
        try:
            cursor = connection.cursor()
            try:
                row: Sequence[Any] | None = cursor.execute(sql.text, values).fetchone()
            finally:
                cursor.close()
        except sqlite3.Error as exc:
            raise DBAPIError.instance(sql.text, values, exc, sqlite3.Error) from exc
        finally:
            connection.close()
        return row

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

    def close(self) -> None:
        if self._autocommit is not None:
            self._autocommit.dispose()
        if self._writes is not None:
            self._writes.dispose()
        self.engine.dispose()


def _autocommit_engine(url: URL, *, pool_size: int, timeout: float) -> Engine:
    """PostgreSQL connections for single-statement reads: autocommit, no ping, TCP keepalives."""
    return create_engine(
        url,
        isolation_level="AUTOCOMMIT",
        pool_size=pool_size,
        max_overflow=0,
        pool_pre_ping=False,
        pool_use_lifo=True,  # the most recently used first: after a restart the new connection serves
        pool_timeout=timeout,
        connect_args={
            "connect_timeout": 10,
            "application_name": "pacspace-node reads",
            # An idle connection whose server vanished is noticed before it is next used.
            "keepalives": 1,
            "keepalives_idle": 5,
            "keepalives_interval": 2,
            "keepalives_count": 3,
        },
    )
