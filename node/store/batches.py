"""Queries over the log: batches, the deltas they hold, and the anchoring job's bookkeeping."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Numeric, bindparam, cast, func, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, SQLModel, col, select

from node.store.db import Store, execute_many
from node.store.models import BATCH_COLUMNS, BatchRow, BatchStatus, BatchTreeRow, DeltaRow, StoredBatch

_BATCHES = SQLModel.metadata.tables["batches"]
_BATCH = sa_select(*(_BATCHES.c[name] for name in BATCH_COLUMNS)).where(_BATCHES.c.id == bindparam("batch_id"))
_TREE = sa_select(col(BatchTreeRow.nodes)).where(col(BatchTreeRow.batch_id) == bindparam("batch_id"))
_DELTAS = SQLModel.metadata.tables["deltas"]
_UNBATCHED = (
    sa_select(_DELTAS.c.id, _DELTAS.c.fingerprint)
    .where(_DELTAS.c.log_index.is_(None))
    .order_by(_DELTAS.c.id)
    .limit(bindparam("n"))
)
# One run of consecutive row ids (lo..hi) gets consecutive log indexes from ``first``.
_ASSIGN_RUN = (
    update(_DELTAS)
    .where(_DELTAS.c.id.between(bindparam("lo"), bindparam("hi")))
    .values(log_index=bindparam("first") + (_DELTAS.c.id - bindparam("lo")), batch_id=bindparam("new_batch_id"))
)


def read_batch(store: Store, *, batch_id: int) -> StoredBatch | None:
    """One batch as plain data (read for every proof request)."""
    row = store.read_one(_BATCH, {"batch_id": batch_id})
    return None if row is None else StoredBatch(*row)


def read_batch_tree(store: Store, *, batch_id: int) -> bytes | None:
    """The batch's packed Merkle tree, if the anchoring job stored one."""
    row = store.read_one(_TREE, {"batch_id": batch_id})
    return None if row is None else bytes(row[0])


def list_unbatched(*, session: Session, limit: int) -> Sequence[DeltaRow]:
    """Pending deltas with no log index yet, in the order they were acknowledged."""
    stmt = select(DeltaRow).where(col(DeltaRow.log_index).is_(None)).order_by(col(DeltaRow.id)).limit(limit)
    return session.exec(stmt).all()


def unbatched_fingerprints(*, session: Session, limit: int) -> list[tuple[int, bytes]]:
    """(id, fingerprint) of pending deltas with no log index yet, in the order they were acknowledged."""
    # A Core statement on the session's connection: through the ORM session each row went through
    # the ORM's loading machinery.
    return [(int(row_id), bytes(fp)) for row_id, fp in session.connection().execute(_UNBATCHED, {"n": limit})]


def assign_log_indexes(*, session: Session, batch_id: int, first: int, row_ids: Sequence[int]) -> None:
    """Give ``row_ids`` (ascending) the log indexes first, first+1, … and the batch.

    One UPDATE per run of consecutive ids, all in one driver executemany: the waiting rows' ids are
    usually one run, and a range UPDATE costs SQLite half of what one UPDATE per id did (~5 against
    ~10 us a row at 1,000,000 rows). Ids that are not consecutive make shorter runs, down to one each.
    """
    runs: list[dict[str, int]] = []
    for offset, row_id in enumerate(row_ids):
        if runs and row_id == runs[-1]["hi"] + 1:
            runs[-1]["hi"] = row_id
        else:
            runs.append({"lo": row_id, "hi": row_id, "first": first + offset, "new_batch_id": batch_id})
    execute_many(session.connection(), _ASSIGN_RUN, runs)


def insert_batch(
    *, session: Session, start_index: int, root: bytes, packed_tree: bytes, row_ids: Sequence[int], created_at: int
) -> BatchRow:
    """A PREPARED batch of ``row_ids`` from ``start_index`` on, with its packed tree (proofs are served
    from it) and the rows' log indexes, in the caller's transaction."""
    batch = BatchRow(start_index=start_index, count=len(row_ids), root=root, created_at=created_at)
    session.add(batch)
    session.flush()
    assert batch.id is not None
    session.add(BatchTreeRow(batch_id=batch.id, nodes=packed_tree))
    # One executemany, not an ORM object per delta: a 10,000-delta batch took seconds of CPU and
    # held the write lock (and every recording request) that long.
    assign_log_indexes(session=session, batch_id=batch.id, first=start_index, row_ids=row_ids)
    return batch


def count_unbatched(*, session: Session) -> int:
    stmt = select(func.count()).select_from(DeltaRow).where(col(DeltaRow.log_index).is_(None))
    return int(session.exec(stmt).one())


def list_batch_deltas(*, session: Session, batch_id: int) -> Sequence[DeltaRow]:
    stmt = select(DeltaRow).where(DeltaRow.batch_id == batch_id).order_by(col(DeltaRow.log_index))
    return session.exec(stmt).all()


def get_batch(*, session: Session, batch_id: int) -> BatchRow | None:
    return session.get(BatchRow, batch_id)


def list_batches_in_status(*, session: Session, statuses: Sequence[str]) -> Sequence[BatchRow]:
    stmt = select(BatchRow).where(col(BatchRow.status).in_(statuses)).order_by(col(BatchRow.start_index))
    return session.exec(stmt).all()


def next_log_index(*, session: Session) -> int:
    """One past the highest log index the database has handed out."""
    stmt = select(func.max(BatchRow.start_index + BatchRow.count))
    value = session.exec(stmt).one()
    return int(value or 0)


