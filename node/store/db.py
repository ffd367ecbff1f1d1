"""Engine and sessions, built from a URL by the caller (never at import time).

SQLite is opened in WAL mode with ``synchronous=FULL`` (an acknowledged delta survives a
power cut, not just a process crash) and every writer transaction begins IMMEDIATE, so two
writers never both read the same chain head. Within one process a lock serialises
writers first, which is cheaper than SQLite's busy-wait backoff. Read sessions begin DEFERRED.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, SQLModel, create_engine

from node.store import models  # noqa: F401  (registers the tables)


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


class SchemaOutdatedError(RuntimeError):
    """The database's tables predate this version of the node."""


class Store:
    """The database: an engine plus the write discipline around it."""

    def __init__(self, url: str, *, busy_timeout_ms: int = 10_000) -> None:
        parsed = make_url(url)
        self.url = url
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        if self.is_sqlite and parsed.database not in (None, "", ":memory:"):
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs: dict[str, Any] = {}
        if self.is_sqlite:
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": busy_timeout_ms / 1000}
        self.engine = create_engine(url, **kwargs)
        if self.is_sqlite:
            _configure_sqlite(self.engine, busy_timeout_ms)
        self._write_engine = self.engine.execution_options(pacspace_immediate=True)
        self._write_lock = threading.Lock()
        # Hot-path SQL is written with ``?`` placeholders and adapted once per statement text.
        self._format_params = self.engine.dialect.paramstyle in ("format", "pyformat")
        self._sql_cache: dict[str, str] = {}

    def create_schema(self) -> None:
        """Create missing tables; refuse a database whose existing tables lack columns this node needs."""
        SQLModel.metadata.create_all(self.engine)
        inspector = inspect(self.engine)
        missing = [
            f"{table.name}.{column.name}"
            for table in SQLModel.metadata.sorted_tables
            for column in table.columns
            if column.name not in {c["name"] for c in inspector.get_columns(table.name)}
        ]
        if missing:
            raise SchemaOutdatedError(
                f"the database at {self.engine.url.render_as_string(hide_password=True)} was created by an older "
                f"version of PacSpace node and lacks {', '.join(missing)}; back it up and start from a new "
                "database (schema migrations arrive with `pacspace-node db upgrade`)"
            )

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session for reads (and for writes that need no chain-head serialisation)."""
        with Session(self.engine, expire_on_commit=False) as session:
            yield session

    @contextmanager
    def writer(self) -> Iterator[Session]:
        """A session that holds the process write lock for its whole life."""
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

        For the per-request hot path (API key lookup): an ORM session costs ~0.5 ms, a raw
        cursor on a pooled connection ~30 µs. A single statement needs no explicit transaction.
        """
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

    def lock_chains(self, session: Session, chains: list[tuple[str, str]]) -> None:
        """Serialise writers of these (tenant, customerId) chains until the transaction ends.

        SQLite's writer transaction is already exclusive, so this is a no-op there; other
        backends take transaction-scoped locks in a fixed order (no deadlock between writers).
        """
        if self.is_sqlite:
            return
        raise NotImplementedError("chain locks for this backend arrive with PostgreSQL support")

    def close(self) -> None:
        self.engine.dispose()
