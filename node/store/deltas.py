"""Queries over the deltas table: one customer's chain, looked up by reference, receipt or index.
Every function takes a keyword-only session, or the Store when it manages its own connection."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from functools import cache
from typing import Any

from sqlalchemy import any_, bindparam, cast, func, insert
from sqlalchemy import select as sa_select
from sqlalchemy.dialects import postgresql
from sqlmodel import Session, SQLModel, col, select

from node.core.deltas import ChainHead
from node.store.db import Store, driver_sql
from node.store.models import DELTA_COLUMNS, BatchRow, BatchStatus, DeltaRow, StoredDelta

DELTAS = SQLModel.metadata.tables["deltas"]
_COLUMNS = [DELTAS.c[name] for name in DELTA_COLUMNS]
_BY_RECEIPT = sa_select(*_COLUMNS).where(
    DELTAS.c.tenant == bindparam("tenant"), DELTAS.c.receipt_id == bindparam("receipt_id")
)
_BY_REFERENCES = sa_select(*_COLUMNS).where(
    DELTAS.c.tenant == bindparam("tenant"), DELTAS.c.reference_id.in_(bindparam("references", expanding=True))
)
# PostgreSQL's: the references as one array, so the statement's text stays the same (psycopg parses a
# statement's text again for each call when it is long, as an IN list of 500 is: ~12 ms of CPU each).
_BY_REFERENCE_ARRAY = sa_select(*_COLUMNS).where(
    DELTAS.c.tenant == bindparam("tenant"),
    DELTAS.c.reference_id == any_(cast(bindparam("references"), postgresql.ARRAY(DELTAS.c.reference_id.type))),
)
_INSERTED = tuple(name for name in DELTA_COLUMNS if name != "id")
_INSERTED_VALUES = operator.attrgetter(*_INSERTED)
_UNNEST = (
    func.unnest(*(cast(bindparam(name), postgresql.ARRAY(DELTAS.c[name].type)) for name in _INSERTED))
    .table_valued(*_INSERTED)
    .render_derived()
)
# SQLite's insert (see insert_deltas): every column, the id included, bound in DELTA_COLUMNS order.
_INSERT_ROWS = insert(DELTAS).values({name: bindparam(name) for name in DELTA_COLUMNS})
# PostgreSQL's insert: one array per column, the ids from the table's sequence.
_INSERT_ARRAYS = (
    insert(DELTAS)
    .from_select(list(_INSERTED), sa_select(*(_UNNEST.c[name] for name in _INSERTED)))
    .returning(DELTAS.c.id, DELTAS.c.receipt_id)
)
_PER_STATEMENT = 500  # references per IN list
HEADS_PER_STATEMENT = 1024  # chains per statement: a writer group's worth (MAX_GROUP)


def stored_delta(values: Sequence[Any]) -> StoredDelta:
    """A row selected by these statements (columns in DELTA_COLUMNS order) as plain data."""
    return StoredDelta(*values)


def read_receipt(store: Store, *, tenant: str, receipt_id: str) -> StoredDelta | None:
    """The delta behind a receipt id: one indexed row, read for every receipt and proof request."""
    row = store.read_one(_BY_RECEIPT, {"tenant": tenant, "receipt_id": receipt_id})
    return None if row is None else stored_delta(row)


def deltas_by_reference(*, session: Session, tenant: str, references: Iterable[str]) -> dict[str, StoredDelta]:
    """The tenant's rows recorded under these referenceIds, by referenceId (one indexed read per 500)."""
    ordered = sorted(set(references))
    connection = session.connection()
    statement = _BY_REFERENCES if connection.dialect.name == "sqlite" else _BY_REFERENCE_ARRAY
    found: dict[str, StoredDelta] = {}
    for start in range(0, len(ordered), _PER_STATEMENT):
        params = {"tenant": tenant, "references": ordered[start : start + _PER_STATEMENT]}
        for values in connection.execute(statement, params):
            row = stored_delta(values)
            found[row.reference_id] = row
    return found


# The last delta of each chain c(t, cu): the row whose id the chain index gives for its largest customer
# index (on SQLite the id is in the index entry, so a chain costs one index seek and one row seek).
_HEADS_OF_C = (
    "SELECT d.tenant, d.customer_id, d.customer_index, d.fingerprint, d.running_total "
    "FROM c JOIN deltas d ON d.id = "
    "(SELECT id FROM deltas WHERE tenant = c.t AND customer_id = c.cu ORDER BY customer_index DESC LIMIT 1)"
)
_HEADS_FROM_ARRAYS = (
    "WITH c(t, cu) AS (SELECT * FROM unnest(CAST(%(t)b AS VARCHAR[]), CAST(%(cu)b AS VARCHAR[]))) "  # noqa: S608
    + _HEADS_OF_C
)


@cache
def _heads_sql(chains: int) -> str:
    """SQLite's statement for ``chains`` chains: the chains as a VALUES list."""
    pairs = ",".join(["(?,?)"] * chains)
    return f"WITH c(t, cu) AS (VALUES {pairs}) " + _HEADS_OF_C


