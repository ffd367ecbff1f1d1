"""Each delta's receipt signer, so receipts keep naming the key that signed them after a rotation.

Rows written before this revision get the address their signature recovers to.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from node.core.signing import recover_signer

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_CHUNK = 1000


def upgrade() -> None:
    op.add_column("deltas", sa.Column("signer", sa.LargeBinary(), nullable=True))
    connection = op.get_bind()
    deltas = sa.table("deltas", sa.column("id"), sa.column("fingerprint"), sa.column("signature"), sa.column("signer"))
    last_id = 0
    while True:
        rows = connection.execute(
            sa.select(deltas.c.id, deltas.c.fingerprint, deltas.c.signature)
            .where(deltas.c.id > last_id)
            .order_by(deltas.c.id)
            .limit(_CHUNK)
        ).all()
        if not rows:
            break
        connection.execute(
            deltas.update().where(deltas.c.id == sa.bindparam("row_id")).values(signer=sa.bindparam("address")),
            [
                {"row_id": row_id, "address": recover_signer(bytes(fingerprint), bytes(signature))}
                for row_id, fingerprint, signature in rows
            ],
        )
        last_id = rows[-1][0]


def downgrade() -> None:
    op.drop_column("deltas", "signer")
