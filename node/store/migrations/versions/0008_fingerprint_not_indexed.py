"""No unique index on deltas.fingerprint: nothing looks a delta up by it, and it cannot repeat anyway.

A fingerprint is the EIP-712 digest of a Delta that holds its (tenant, customer, index), which the
unique constraint ``uq_deltas_chain`` already makes unique, and 32 random bytes of salt; two equal
fingerprints would be a keccak-256 collision. The index added nothing but a random page to write for
every recorded delta (a quarter of the recorder's insert and commit work at 1,000,000 deltas:
docs/PERFORMANCE.md, issue 21). On SQLite the table is rebuilt (a constraint cannot be dropped in place):
about a minute per million deltas here, once, needing free disk space the size of the table; the file
keeps that space for new rows (``VACUUM`` gives it back). PostgreSQL drops the index in place.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# The initial schema left the constraint unnamed: PostgreSQL named it deltas_fingerprint_key, SQLite not
# at all, so its batch copy names reflected unique constraints by this convention.
_NAMING = {"uq": "%(table_name)s_%(column_0_name)s_key"}


def upgrade() -> None:
    with op.batch_alter_table("deltas", naming_convention=_NAMING) as batch_op:
        batch_op.drop_constraint("deltas_fingerprint_key", type_="unique")


def downgrade() -> None:
    with op.batch_alter_table("deltas", naming_convention=_NAMING) as batch_op:
        batch_op.create_unique_constraint("deltas_fingerprint_key", ["fingerprint"])