def chain_heads(*, session: Session, chains: Sequence[tuple[str, str]]) -> dict[tuple[str, str], ChainHead]:
    """Each (tenant, customerId) chain's last delta, inside the session's transaction (a writer's).

    One statement per ``HEADS_PER_STATEMENT`` chains, sent through the driver: a Core UNION ALL of
    one subquery per chain cost three times as much, most of it SQLAlchemy's parameter processing.
    SQLite: the chains as a VALUES list, each chunk padded to a power of two by repeating its last
    chain, so a few statement texts serve every group size (the driver keeps them prepared).
    PostgreSQL: the chains as two arrays in binary, one statement text (psycopg parsed a long text
    again on every call: ~12 ms of CPU for 1,000 chains).
    """
    connection = session.connection()
    sqlite = connection.dialect.name == "sqlite"
    heads: dict[tuple[str, str], ChainHead] = {}
    for start in range(0, len(chains), HEADS_PER_STATEMENT):
        chunk = list(chains[start : start + HEADS_PER_STATEMENT])
        params: tuple[str, ...] | dict[str, list[str]]
        if sqlite:
            size = 1 << (len(chunk) - 1).bit_length()
            chunk += [chunk[-1]] * (size - len(chunk))
            sql, params = _heads_sql(size), tuple(value for chain in chunk for value in chain)
        else:  # the chains as two arrays, sent in binary: one statement text for every group size
            sql, params = _HEADS_FROM_ARRAYS, {"t": [t for t, _c in chunk], "cu": [c for _t, c in chunk]}
        for tenant, customer_id, index, fingerprint, running_total in connection.exec_driver_sql(sql, params).all():
            heads[(tenant, customer_id)] = ChainHead(int(index), bytes(fingerprint), int(running_total))
    return heads


def insert_deltas(*, session: Session, rows: Sequence[StoredDelta]) -> None:
    """Insert new rows in the session's writer transaction and set each row's id.

    The values go to the driver as they are (``exec_driver_sql``): a compiled Core INSERT ran
    SQLAlchemy's per-value bind processing, which cost more CPU than SQLite's own insert into the
    table and its indexes (docs/PERFORMANCE.md, issue 21). Driver errors still arrive as SQLAlchemy's
    (an ``IntegrityError`` sends the recorder to its one-delta-per-transaction path).

    SQLite: the writer's transaction is exclusive (``BEGIN IMMEDIATE``), so the ids are the next ones
    after the table's largest, given explicitly in one executemany. PostgreSQL: writers run
    concurrently, so the ids come from the table's sequence, in one statement over one array per
    column, matched back to the rows by their unique receipt ids.
    """
    if not rows:
        return
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        statement = driver_sql(connection.dialect, _INSERT_ROWS)
        assert tuple(statement.positions or ()) == DELTA_COLUMNS  # the order the tuples below are in
        top = int(connection.exec_driver_sql("SELECT max(id) FROM deltas").scalar() or 0)
        for offset, row in enumerate(rows, start=1):
            row.id = top + offset
        connection.exec_driver_sql(statement.text, [(row.id, *_INSERTED_VALUES(row)) for row in rows])
        return
    values = zip(*map(_INSERTED_VALUES, rows), strict=True)
    columns = {name: list(column) for name, column in zip(_INSERTED, values, strict=True)}
    arrays = _binary_parameters(driver_sql(connection.dialect, _INSERT_ARRAYS).text)
    ids = {receipt_id: int(row_id) for row_id, receipt_id in connection.exec_driver_sql(arrays, columns)}
    for row in rows:
        row.id = ids[row.receipt_id]


@cache
def _binary_parameters(text: str) -> str:
    """psycopg's placeholders ``%(name)s`` as ``%(name)b``: the arrays go to PostgreSQL in its binary
    format. In the text format psycopg quotes every text element of an array with a regular
    expression in Python, which was a third of the recorder's CPU per delta on PostgreSQL."""
    return re.sub(r"%\((\w+)\)s", r"%(\1)b", text)


def get_delta_by_reference(*, session: Session, tenant: str, reference_id: str) -> DeltaRow | None:
    stmt = select(DeltaRow).where(DeltaRow.tenant == tenant, DeltaRow.reference_id == reference_id)
    return session.exec(stmt).first()


def get_delta_by_receipt(*, session: Session, tenant: str, receipt_id: str) -> DeltaRow | None:
    stmt = select(DeltaRow).where(DeltaRow.tenant == tenant, DeltaRow.receipt_id == receipt_id)
    return session.exec(stmt).first()


def get_chain_head(*, session: Session, tenant: str, customer_id: str) -> DeltaRow | None:
    stmt = (
        select(DeltaRow)
        .where(DeltaRow.tenant == tenant, DeltaRow.customer_id == customer_id)
        .order_by(col(DeltaRow.customer_index).desc())
        .limit(1)
    )
    return session.exec(stmt).first()


