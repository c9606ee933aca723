"""The outbox: every message the bot will send is first a row here, written in the same
transaction as the change it announces. Delivery reads it; nothing is sent from a handler."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlmodel import Session

from bot.config import AgreementConfig
from bot.tables import OutboxRow
from messages.cards import Card

CONSOLE = "console"
SLACK = "slack"
WECOM = "wecom"


@dataclass(frozen=True)
class Destination:
    """Where a message goes: a platform and a chat (channel, group chat or person) on it."""

    platform: str
    chat: str


def platforms_on(env: Mapping[str, str] | None = None) -> frozenset[str]:
    """The platforms whose credentials are in the environment; the console is always on."""
    env = os.environ if env is None else env
    on = {CONSOLE}
    if env.get("SLACK_BOT_TOKEN") and (
        env.get("SLACK_SIGNING_SECRET") or env.get("SLACK_APP_TOKEN")
    ):
        on.add(SLACK)
    if all(env.get(k) for k in ("WECOM_CORP_ID", "WECOM_CORP_SECRET", "WECOM_AGENT_ID")):
        on.add(WECOM)
    return frozenset(on)


def group_destinations(agreement: AgreementConfig, platforms: frozenset[str]) -> list[Destination]:
    """The agreement's group chat on every platform that is on and configured for it."""
    found = []
    if CONSOLE in platforms:
        found.append(Destination(CONSOLE, agreement.id))
    if SLACK in platforms and agreement.slack_channel:
        found.append(Destination(SLACK, agreement.slack_channel))
    if WECOM in platforms and (agreement.wecom_chat or agreement.wecom_webhook_key):
        found.append(Destination(WECOM, agreement.wecom_chat or f"webhook:{agreement.id}"))
    return found


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
    if key is not None:
        found = session.scalars(select(OutboxRow.id).where(OutboxRow.key == key)).first()
        if found is not None:
            return None
    row = OutboxRow(
        key=key,
        platform=destination.platform,
        chat=destination.chat,
        card=card.to_json(),
        agreement_id=agreement_id,
        proposal_id=proposal_id,
        created_at=at,
    )
    session.add(row)
    return row


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
