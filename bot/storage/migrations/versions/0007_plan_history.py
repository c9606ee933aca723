"""plan history for undo, and the message of each proposal step: plan_history,
proposal_transition.inbox_id and reverses_id

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import bot.storage.db

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "plan_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agreement_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("sku", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("period", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("qty", sa.Integer(), nullable=True),
        sa.Column("previous_qty", sa.Integer(), nullable=True),
        sa.Column("member_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("inbox_id", sa.Integer(), nullable=True),
        sa.Column("at", bot.storage.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("reverses_id", sa.Integer(), nullable=True),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("plan_history", schema=None) as batch_op:
        batch_op.create_index(
            "ix_plan_history_item", ["agreement_id", "sku", "period"], unique=False
        )
    with op.batch_alter_table("proposal_transition", schema=None) as batch_op:
        batch_op.add_column(sa.Column("inbox_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("reverses_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("proposal_transition", schema=None) as batch_op:
        batch_op.drop_column("reverses_id")
        batch_op.drop_column("inbox_id")
    with op.batch_alter_table("plan_history", schema=None) as batch_op:
        batch_op.drop_index("ix_plan_history_item")
    op.drop_table("plan_history")
