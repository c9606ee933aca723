"""The inbox: every incoming message or click is stored once per platform message id.

Platforms redeliver (Slack retries, WeCom retries) and people double-click; the second copy
finds its id taken and changes nothing.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from bot.tables import InboxRow


def receive(
    session: Session,
    platform: str,
    platform_message_id: str,
    received_at: datetime,
    *,
    chat: str = "",
    sender: str = "",
    text: str = "",
    action: str = "",
) -> int | None:
    """Store an incoming message; its inbox id, or None when this id was already received."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(InboxRow)
        .values(
            platform=platform,
            platform_message_id=platform_message_id,
            chat=chat,
            sender=sender,
            text=text,
            action=action,
            received_at=received_at,
        )
        .on_conflict_do_nothing(index_elements=["platform", "platform_message_id"])
        .returning(InboxRow.id)
    )
    return session.execute(statement).scalar_one_or_none()


def mark_handled(session: Session, inbox_id: int, at: datetime) -> None:
    """Note that the message was handled (its replies are in the outbox)."""
    row = session.get(InboxRow, inbox_id)
    if row is not None:
        row.handled_at = at
