"""Group commit in the recorder, on a real SQLite file and a real PostgreSQL: many concurrent callers, one writer."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from node.core.deltas import ChainHead, validate_delta_request
from node.core.errors import Conflict
from node.core.signing import Signer, recover_signer
from node.core.typed_data import Domain, compute_fingerprint
from node.ledger import recording
from node.ledger.recording import Recorder
from node.store.db import Store
from node.store.deltas import (
    _BY_RECEIPT,  # the statement behind every receipt and proof read
    iter_customer_deltas,
)
from node.store.deltas import chain_heads as store_chain_heads
from node.store.keys import ensure_tenant
from node.store.migrate import upgrade
from node.store.models import DeltaRow
from tests.conftest import BOTH_BACKENDS
from tests.support import sql

SIGNER = Signer(bytes(range(1, 33)))
DOMAIN = Domain(31337, bytes(range(20)))


@pytest.fixture
def recorder(db_url: str) -> Iterator[Recorder]:
    store = Store(db_url)
    upgrade(store)
    with store.writer() as session:
        ensure_tenant(session=session, tenant="t")
        session.commit()
    rec = Recorder(store=store, domain=DOMAIN, signer=SIGNER)
    yield rec
    rec.close()
    store.close()


def _request(ref: str, customer: str = "c", delta: int = 1) -> Any:
    return validate_delta_request(customer_id=customer, delta=delta, reason="usage", reference_id=ref, metadata=None)


def _stored(recorder: Recorder, customer: str) -> list[DeltaRow]:
    return list(iter_customer_deltas(recorder.store.session, tenant="t", customer_id=customer))


@BOTH_BACKENDS
def test_concurrent_callers_build_gap_free_chains_and_every_acknowledged_delta_is_stored_as_answered(
    recorder: Recorder,
) -> None:
    answered: dict[str, Any] = {}
    lock = threading.Lock()

    def record(i: int) -> None:
        row, created = recorder.record(tenant="t", request=_request(f"r{i}", customer=f"c{i % 5}", delta=i + 1))
        assert created
        # Acknowledged means committed: another connection sees the row at once, exactly as answered.
        stored = sql(
            recorder.store.url, "select fingerprint, signature from deltas where receipt_id = :r", {"r": row.receipt_id}
        )
        assert [(bytes(f), bytes(s)) for f, s in stored] == [(row.fingerprint, row.signature)]
        with lock:
            answered[row.receipt_id] = row

    with ThreadPoolExecutor(max_workers=32) as pool:
        list(pool.map(record, range(400)))
    assert len(answered) == 400
    for customer in (f"c{k}" for k in range(5)):
        chain = _stored(recorder, customer)
        assert [row.customer_index for row in chain] == list(range(80))
        previous, total = b"\x00" * 32, 0
        for row in chain:
            assert row.prev_fingerprint == previous
            assert compute_fingerprint(DOMAIN, row.to_delta()) == row.fingerprint
            assert recover_signer(row.fingerprint, row.signature) == SIGNER.address
            total += int(row.amount)
            assert int(row.running_total) == total
            first = answered[row.receipt_id]
            assert (first.id, first.fingerprint, first.customer_index, first.amount) == (
                row.id,
                row.fingerprint,
                row.customer_index,
                row.amount,
            )
            previous = row.fingerprint


@BOTH_BACKENDS
def test_the_same_reference_retried_concurrently_is_one_delta(recorder: Recorder) -> None:
    def record(_i: int) -> tuple[str, bool]:
        row, created = recorder.record(tenant="t", request=_request("same", delta=7))
        return row.receipt_id, created

    with ThreadPoolExecutor(max_workers=32) as pool:
        results = list(pool.map(record, range(100)))
    assert len({receipt for receipt, _ in results}) == 1
    assert [created for _, created in results].count(True) == 1
    assert len(_stored(recorder, "c")) == 1


@BOTH_BACKENDS
def test_async_callers_share_transactions_and_get_their_own_outcomes(recorder: Recorder) -> None:
    async def main() -> list[Any]:
        calls = [recorder.record_async(tenant="t", request=_request(f"a{i}", delta=i + 1)) for i in range(50)]
        calls.append(recorder.record_async(tenant="t", request=_request("a3", delta=999)))  # conflicts with a3
        return await asyncio.gather(*calls, return_exceptions=True)

    results = asyncio.run(main())
    assert all(created for row, created in results[:50])
    assert isinstance(results[50], Conflict) and results[50].code == "reference_conflict"
    assert [row.customer_index for row, _created in results[:50]] == list(range(50))


@BOTH_BACKENDS
def test_record_many_keeps_request_order_duplicates_and_conflicts(recorder: Recorder) -> None:
    outcomes = recorder.record_many(
        tenant="t", requests=[_request("m0"), _request("m1"), _request("m0"), _request("m1", delta=2), _request("m2")]
    )
    assert [(o.created, o.error is None) for o in outcomes] == [
        (True, True),
        (True, True),
        (False, True),
        (False, False),
        (True, True),
    ]
    assert outcomes[2].row is not None and outcomes[0].row is not None
    assert outcomes[2].row.receipt_id == outcomes[0].row.receipt_id
    assert [row.reference_id for row in _stored(recorder, "c")] == ["m0", "m1", "m2"]


@BOTH_BACKENDS
def test_a_stale_chain_head_from_another_writer_is_refused_and_retried_per_delta(
    recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder.record(tenant="t", request=_request("first"))
    real = store_chain_heads
    stale = {"left": 1}

    def heads(*, session: Session, chains: Sequence[tuple[str, str]]) -> dict[tuple[str, str], ChainHead]:
        if stale["left"]:  # as if another process had written after this writer read the head
            stale["left"] -= 1
            return {}
        return real(session=session, chains=chains)

    monkeypatch.setattr(recording, "chain_heads", heads)
    outcomes = recorder.record_many(tenant="t", requests=[_request("second"), _request("third")])
    assert all(o.created for o in outcomes)
    assert [(row.reference_id, row.customer_index) for row in _stored(recorder, "c")] == [
        ("first", 0),
        ("second", 1),
        ("third", 2),
    ]


def test_a_refused_transaction_fails_only_its_callers_and_stores_nothing(recorder: Recorder) -> None:
    """SQLite: another connection holds the write lock (PostgreSQL's refusal is test_faults.py's)."""
    path = recorder.store.url.removeprefix("sqlite:///")
    store = Store(recorder.store.url, busy_timeout_ms=100)
    blocked = Recorder(store=store, domain=DOMAIN, signer=SIGNER)
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(Exception, match="locked"):
            blocked.record(tenant="t", request=_request("x"))
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    row, created = blocked.record(tenant="t", request=_request("x"))
    assert created and row.customer_index == 0
    blocked.close()
    store.close()


@BOTH_BACKENDS
def test_a_single_statement_read_gives_what_the_orm_connection_gives(recorder: Recorder) -> None:
    """Store.read_one (on SQLite straight from a pooled connection's cursor) returns the same values as a
    Core execution of the same statement, and its missing row is None."""
    row, _created = recorder.record(tenant="t", request=_request("read-one"))
    params = {"tenant": "t", "receipt_id": row.receipt_id}
    with recorder.store.engine.connect() as connection:
        expected = tuple(connection.execute(_BY_RECEIPT, params).one())
    got = recorder.store.read_one(_BY_RECEIPT, params)
    assert got is not None and tuple(got) == expected
    assert [type(value) for value in got] == [type(value) for value in expected]
    assert recorder.store.read_one(_BY_RECEIPT, {"tenant": "t", "receipt_id": "rcpt_missing"}) is None


def test_a_failing_sqlite_read_raises_sqlalchemys_error(recorder: Recorder) -> None:
    """The API answers a database error with 503 by SQLAlchemy's exception classes: the direct cursor
    read keeps raising them."""
    with recorder.store.writer() as session:
        session.connection().exec_driver_sql("ALTER TABLE deltas RENAME TO deltas_gone")
        session.commit()
    with pytest.raises(OperationalError, match="no such table"):
        recorder.store.read_one(_BY_RECEIPT, {"tenant": "t", "receipt_id": "rcpt_x"})
