"""Leader election: exactly one process at a time runs the anchoring job.

* PostgreSQL: a session-level advisory lock held on a connection of its own. The server
  releases it the moment that connection ends (process killed, host gone once TCP
  keepalives notice), and a standby's next attempt takes it.
* SQLite: an exclusive ``flock`` on a file beside the database, released by the kernel when
  the process dies. (An in-memory database has one process by definition.)

Holding the lock is what makes a process the leader; it is re-checked before every cycle.
The contract's ``startIndex == nextIndex`` rule and the database's unique log indexes stay
the last line of defence should two ever overlap.
"""

from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path
from typing import Protocol

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from node.store.db import Store, advisory_key

log = logging.getLogger("pacspace.leader")


class Leadership(Protocol):
    def hold(self) -> bool:
        """True while this process leads; tries to become the leader when it does not."""
        ...

    def release(self) -> None: ...


class PostgresLeadership:
    def __init__(self, store: Store, name: str) -> None:
        self.key = advisory_key("leader", name)
        # Its own engine without a pool: the lock's connection must never be handed to anyone else.
        self._engine = create_engine(
            store.engine.url,
            poolclass=NullPool,
            connect_args={
                "connect_timeout": 5,
                "application_name": f"pacspace-node {name} leader",
                "keepalives": 1,
                "keepalives_idle": 5,
                "keepalives_interval": 2,
                "keepalives_count": 3,
            },
        )
        self._connection: Connection | None = None

    def hold(self) -> bool:
        if self._connection is not None:
            try:
                self._connection.execute(text("SELECT 1"))
                self._connection.commit()
                return True
            except DBAPIError:
                log.warning("lost the leader lock's database connection; leadership lost")
                self._drop()
        try:
            connection = self._engine.connect()
        except DBAPIError:
            return False
        try:
            acquired = bool(connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key}).scalar())
            connection.commit()
        except DBAPIError:
            connection.close()
            return False
        if not acquired:
            connection.close()
            return False
        self._connection = connection
        return True

    def _drop(self) -> None:
        if self._connection is not None:
            try:
                self._connection.invalidate()
                self._connection.close()
            except DBAPIError:
                pass
            self._connection = None

    def release(self) -> None:
        if self._connection is not None:
            try:
                self._connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
                self._connection.commit()
            except DBAPIError:
                pass
            self._connection.close()
            self._connection = None
        self._engine.dispose()


class FileLeadership:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def hold(self) -> bool:
        if self._fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None


class SoleLeadership:
    """An in-memory database: this process is the only one there can be."""

    def hold(self) -> bool:
        return True

    def release(self) -> None:
        return None


def leadership_for(store: Store, name: str = "anchoring") -> Leadership:
    if store.is_postgresql:
        return PostgresLeadership(store, name)
    database = store.engine.url.database
    if database in (None, "", ":memory:"):
        return SoleLeadership()
    return FileLeadership(Path(f"{database}.{name}.lock"))
