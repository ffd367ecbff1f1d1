"""The verified part of each customer's balance (derived data, advanced as batches verify)."""

from __future__ import annotations

from sqlalchemy import bindparam, insert, tuple_, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, SQLModel

from node.store.db import execute_many
from node.store.models import CustomerBalanceRow

_DELTAS = SQLModel.metadata.tables["deltas"]
_BALANCES = SQLModel.metadata.tables["customer_balances"]
_BATCH_AMOUNTS = sa_select(_DELTAS.c.tenant, _DELTAS.c.customer_id, _DELTAS.c.amount).where(
    _DELTAS.c.batch_id == bindparam("batch_id")
)
_INSERT_BALANCE = insert(_BALANCES)
_UPDATE_BALANCE = (
    update(_BALANCES)
    .where(_BALANCES.c.tenant == bindparam("t"), _BALANCES.c.customer_id == bindparam("c"))
    .values(verified_balance=bindparam("b"), verified_count=bindparam("n"))
)


def add_verified_batch_to_balances(*, session: Session, batch_id: int, undo: bool = False) -> None:
    """Add a newly verified batch's deltas to each customer's verified balance (same transaction);
    ``undo`` takes them out again (a verified batch whose block was reorganised away).

    Sums in Python (amounts are int256 decimal strings, beyond SQL integers), then one read of the
    existing balances and one executemany each for updates and inserts: an ORM object per customer
    cost ~1.4 ms, which made this most of an anchoring cycle's CPU (and held the write lock).
    """
    connection = session.connection()  # Core statements: no ORM loading per row
    rows = connection.execute(_BATCH_AMOUNTS, {"batch_id": batch_id}).all()
    sums: dict[tuple[str, str], list[int]] = {}
    for tenant, customer_id, amount in rows:
        entry = sums.setdefault((tenant, customer_id), [0, 0])
        entry[0] += -int(amount) if undo else int(amount)
        entry[1] += -1 if undo else 1
    keys = list(sums)
    existing: dict[tuple[str, str], tuple[int, int]] = {}
    for start in range(0, len(keys), 400):
        chunk = keys[start : start + 400]
        found = connection.execute(
            sa_select(
                _BALANCES.c.tenant, _BALANCES.c.customer_id, _BALANCES.c.verified_balance, _BALANCES.c.verified_count
            ).where(tuple_(_BALANCES.c.tenant, _BALANCES.c.customer_id).in_(chunk))
        ).all()
        existing.update({(t, c): (int(balance), int(count)) for t, c, balance, count in found})
    updates = [
        {"t": key[0], "c": key[1], "b": str(existing[key][0] + total), "n": existing[key][1] + count}
        for key, (total, count) in sums.items()
        if key in existing
    ]
    inserts = [
        {"tenant": key[0], "customer_id": key[1], "verified_balance": str(total), "verified_count": count}
        for key, (total, count) in sums.items()
        if key not in existing
    ]
    if updates:
        execute_many(connection, _UPDATE_BALANCE, updates)
    if inserts:
        execute_many(connection, _INSERT_BALANCE, inserts)


def get_customer_balance(*, session: Session, tenant: str, customer_id: str) -> CustomerBalanceRow | None:
    return session.get(CustomerBalanceRow, (tenant, customer_id))