def get_delta_at(*, session: Session, tenant: str, customer_id: str, customer_index: int) -> DeltaRow | None:
    stmt = select(DeltaRow).where(
        DeltaRow.tenant == tenant, DeltaRow.customer_id == customer_id, DeltaRow.customer_index == customer_index
    )
    return session.exec(stmt).first()


def iter_customer_deltas(
    store_session: Callable[[], AbstractContextManager[Session]],
    *,
    tenant: str,
    customer_id: str,
    from_index: int = 0,
    to_index: int | None = None,
    verified_only: bool = False,
    chunk: int = 2000,
) -> Iterator[DeltaRow]:
    """Rows in customer-index order, fetched in chunks by keyset (constant memory, short transactions)."""
    next_index = from_index
    while True:
        with store_session() as session:
            stmt = (
                select(DeltaRow)
                .where(
                    DeltaRow.tenant == tenant,
                    DeltaRow.customer_id == customer_id,
                    col(DeltaRow.customer_index) >= next_index,
                )
                .order_by(col(DeltaRow.customer_index))
                .limit(chunk)
            )
            if to_index is not None:
                stmt = stmt.where(col(DeltaRow.customer_index) <= to_index)
            if verified_only:  # a delta is verified when its batch is
                stmt = stmt.join(BatchRow, col(BatchRow.id) == col(DeltaRow.batch_id)).where(
                    col(BatchRow.status) == BatchStatus.VERIFIED
                )
            rows = session.exec(stmt).all()
        if not rows:
            return
        yield from rows
        next_index = rows[-1].customer_index + 1


def customer_indexes_between(
    *, session: Session, tenant: str, customer_id: str, recorded_from: int, recorded_to: int
) -> tuple[int | None, int | None]:
    stmt = select(func.min(DeltaRow.customer_index), func.max(DeltaRow.customer_index)).where(
        DeltaRow.tenant == tenant,
        DeltaRow.customer_id == customer_id,
        col(DeltaRow.recorded_at) >= recorded_from,
        col(DeltaRow.recorded_at) <= recorded_to,
    )
    low, high = session.exec(stmt).one()
    return low, high


def stream_customer_columns(
    store: Store, *, tenant: str, customer_id: str, to_index: int | None = None
) -> Iterator[tuple[str, str, int, str | None, int]]:
    """(reference id, amount, customer index, its batch's status or None, recorded at) of one customer,
    unordered, straight from the driver: no ORM objects, constant memory (1,000,000 rows in about 2 s on
    SQLite). ``delta_status`` of the fourth is the delta's status."""
    with store.engine.connect() as connection:
        stmt = (
            sa_select(
                col(DeltaRow.reference_id),
                col(DeltaRow.amount),
                col(DeltaRow.customer_index),
                col(BatchRow.status),
                col(DeltaRow.recorded_at),
            )
            .select_from(DeltaRow)
            .outerjoin(BatchRow, col(BatchRow.id) == col(DeltaRow.batch_id))
            .where(col(DeltaRow.tenant) == tenant, col(DeltaRow.customer_id) == customer_id)
        )
        if to_index is not None:
            stmt = stmt.where(col(DeltaRow.customer_index) <= to_index)
        result = connection.execution_options(stream_results=True, yield_per=10_000).execute(stmt)
        for row in result:
            yield (row[0], row[1], row[2], row[3], row[4])


def receipt_ids_at(store: Store, *, tenant: str, customer_id: str, indexes: Sequence[int]) -> dict[int, str]:
    found: dict[int, str] = {}
    with store.session() as session:
        for start in range(0, len(indexes), 500):
            stmt = select(col(DeltaRow.customer_index), col(DeltaRow.receipt_id)).where(
                col(DeltaRow.tenant) == tenant,
                col(DeltaRow.customer_id) == customer_id,
                col(DeltaRow.customer_index).in_(indexes[start : start + 500]),
            )
            found.update({int(i): str(r) for i, r in session.execute(stmt).all()})
    return found


def count_unanchored_signed_by(*, session: Session, signer: bytes, next_index: int) -> int:
    """Deltas signed by ``signer`` whose log index the contract has not anchored yet (``next_index`` on)."""
    stmt = (
        sa_select(func.count())
        .select_from(DeltaRow)
        .where(
            col(DeltaRow.signer) == signer,
            (col(DeltaRow.log_index).is_(None)) | (col(DeltaRow.log_index) >= next_index),
        )
    )
    return int(session.execute(stmt).scalar_one())


def list_customers(*, session: Session) -> list[tuple[str, str]]:
    """(tenant, customer id) of every customer with a delta."""
    stmt = select(col(DeltaRow.tenant), col(DeltaRow.customer_id)).distinct()
    return [(str(tenant), str(customer_id)) for tenant, customer_id in session.execute(stmt).all()]


def count_deltas(*, session: Session) -> int:
    return int(session.exec(select(func.count()).select_from(DeltaRow)).one())
