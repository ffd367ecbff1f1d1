"""Comparisons: a settlement key (one settlement per variance and record head) and evidence expiry.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("comparisons", schema=None) as batch_op:
        batch_op.add_column(sa.Column("settlement_key", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("evidence_expired_at", sa.BigInteger(), nullable=True))
        batch_op.create_unique_constraint("uq_comparison_settlement", ["tenant", "settlement_key"])


def downgrade() -> None:
    with op.batch_alter_table("comparisons", schema=None) as batch_op:
        batch_op.drop_constraint("uq_comparison_settlement", type_="unique")
        batch_op.drop_column("evidence_expired_at")
        batch_op.drop_column("settlement_key")
