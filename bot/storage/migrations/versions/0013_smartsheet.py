"""the stock rows mirrored to a WeCom smart sheet: smartsheet_doc, smartsheet_record

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import bot.storage.db

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "smartsheet_doc",
        sa.Column("agreement_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("docid", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("url", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("sheet_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("fields", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("shared", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("lease_owner", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
        sa.Column("lease_until", bot.storage.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("retry_after", bot.storage.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", bot.storage.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", bot.storage.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("agreement_id"),
    )
    op.create_table(
        "smartsheet_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agreement_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("sku", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("record_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("written", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("written_at", bot.storage.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("agreement_id", "sku", name="uq_smartsheet_record_item"),
    )


def downgrade() -> None:
    op.drop_table("smartsheet_record")
    op.drop_table("smartsheet_doc")
