"""The outbox: every message the bot will send is first a row here, written in the same
transaction as the change it announces. Delivery reads it; nothing is sent from a handler."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, insert, select
from sqlmodel import Session, col

from bot.storage.db import plain
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


def enqueue_all(session: Session, messages: list[Message]) -> int:
    """Queue, in order, the messages whose key is not queued yet (one look-up for all, one
    statement for all); how many were queued."""
    keys = [m.key for m in messages if m.key is not None]
    taken: set[str | None] = set()
    if keys:
        taken = set(plain(session).scalars(_TAKEN_KEYS, {"keys": keys}))
    rows = []
    for m in messages:
        if m.key is not None:
            if m.key in taken:
                continue
            taken.add(m.key)
        rows.append(
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
        )
    # plain rows, not objects (a review queues thousands); the table's defaults make them
    # pending, and the ids are the order
    if rows:
        plain(session).execute(_QUEUE, rows)
    return len(rows)


# built once: every reply is queued through it
_TAKEN_KEYS = select(col(OutboxRow.key)).where(
    col(OutboxRow.key).in_(bindparam("keys", expanding=True))
)
_QUEUE = insert(OutboxRow)


def enqueue(
    session: Session,
    destination: Destination,
    card: Card,
    at: datetime,
    *,
    key: str | None = None,
    agreement_id: str | None = None,
    proposal_id: int | None = None,
) -> bool:
    """Queue `card` for `destination`; with a `key` already queued, nothing new (False)."""
    message = Message(destination, card, at, key, agreement_id, proposal_id)
    return enqueue_all(session, [message]) == 1


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
