"""PostgreSQL's hot-path plumbing against a real server: one-round-trip reads that survive a
restart, and a writer group's chain locks taken in key order by one statement."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DataError, OperationalError, ResourceClosedError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from node.dev.chain import free_port
from node.dev.postgres import Postgres, start_postgres
from node.store.db import Store, advisory_key
from node.store.keys import create_api_key, get_key_credentials
from node.store.migrate import upgrade
from tests.support import wait_until


@pytest.fixture
def own_cluster() -> Iterator[Postgres]:
    """A cluster of this test's own: these tests stop and start the server (immediately, as a crash
    would: with fsync on, so committed rows survive it)."""
    cluster = start_postgres(free_port(), durable=True)
    yield cluster
    cluster.stop()


def _waiting_on_advisory_locks(cluster: Postgres) -> int:
    with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted").fetchone()
    assert row is not None
    return int(row[0])


def _read_connections(cluster: Postgres, database: str) -> int:
    """Server-side connections the store opened for single-statement reads."""
    with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND application_name = 'pacspace-node reads'",
            (database,),
        ).fetchone()
    assert row is not None
    return int(row[0])


@pytest.fixture
def reads_store(own_cluster: Postgres) -> Iterator[Store]:
    store = Store(own_cluster.create_database("reads"), pool_size=3, busy_timeout_ms=1000)
    yield store
    store.close()


def _fill_with_idle_connections(store: Store, cluster: Postgres, count: int) -> None:
    """``count`` idle pooled read connections: as many reads held at once behind a lock the test holds."""
    with psycopg.connect(cluster.dsn("reads"), autocommit=True) as blocker:
        blocker.execute("SELECT pg_advisory_lock(7)")
        failures: list[BaseException] = []

        def read() -> None:
            try:
                store.read_one(text("SELECT pg_advisory_xact_lock_shared(7)"))
            except BaseException as exc:  # a failing thread fails the test below
                failures.append(exc)

        threads = [threading.Thread(target=read) for _ in range(count)]
        for thread in threads:
            thread.start()
        wait_until(lambda: _waiting_on_advisory_locks(cluster) == count, f"{count} blocked reads")
        blocker.execute("SELECT pg_advisory_unlock(7)")
        for thread in threads:
            thread.join()
    assert failures == []
    assert _read_connections(cluster, "reads") == count


def _one(store: Store, statement: str, **params: object) -> object:
    row = store.read_one(text(statement), params)
    assert row is not None
    return row[0]


def test_a_read_after_a_postgresql_restart_recovers_on_a_new_connection(
    own_cluster: Postgres, reads_store: Store
) -> None:
    _fill_with_idle_connections(reads_store, own_cluster, 3)
    own_cluster.stop_server()  # immediate: every pooled connection is now dead
    own_cluster.start_server()
    assert _one(reads_store, "SELECT CAST(:n AS int) + 1", n=41) == 42
    assert _one(reads_store, "SELECT 2") == 2
    # The dead connection's idle peers were dropped with it, not found dead one read at a time.
    assert _read_connections(own_cluster, "reads") == 1


def test_a_read_while_postgresql_is_down_raises_and_the_next_one_after_it_returns_succeeds(
    own_cluster: Postgres, reads_store: Store
) -> None:
    assert _one(reads_store, "SELECT 1") == 1
    own_cluster.stop_server()
    with pytest.raises(OperationalError):  # the API answers 503 (node.api.problems)
        reads_store.read_one(text("SELECT 1"))
    own_cluster.start_server()
    assert _one(reads_store, "SELECT 1") == 1


def test_an_error_in_the_statement_keeps_the_connection_and_is_not_retried(
    own_cluster: Postgres, reads_store: Store
) -> None:
    with pytest.raises(DataError):  # division by zero
        reads_store.read_one(text("SELECT 1 / 0"))
    assert _one(reads_store, "SELECT 3") == 3  # autocommit: no aborted transaction left behind
    assert _read_connections(own_cluster, "reads") == 1


def test_a_connection_left_inside_a_transaction_is_rolled_back_before_reuse(reads_store: Store) -> None:
    with pytest.raises(ResourceClosedError):  # BEGIN returns no row, and leaves a transaction open
        reads_store.read_one(text("BEGIN"))
    assert _one(reads_store, "SELECT now() = statement_timestamp()") is True  # not inside that BEGIN


def test_a_read_waits_for_a_free_connection_and_gives_up_after_the_timeout(own_cluster: Postgres) -> None:
    store = Store(own_cluster.create_database("small"), pool_size=1, busy_timeout_ms=1000)
    try:
        with psycopg.connect(own_cluster.dsn("small"), autocommit=True) as blocker:
            blocker.execute("SELECT pg_advisory_lock(8)")
            held = threading.Thread(target=store.read_one, args=(text("SELECT pg_advisory_xact_lock_shared(8)"),))
            held.start()
            wait_until(lambda: _waiting_on_advisory_locks(own_cluster) == 1, "the blocked read")
            started = time.monotonic()
            with pytest.raises(PoolTimeout):
                store.read_one(text("SELECT 1"))
            assert time.monotonic() - started >= 0.9  # it waited for the pool timeout (1 s) first
            blocker.execute("SELECT pg_advisory_unlock(8)")
            held.join()
        assert _one(store, "SELECT 1") == 1
    finally:
        store.close()


def _round_trips(trace: Path) -> int:
    """Client messages that end a round trip (a simple Query, or Sync after an extended query)."""
    return sum(1 for line in trace.read_text().splitlines() if re.search(r"\tF\t\d+\t(Query|Sync)\b", line))


def test_the_key_lookup_through_the_store_is_one_round_trip_and_survives_a_restart(
    own_cluster: Postgres, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = own_cluster.create_database("reads")
    store = Store(url, pool_size=2)
    trace = (tmp_path / "libpq.trace").open("w")
    connect = psycopg.connect

    def traced(*args: Any, **kwargs: Any) -> psycopg.Connection[Any]:
        conn = connect(*args, **kwargs)
        conn.pgconn.trace(trace.fileno())
        return conn

    try:
        upgrade(store)
        with store.writer() as session:
            row, _token = create_api_key(session=session, tenant="t", name="k", scopes=["read"])
        monkeypatch.setattr(psycopg, "connect", traced)
        assert get_key_credentials(store, row.id) is not None  # opens the read connection
        trace.flush()
        before = _round_trips(tmp_path / "libpq.trace")
        for _ in range(20):
            found = get_key_credentials(store, row.id)
            assert found is not None and found.tenant == "t"
        trace.flush()
        # One per read (the driver prepares the statement on its fifth use: at most one more).
        assert _round_trips(tmp_path / "libpq.trace") - before <= 21
        own_cluster.stop_server()
        own_cluster.start_server()
        found = get_key_credentials(store, row.id)  # no error: the dead connection is replaced
        assert found is not None and found.id == row.id
    finally:
        store.close()
        trace.close()


def _advisory_locks(conn: psycopg.Connection[Any], pid: int) -> tuple[list[int], list[int]]:
    """(granted, waiting) bigint advisory lock keys of backend ``pid``, each sorted."""
    rows = conn.execute(
        "SELECT (classid::bigint << 32) | objid::bigint, granted FROM pg_locks "
        "WHERE locktype = 'advisory' AND objsubid = 1 AND pid = %s",
        (pid,),
    ).fetchall()
    # (classid << 32) | objid in bigint arithmetic is the signed key pg_advisory_*lock(bigint) was given.
    return sorted(int(k) for k, g in rows if g), sorted(int(k) for k, g in rows if not g)


def test_a_writer_locks_every_chain_in_key_order_with_one_statement(own_cluster: Postgres) -> None:
    store = Store(own_cluster.create_database("locks"))
    chains = [("t", f"customer-{i}") for i in range(7)]
    keys = sorted(advisory_key("chain", tenant, customer) for tenant, customer in chains)
    middle = keys[3]
    held_inside: list[list[int]] = []
    pids: list[int] = []

    def writer() -> None:
        with store.writer() as session:
            pids.append(int(session.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar_one()))
            store.lock_chains(session, [*reversed(chains), chains[0]])  # any order, duplicates: same locks
            with psycopg.connect(own_cluster.dsn("locks"), autocommit=True) as observer:
                held_inside.append(_advisory_locks(observer, pids[0])[0])
            session.commit()

    try:
        with psycopg.connect(own_cluster.dsn("locks"), autocommit=True) as blocker:  # advisory locks are per database
            blocker.execute("SELECT pg_advisory_lock(%s)", (middle,))
            thread = threading.Thread(target=writer)
            thread.start()
            wait_until(lambda: _waiting_on_advisory_locks(own_cluster) == 1, "the writer to block")
            granted, waiting = _advisory_locks(blocker, pids[0])
            query = blocker.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", (pids[0],)).fetchone()
            blocker.execute("SELECT pg_advisory_unlock(%s)", (middle,))
            thread.join()
        assert granted == keys[:3], "the keys below the held one are locked first, the ones above not yet"
        assert waiting == [middle]
        assert query is not None and "unnest" in query[0], "all of them in one statement"
        assert held_inside == [keys]
        with psycopg.connect(own_cluster.dsn(), autocommit=True) as after:
            assert _advisory_locks(after, pids[0]) == ([], []), "released when the transaction ends"
    finally:
        store.close()
