"""settlement statements both sides sign: statement, statement_event

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import bot.storage.db

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_text = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        "statement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agreement_id", _text(length=64), nullable=False),
        sa.Column("period_start", bot.storage.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("period_end", bot.storage.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("state", _text(length=16), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("lines", _text(), nullable=False),
        sa.Column("total", bot.storage.db.DecimalText(), nullable=False),
        sa.Column("buyer_by", _text(), nullable=False),
        sa.Column("buyer_at", bot.storage.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("supplier_by", _text(), nullable=False),
        sa.Column("supplier_at", bot.storage.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("locked_at", bot.storage.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", bot.storage.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", bot.storage.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("agreement_id", "period_end", name="uq_statement_period"),
    )
    op.create_table(
        "statement_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("statement_id", sa.Integer(), nullable=False),
        sa.Column("action", _text(length=16), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("side", _text(length=16), nullable=False),
        sa.Column("member_id", _text(length=64), nullable=True),
        sa.Column("by_name", _text(), nullable=False),
        sa.Column("reason", _text(), nullable=False),
        sa.Column("total", bot.storage.db.DecimalText(), nullable=False),
        sa.Column("at", bot.storage.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["statement_id"], ["statement.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("statement_event", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_statement_event_statement_id"), ["statement_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("statement_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_statement_event_statement_id"))
    op.drop_table("statement_event")
    op.drop_table("statement")
