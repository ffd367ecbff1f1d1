"""Each batch's L1 data fee (a rollup's charge on top of gas), so the cost per verified delta counts it.

Batches anchored before this revision have none recorded (NULL, counted as 0).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("batches", sa.Column("l1_fee", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    op.drop_column("batches", "l1_fee")
