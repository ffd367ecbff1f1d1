"""Schema migrations (Alembic), the same revisions for SQLite and PostgreSQL.

``pacspace-node db upgrade`` calls :func:`upgrade`; the node calls :func:`ensure_current` at
start, which creates the schema of an empty database and refuses any other revision than
the one it was built for, naming both and the command that fixes it. Upgrades hold a lock
(a PostgreSQL advisory lock; SQLite's write lock), so processes starting together against
one database migrate it once.

A database created before migrations existed (tables, no ``alembic_version``) is adopted as
the first revision when it has every column of that revision.
"""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Connection

from node.store.db import SchemaOutdatedError, Store, advisory_key

log = logging.getLogger("pacspace.migrations")
logging.getLogger("alembic").setLevel(logging.WARNING)  # its INFO lines describe plugins, not our data

MIGRATIONS = Path(__file__).with_name("migrations")
BASELINE = "0001"
VERSION_TABLE = "alembic_version"


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def known_revisions() -> set[str]:
    return {script.revision for script in ScriptDirectory.from_config(_config()).walk_revisions()}


def current_revision(store: Store) -> str | None:
    with store.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def _user_tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names()) - {VERSION_TABLE}


def _baseline_schema() -> dict[str, set[str]]:
    """Tables and their columns at the baseline revision (built in a scratch in-memory SQLite)."""
    scratch = create_engine("sqlite://")
    with scratch.connect() as connection:
        command.upgrade(_config(connection), BASELINE)
        inspector = inspect(connection)
        schema = {
            table: {column["name"] for column in inspector.get_columns(table)}
            for table in inspector.get_table_names()
            if table != VERSION_TABLE
        }
    scratch.dispose()
    return schema


def _adopt_legacy(connection: Connection, store: Store) -> None:
    """Stamp a pre-migration database as the baseline if it has every baseline column."""
    inspector = inspect(connection)
    tables = set(inspector.get_table_names())
    baseline = _baseline_schema()
    missing_tables = sorted(name for name in baseline if name not in tables)
    missing_columns = [
        f"{table}.{column}"
        for table, columns in sorted(baseline.items())
        if table in tables
        for column in sorted(columns - {c["name"] for c in inspector.get_columns(table)})
    ]
    if missing_tables or missing_columns:
        lacks = [f"table {name}" for name in missing_tables] + [f"column {name}" for name in missing_columns]
        raise SchemaOutdatedError(
            f"the database at {store.describe()} predates schema migrations and lacks {', '.join(lacks)}; "
            "it cannot be migrated automatically: back it up and start from a new database"
        )
    command.stamp(_config(connection), BASELINE)


def upgrade(store: Store) -> tuple[str | None, str]:
    """Apply every pending migration. Returns (revision before, revision after)."""
    engine = store.engine if store.is_postgresql else store._write_engine  # SQLite: BEGIN IMMEDIATE
    with engine.connect() as connection:
        lock_key = advisory_key("pacspace", "schema-migrations")
        if store.is_postgresql:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": lock_key})
            connection.commit()
        try:
            before = MigrationContext.configure(connection).get_current_revision()
            if before is None and _user_tables(connection):
                _adopt_legacy(connection, store)
            command.upgrade(_config(connection), "head")
            connection.commit()
            after = MigrationContext.configure(connection).get_current_revision()
        finally:
            if store.is_postgresql:
                connection.rollback()
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": lock_key})
                connection.commit()
    assert after is not None
    if before != after:
        log.info("database schema upgraded", extra={"from_revision": before, "to_revision": after})
    return before, after


def new_revision(store: Store, message: str) -> str:
    """Generate the next migration from the difference between the models and ``store`` (at head)."""
    upgrade(store)
    number = len(known_revisions()) + 1
    with store.engine.connect() as connection:
        script = command.revision(_config(connection), message=message, autogenerate=True, rev_id=f"{number:04d}")
        connection.commit()
    assert script is not None and not isinstance(script, list)
    return str(script.path)


def ensure_current(store: Store) -> None:
    """Create an empty database's schema; accept the current revision; refuse anything else."""
    head = head_revision()
    with store.engine.connect() as connection:
        revision = MigrationContext.configure(connection).get_current_revision()
        empty = not _user_tables(connection)
    if revision == head:
        return
    if empty:
        upgrade(store)
        return
    where = f"the database at {store.describe()}"
    if revision is None:
        raise SchemaOutdatedError(
            f"{where} was created before schema migrations; back it up, then run `pacspace-node db upgrade`"
        )
    if revision not in known_revisions():
        raise SchemaOutdatedError(
            f"{where} is at schema revision {revision}, which this version of PacSpace node does not know "
            f"(its newest is {head}); run a newer node"
        )
    raise SchemaOutdatedError(
        f"{where} is at schema revision {revision} but this node needs {head}; back it up, then run "
        "`pacspace-node db upgrade`"
    )
