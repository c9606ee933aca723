"""overstock joint reviews and the choices made on them: overstock_alert, overstock_decision

Revision ID: 0009
Revises: 0006
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import bot.storage.db

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "overstock_alert",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agreement_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("sku", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("qty", sa.Integer(), nullable=False),
        sa.Column("on_hand", sa.Integer(), nullable=False),
        sa.Column("oldest_since", bot.storage.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("covers_until", bot.storage.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("unit_price", bot.storage.db.DecimalText(), nullable=False),
        sa.Column("raised_at", bot.storage.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("repeated_at", bot.storage.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("choice", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("decided_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("decided_at", bot.storage.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("agreement_id", "sku", "covers_until", name="uq_overstock_lots"),
    )
    with op.batch_alter_table("overstock_alert", schema=None) as batch_op:
        batch_op.create_index("ix_overstock_item", ["agreement_id", "sku", "id"], unique=False)
    op.create_table(
        "overstock_decision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("agreement_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("sku", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("choice", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("qty", sa.Integer(), nullable=False),
        sa.Column("unit_price", bot.storage.db.DecimalText(), nullable=True),
        sa.Column("member_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("at", bot.storage.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("inbox_id", sa.Integer(), nullable=True),
        sa.Column("ledger_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("overstock_decision", schema=None) as batch_op:
        batch_op.create_index(
            "ix_overstock_decision_item", ["agreement_id", "sku", "choice"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("overstock_decision", schema=None) as batch_op:
        batch_op.drop_index("ix_overstock_decision_item")
    op.drop_table("overstock_decision")
    with op.batch_alter_table("overstock_alert", schema=None) as batch_op:
        batch_op.drop_index("ix_overstock_item")
    op.drop_table("overstock_alert")
