"""terms changed in chat, agreed by the other party: amendment, amendment_change

Revision ID: 0011
Revises: 0006
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import bot.storage.db

revision: str = "0011"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "amendment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agreement_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("sku", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("proposed_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("proposed_side", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("proposed_at", bot.storage.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("decided_at", bot.storage.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reject_reason", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("inbox_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("amendment", schema=None) as batch_op:
        batch_op.create_index("ix_amendment_item", ["agreement_id", "sku", "state"], unique=False)
    op.create_table(
        "amendment_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("amendment_id", sa.Integer(), nullable=False),
        sa.Column("field", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("old", sa.Integer(), nullable=False),
        sa.Column("new", sa.Integer(), nullable=False),
        sa.Column("file_value", sa.Integer(), nullable=False),
        sa.Column("superseded_at", bot.storage.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["amendment_id"], ["amendment.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("amendment_change", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_amendment_change_amendment_id"), ["amendment_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("amendment_change", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_amendment_change_amendment_id"))
    op.drop_table("amendment_change")
    with op.batch_alter_table("amendment", schema=None) as batch_op:
        batch_op.drop_index("ix_amendment_item")
    op.drop_table("amendment")
