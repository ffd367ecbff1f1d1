"""A delta's status is its batch's: the ``deltas.status`` column and its index go.

The column repeated what the delta's batch already says (no batch, prepared or sent: pending; anchored;
verified), and keeping it cost two more writes of every delta's row after its insert (pending ->
anchored -> verified, and back to pending after a reorg), each dirtying the row's page and the status
index's: about a sixth of the anchoring job's CPU per delta and as many WAL pages again as the log
indexes (docs/PERFORMANCE.md, issue 21). Reads join the delta's batch instead (node.store.models.
delta_status). Nothing hashed, signed or anchored changes.

Both databases drop the column in place (SQLite 3.35 or newer rewrites the table's rows once: about
4 s per million deltas here). The downgrade adds it back and fills it from each delta's batch.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_deltas_status", table_name="deltas")
    op.execute("ALTER TABLE deltas DROP COLUMN status")


def downgrade() -> None:
    op.add_column(
        "deltas", sa.Column("status", sa.String(length=16), nullable=False, server_default=sa.text("'pending'"))
    )
    op.execute(
        "UPDATE deltas SET status = (SELECT b.status FROM batches b WHERE b.id = deltas.batch_id) "
        "WHERE batch_id IN (SELECT id FROM batches WHERE status IN ('anchored', 'verified'))"
    )
    op.create_index("ix_deltas_status", "deltas", ["status"], unique=False)
