"""The outbox: every message the bot will send is first a row here, written in the same
transaction as the change it announces. Delivery reads it; nothing is sent from a handler."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from sqlalchemy import select
from sqlalchemy.sql.dml import Insert
from sqlmodel import Session, col

from bot.storage.db import insert_skipping, plain
from bot.storage.tables import OutboxRow
from messages.cards import Card


@dataclass(frozen=True)
class Destination:
    """Where a message goes: a platform and a chat (channel, group chat or person) on it.

    `mode` says how: a new message (post), an answer in the thread of message `ref` (thread),
    a new version of message `ref` (update), or an answer only `recipient` sees (ephemeral).
    """

    platform: str
    chat: str
    mode: str = "post"
    ref: str = ""
    recipient: str = ""


@dataclass(frozen=True)
class Message:
    """A card for a destination; messages with the same `key` are queued once."""

    destination: Destination
    card: Card
    at: datetime
    key: str | None = None
    agreement_id: str | None = None
    proposal_id: int | None = None


def enqueue_all(session: Session, messages: list[Message]) -> None:
    """Queue, in order, the messages whose key is not queued yet (one statement for all)."""
    if not messages:
        return
    rows = [
        {
            "key": m.key,
            "platform": m.destination.platform,
            "chat": m.destination.chat,
            "mode": m.destination.mode,
            "target_ref": m.destination.ref,
            "recipient": m.destination.recipient,
            "card": m.card.to_json(),
            "agreement_id": m.agreement_id,
            "proposal_id": m.proposal_id,
            "created_at": m.at,
        }
        for m in messages
    ]
    # plain rows, not objects (a review queues thousands); the table's defaults make them
    # pending, the ids are the order, and a key queued before (or twice here) is skipped by
    # the unique index instead of looked up first
    connection = plain(session)
    connection.execute(_queue_statement(connection.dialect.name), rows)


@cache
def _queue_statement(dialect: str) -> Insert:
    """The insert of `enqueue_all`, built once per database kind."""
    return insert_skipping(dialect, OutboxRow, "key")


def enqueue(
    session: Session,
    destination: Destination,
    card: Card,
    at: datetime,
    *,
    key: str | None = None,
    agreement_id: str | None = None,
    proposal_id: int | None = None,
) -> None:
    """Queue `card` for `destination`; with a `key` already queued, nothing new."""
    enqueue_all(session, [Message(destination, card, at, key, agreement_id, proposal_id)])


def pending(session: Session, platform: str, limit: int = 100) -> list[OutboxRow]:
    """Rows not yet delivered on `platform`, oldest first."""
    return list(
        session.scalars(
            select(OutboxRow)
            .where(col(OutboxRow.platform) == platform, col(OutboxRow.state) == "pending")
            .order_by(col(OutboxRow.id))
            .limit(limit)
        )
    )


def sent_posts(
    session: Session, proposal_row_id: int, platforms: Collection[str]
) -> dict[tuple[str, str], str]:
    """The platform's reference of each card of the proposal posted (and sent) on `platforms`,
    by platform and chat; the latest where there were several."""
    rows = session.execute(
        select(col(OutboxRow.platform), col(OutboxRow.chat), col(OutboxRow.platform_ref))
        .where(
            col(OutboxRow.proposal_id) == proposal_row_id,
            col(OutboxRow.platform).in_(list(platforms)),
            col(OutboxRow.state) == "sent",
            col(OutboxRow.mode) == "post",
            col(OutboxRow.platform_ref) != "",
        )
        .order_by(col(OutboxRow.id))
    )
    return {(platform, chat): ref for platform, chat, ref in rows}
