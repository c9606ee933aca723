"""a proposal may be shipped in parts: shipped_qty

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("proposal", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("shipped_qty", sa.Integer(), nullable=False, server_default="0")
        )
    # before part shipments, a shipped (or received) proposal was shipped whole
    op.execute("UPDATE proposal SET shipped_qty = qty WHERE state IN ('shipped', 'received')")


def downgrade() -> None:
    with op.batch_alter_table("proposal", schema=None) as batch_op:
        batch_op.drop_column("shipped_qty")
