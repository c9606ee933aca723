"""The outbox: every message the bot will send is first a row here, written in the same
transaction as the change it announces. Delivery reads it; nothing is sent from a handler."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlmodel import Session

from bot.config import AgreementConfig, Config
from bot.storage.tables import OutboxRow
from messages.cards import Card

CONSOLE = "console"
SLACK = "slack"
WECOM = "wecom"
# WeCom chats that are groups, not a person's user id: an app group chat, or a group robot
APPCHAT = "appchat:"
WEBHOOK = "webhook:"


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


def group_destinations(agreement: AgreementConfig, platforms: frozenset[str]) -> list[Destination]:
    """The agreement's group chat on every platform that is on and configured for it."""
    found = []
    if CONSOLE in platforms:
        found.append(Destination(CONSOLE, agreement.id))
    if SLACK in platforms and agreement.slack_channel:
        found.append(Destination(SLACK, agreement.slack_channel))
    if WECOM in platforms and agreement.wecom_chat:
        found.append(Destination(WECOM, f"{APPCHAT}{agreement.wecom_chat}"))
    elif WECOM in platforms and agreement.wecom_webhook_key:
        found.append(Destination(WECOM, f"{WEBHOOK}{agreement.id}"))
    return found


def group_messages(
    agreement: AgreementConfig, platforms: frozenset[str], card: Card, at: datetime, key: str
) -> list[Message]:
    """`card` for each of the agreement's group chats, queued once per `key` and chat."""
    return [
        Message(d, card, at, key=f"{key}:{d.platform}:{d.chat}", agreement_id=agreement.id)
        for d in group_destinations(agreement, platforms)
    ]


def proposal_destinations(
    config: Config, agreement: AgreementConfig, platforms: frozenset[str]
) -> list[Destination]:
    """Where a proposal is announced: the group chats, and on WeCom, whose group posts carry no
    buttons, each buyer (and admin) of the customer as a card of their own to press."""
    found = group_destinations(agreement, platforms)
    if WECOM in platforms:
        for member in config.members:
            deciding = member.role in ("buyer", "admin") and member.party in (
                agreement.customer,
                None,
            )
            if deciding and member.wecom:
                found.append(Destination(WECOM, member.wecom))
    return found


@dataclass(frozen=True)
class Message:
    """A card for a destination; messages with the same `key` are queued once."""

    destination: Destination
    card: Card
    at: datetime
    key: str | None = None
    agreement_id: str | None = None
    proposal_id: int | None = None


def enqueue_all(session: Session, messages: list[Message]) -> list[OutboxRow]:
    """Queue, in order, the messages whose key is not queued yet (one look-up for all)."""
    keys = [m.key for m in messages if m.key is not None]
    taken = set()
    if keys:
        taken = set(session.scalars(select(OutboxRow.key).where(OutboxRow.key.in_(keys))))
    rows = []
    for m in messages:
        if m.key is not None:
            if m.key in taken:
                continue
            taken.add(m.key)
        rows.append(
            OutboxRow(
                key=m.key,
                platform=m.destination.platform,
                chat=m.destination.chat,
                mode=m.destination.mode,
                target_ref=m.destination.ref,
                recipient=m.destination.recipient,
                card=m.card.to_json(),
                agreement_id=m.agreement_id,
                proposal_id=m.proposal_id,
                created_at=m.at,
            )
        )
    session.add_all(rows)
    return rows


def enqueue(
    session: Session,
    destination: Destination,
    card: Card,
    at: datetime,
    *,
    key: str | None = None,
    agreement_id: str | None = None,
    proposal_id: int | None = None,
) -> OutboxRow | None:
    """Queue `card` for `destination`; with a `key` already queued, nothing new (returns None)."""
    rows = enqueue_all(session, [Message(destination, card, at, key, agreement_id, proposal_id)])
    return rows[0] if rows else None


def pending(session: Session, platform: str, limit: int = 100) -> list[OutboxRow]:
    """Rows not yet delivered on `platform`, oldest first."""
    return list(
        session.scalars(
            select(OutboxRow)
            .where(OutboxRow.platform == platform, OutboxRow.state == "pending")
            .order_by(OutboxRow.id)
            .limit(limit)
        )
    )