def open_batches(*, session: Session) -> Sequence[BatchRow]:
    return list_batches_in_status(
        session=session,
        statuses=(BatchStatus.PREPARED, BatchStatus.SENT, BatchStatus.ANCHORED),
    )


def verified_batches_above(*, session: Session, block_number: int | None) -> Sequence[BatchRow]:
    """Verified batches mined above ``block_number`` (None: every verified batch), newest block first:
    the ones a reorg can still take away when the chain's finalized block is ``block_number``."""
    stmt = select(BatchRow).where(col(BatchRow.status) == BatchStatus.VERIFIED)
    if block_number is not None:
        stmt = stmt.where(col(BatchRow.block_number) > block_number)
    return session.exec(stmt.order_by(col(BatchRow.block_number).desc(), col(BatchRow.start_index).desc())).all()


def spent_since(*, session: Session, t0: int) -> int:
    """Wei paid for anchor transactions mined since ``t0`` (gas x price plus any L1 data fee), summed
    as NUMERIC so a busy day cannot overflow a 64-bit integer."""
    paid = cast(col(BatchRow.gas_used), Numeric) * col(BatchRow.effective_gas_price) + func.coalesce(
        col(BatchRow.l1_fee), 0
    )
    stmt = sa_select(func.sum(paid)).where(col(BatchRow.anchored_at) >= t0, col(BatchRow.gas_used).is_not(None))
    value = session.execute(stmt).scalar_one()
    return int(value or 0)


def last_anchor_cost(*, session: Session) -> tuple[int, int]:
    """(gas used, L1 data fee) of the most recently mined anchor transaction; (0, 0) before the first."""
    stmt = (
        sa_select(col(BatchRow.gas_used), col(BatchRow.l1_fee))
        .where(col(BatchRow.gas_used).is_not(None))
        .order_by(col(BatchRow.start_index).desc())
        .limit(1)
    )
    row = session.execute(stmt).first()
    return (0, 0) if row is None else (int(row[0] or 0), int(row[1] or 0))


def last_verified_log_index(*, session: Session) -> int | None:
    stmt = select(func.max(BatchRow.start_index + BatchRow.count - 1)).where(BatchRow.status == BatchStatus.VERIFIED)
    value = session.exec(stmt).one()
    return None if value is None else int(value)


def batch_leaves(*, session: Session, batch_id: int) -> list[tuple[int, bytes]]:
    stmt = (
        select(col(DeltaRow.log_index), col(DeltaRow.fingerprint))
        .where(col(DeltaRow.batch_id) == batch_id)
        .order_by(col(DeltaRow.log_index))
    )
    return [(int(i or 0), bytes(fp)) for i, fp in session.execute(stmt).all()]


def batch_tenant_counts(*, session: Session, batch_id: int) -> dict[str, int]:
    stmt = (
        select(col(DeltaRow.tenant), func.count())
        .where(col(DeltaRow.batch_id) == batch_id)
        .group_by(col(DeltaRow.tenant))
    )
    return {tenant: int(n) for tenant, n in session.execute(stmt).all()}


def batch_summaries(*, session: Session) -> list[tuple[int, int, int, bytes, str]]:
    """(id, start index, count, root, status) of every batch, in log order."""
    stmt = sa_select(
        col(BatchRow.id), col(BatchRow.start_index), col(BatchRow.count), col(BatchRow.root), col(BatchRow.status)
    ).order_by(col(BatchRow.start_index))
    return [(int(i), int(s), int(n), bytes(r), str(st)) for i, s, n, r, st in session.execute(stmt).all()]


def batch_row_counts(*, session: Session) -> dict[int, int]:
    """How many delta rows name each batch (one pass over the batch_id index)."""
    stmt = (
        sa_select(col(DeltaRow.batch_id), func.count())
        .where(col(DeltaRow.batch_id).is_not(None))
        .group_by(col(DeltaRow.batch_id))
    )
    return {int(batch_id): int(n) for batch_id, n in session.execute(stmt).all()}


def batch_log_indexes(*, session: Session, batch_id: int) -> tuple[int, ...]:
    stmt = (
        sa_select(col(DeltaRow.log_index)).where(col(DeltaRow.batch_id) == batch_id).order_by(col(DeltaRow.log_index))
    )
    return tuple(int(i) for (i,) in session.execute(stmt).all() if i is not None)


@dataclass(frozen=True)
class AnchoringSnapshot:
    unverified: int
    oldest_unverified_at: int | None
    last_anchored_block: int | None
    total_gas_used: int


def unverified() -> ColumnElement[bool]:
    """Deltas not verified yet: those with no batch, and those of the few batches not verified (their
    ids by the batches' status index, their rows by the deltas' batch index)."""
    open_batch_ids = sa_select(col(BatchRow.id)).where(
        col(BatchRow.status).in_((BatchStatus.PREPARED, BatchStatus.SENT, BatchStatus.ANCHORED))
    )
    return col(DeltaRow.batch_id).is_(None) | col(DeltaRow.batch_id).in_(open_batch_ids)


def anchoring_snapshot(*, session: Session) -> AnchoringSnapshot:
    unverified_stmt = select(func.count(), func.min(DeltaRow.recorded_at)).where(unverified())
    count, oldest = session.exec(unverified_stmt).one()
    batch_stmt = select(func.max(BatchRow.block_number), func.coalesce(func.sum(BatchRow.gas_used), 0))
    last_block, gas = session.exec(batch_stmt).one()
    return AnchoringSnapshot(int(count or 0), oldest, last_block, int(gas or 0))


def list_batches(*, session: Session) -> Sequence[BatchRow]:
    """Every batch, in log order."""
    return session.exec(select(BatchRow).order_by(col(BatchRow.start_index))).all()
