"""outbox claims name their claimer; the health check's heartbeat table

Revision ID: 0003
Revises: 0001
Create Date: 2026-12-01
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
import sqlmodel
from alembic import op

import bot.storage.db

revision: str = "0003"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "claimed_by",
                sqlmodel.sql.sqltypes.AutoString(length=255),
                nullable=False,
                server_default="",
            )
        )
    health = op.create_table(
        "health",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("beat_at", bot.storage.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("filler", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    # the heartbeat row, there from the start: processes checking at once only update it
    op.bulk_insert(health, [{"id": 1, "beat_at": datetime.now(UTC), "filler": ""}])


def downgrade() -> None:
    op.drop_table("health")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("claimed_by")
