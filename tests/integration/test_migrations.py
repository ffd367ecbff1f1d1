"""Schema migrations on real SQLite files and a real PostgreSQL: created, checked, adopted, refused."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlmodel import SQLModel

from node.store.db import SchemaOutdatedError, Store, UnsupportedDatabase
from node.store.migrate import current_revision, ensure_current, head_revision, upgrade
from node.store.models import DeltaRow
from tests.conftest import BOTH_BACKENDS, REPO, new_database
from tests.support import sql


@pytest.fixture
def empty_url(request: pytest.FixtureRequest, db_backend: str, tmp_path: Path) -> str:
    """A database with no tables at all (not the migrated template)."""
    if db_backend == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.db'}"
    cluster = request.getfixturevalue("postgres")
    return str(cluster.create_database(f"e_{os.urandom(6).hex()}"))


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "node.cli", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, **(env or {})},
        timeout=60,
    )


@BOTH_BACKENDS
def test_the_models_and_the_migrations_describe_the_same_schema(empty_url: str) -> None:
    store = Store(empty_url)
    upgrade(store)
    with store.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    store.close()
    assert differences == [], "models changed without a migration: write one (docs/DEPLOYMENT.md, 'Migrations')"


@BOTH_BACKENDS
def test_an_empty_database_is_created_at_the_newest_revision_by_any_of_several_processes_at_once(
    empty_url: str,
) -> None:
    errors: list[BaseException] = []
    stores = [Store(empty_url) for _ in range(4)]

    def start(store: Store) -> None:
        try:
            ensure_current(store)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert current_revision(stores[0]) == head_revision()
    assert sql(empty_url, "select count(*) from alembic_version") == [(1,)]
    for store in stores:
        store.close()


@BOTH_BACKENDS
def test_a_database_at_a_revision_this_node_does_not_know_is_refused(db_url: str) -> None:
    upgrade(Store(db_url))
    sql(db_url, "update alembic_version set version_num = '9999'")
    store = Store(db_url)
    with pytest.raises(SchemaOutdatedError, match=r"revision 9999, which this version .* does not know"):
        ensure_current(store)
    store.close()


def _at_revision(url: str, revision: str) -> None:
    from alembic import command

    from node.store.migrate import _config

    store = Store(url)
    with store.engine.connect() as connection:
        command.upgrade(_config(connection), revision)
        connection.commit()
    store.close()


@BOTH_BACKENDS
def test_a_database_at_an_older_revision_is_refused_until_db_upgrade_keeps_its_rows(empty_url: str) -> None:
    _at_revision(empty_url, "0001")
    sql(empty_url, "insert into tenants (id, name, created_at) values ('kept', 'kept', 1)")
    store = Store(empty_url)
    with pytest.raises(
        SchemaOutdatedError, match=rf"at schema revision 0001 but this node needs {head_revision()}.*db upgrade"
    ):
        ensure_current(store)
    assert upgrade(store) == ("0001", head_revision())
    ensure_current(store)
    store.close()
    assert sql(empty_url, "select name from tenants") == [("kept",)]


@BOTH_BACKENDS
def test_a_database_from_before_migrations_is_refused_until_db_upgrade_adopts_it(empty_url: str) -> None:
    _at_revision(empty_url, "0001")  # what the node created before it had migrations
    sql(empty_url, "drop table alembic_version")
    store = Store(empty_url)
    with pytest.raises(SchemaOutdatedError, match=r"created before schema migrations.*pacspace-node db upgrade"):
        ensure_current(store)
    before, after = upgrade(store)
    assert (before, after) == (None, head_revision())
    ensure_current(store)
    with store.session() as session:
        assert session.get(DeltaRow, 1) is None  # the tables are usable
    store.close()


def test_a_pre_migration_database_missing_columns_is_refused_naming_them(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    sql(url, "create table api_keys (id text primary key, tenant text)")
    store = Store(url)
    with pytest.raises(SchemaOutdatedError, match=r"lacks table batches.*column api_keys\.name"):
        upgrade(store)
    assert sql(url, "select name from sqlite_master where name = 'alembic_version'") == []  # nothing changed
    store.close()


def test_db_upgrade_and_db_current_from_the_command_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    current = _cli("db", "--database-url", url, "current")  # no such file: refused, not created empty
    assert current.returncode == 2 and "no database at" in current.stderr
    assert not (tmp_path / "cli.db").exists()
    upgraded = _cli("db", "upgrade", env={"PACSPACE_DATABASE_URL": url})
    assert upgraded.returncode == 0, upgraded.stderr
    assert f"upgraded from an empty database to schema revision {head_revision()}" in upgraded.stdout
    again = _cli("db", "--database-url", url, "upgrade")
    assert "already at schema revision" in again.stdout
    assert _cli("db", "--database-url", url, "current").returncode == 0


def test_serve_refuses_an_outdated_database_with_the_command_that_fixes_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'serve.db'}"
    upgrade(Store(url))
    sql(url, "drop table alembic_version")
    served = _cli(
        "serve",
        env={
            "PACSPACE_DATABASE_URL": url,
            "PACSPACE_CHAIN_ID": "31337",
            "PACSPACE_CONTRACT_ADDRESS": "0x" + "11" * 20,
            "PACSPACE_SIGNER_KEY": "0x" + "22" * 32,
        },
    )
    assert served.returncode == 2
    assert "error: the database at" in served.stderr and "pacspace-node db upgrade" in served.stderr
    assert "Traceback" not in served.stderr


def test_unsupported_database_urls_are_refused_by_name() -> None:
    with pytest.raises(UnsupportedDatabase, match=r"runs on SQLite .* or PostgreSQL"):
        Store("mysql://user@localhost/pacspace")


def test_postgres_urls_from_hosting_providers_use_psycopg(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    url = new_database(request, "postgresql", tmp_path)
    plain = url.replace("postgresql+psycopg://", "postgres://")
    store = Store(plain)
    assert store.engine.dialect.driver == "psycopg"
    ensure_current(store)
    store.close()


def test_db_revision_writes_the_next_numbered_migration_from_the_models(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    from node.store import migrate

    scratch = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS, scratch, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(migrate, "MIGRATIONS", scratch)
    store = Store(f"sqlite:///{tmp_path / 'scratch.db'}")
    written = Path(migrate.new_revision(store, "nothing changed"))
    store.close()
    number = len(list((scratch / "versions").glob("*.py")))
    assert written.name.startswith(f"{number:04d}_nothing_changed")
    text = written.read_text()
    assert f"down_revision = '{number - 1:04d}'" in text
    upgrade_body = text.split("def upgrade() -> None:", 1)[1].split("def downgrade", 1)[0]
    assert [
        line.strip() for line in upgrade_body.splitlines() if line.strip() and not line.strip().startswith("#")
    ] == ["pass"]  # the models match the newest revision: nothing to do


@BOTH_BACKENDS
def test_upgrading_to_0004_records_each_existing_delta_s_signer(empty_url: str) -> None:
    """Receipts name the key that signed them; rows from before 0004 get the address their signature recovers to."""
    from node.core.signing import Signer
    from node.dev.chain import DEV_ANCHORER_KEY

    signer = Signer(bytes.fromhex(DEV_ANCHORER_KEY[2:]))
    _at_revision(empty_url, "0003")
    store = Store(empty_url)
    with store.engine.begin() as connection:
        connection.execute(text("insert into tenants (id, name, created_at) values ('t', 't', 1)"))
        for index in range(3):
            fingerprint = bytes([index + 1]) * 32
            connection.execute(
                text(
                    "insert into deltas (receipt_id, tenant, customer_id, reference_id, amount, reason, "
                    "metadata_hash, customer_index, prev_fingerprint, recorded_at, salt, fingerprint, signature, "
                    "request_hash, status, corrects, running_total) values (:r, 't', 'c', :r, '1', 'x', :z, :i, :z, "
                    "1, :z, :f, :s, :z, 'pending', :z, '1')"
                ),
                {
                    "r": f"rcpt_{index}",
                    "z": bytes(32),
                    "i": index,
                    "f": fingerprint,
                    "s": signer.sign_digest(fingerprint),
                },
            )
    assert upgrade(store) == ("0003", head_revision())
    store.close()
    rows = sql(empty_url, "select receipt_id, signer from deltas order by receipt_id")
    assert [(receipt, bytes(address)) for receipt, address in rows] == [(f"rcpt_{i}", signer.address) for i in range(3)]


@BOTH_BACKENDS
def test_upgrading_to_0009_keeps_every_delta_s_status_as_its_batch_s_and_downgrading_writes_it_back(
    empty_url: str,
) -> None:
    """0009 drops ``deltas.status``: a receipt's status comes from its batch, and shows what 0008 stored."""
    from alembic import command

    from node.core.typed_data import Domain
    from node.ledger.receipts import ReceiptReader, receipt_json
    from node.store.migrate import _config

    _at_revision(empty_url, "0008")
    batches = {1: "verified", 2: "anchored", 3: "sent", 4: "prepared"}
    stored = {"rcpt_1": "verified", "rcpt_2": "anchored", "rcpt_3": "pending", "rcpt_4": "pending", "rcpt_5": "pending"}
    sql(empty_url, "insert into tenants (id, name, created_at) values ('t', 't', 1)")
    for batch_id, status in batches.items():
        sql(
            empty_url,
            "insert into batches (id, start_index, count, root, status, created_at, tx_hash, block_number, "
            "block_hash, onchain_batch_id) values (:id, :id, 1, :z, :s, 1, :z, 7, :z, :id)",
            {"id": batch_id, "s": status, "z": bytes(32)},
        )
    for index, (receipt_id, status) in enumerate(stored.items(), start=1):
        sql(
            empty_url,
            "insert into deltas (receipt_id, tenant, customer_id, reference_id, amount, reason, metadata_hash, "
            "customer_index, prev_fingerprint, recorded_at, salt, fingerprint, signature, request_hash, status, "
            "log_index, batch_id, corrects, running_total, signer) values (:r, 't', 'c', :r, '1', 'x', :z, :i, :z, "
            "1, :z, :z, :z, :z, :s, :log, :b, :z, '1', :z)",
            {
                "r": receipt_id,
                "z": bytes(32),
                "i": index,
                "s": status,
                "log": index if index in batches else None,
                "b": index if index in batches else None,
            },
        )
    store = Store(empty_url)
    assert upgrade(store) == ("0008", head_revision())
    assert "status" not in {column["name"] for column in inspect(store.engine).get_columns("deltas")}
    reader = ReceiptReader(store=store, domain=Domain(31337, bytes(20)))
    shown = {}
    for receipt_id in stored:
        row, batch = reader.get(tenant="t", receipt_id=receipt_id)
        shown[receipt_id] = receipt_json(row, batch, head_block=None, confirmations_required=1)["status"]
    assert shown == stored
    with store.engine.connect() as connection:
        command.downgrade(_config(connection), "0008")
        connection.commit()
    store.close()
    assert dict(sql(empty_url, "select receipt_id, status from deltas")) == stored
