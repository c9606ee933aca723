"""Clicks on our interactive cards (互动卡片), in by Stream mode: DingTalk pushes each as a
CALLBACK frame on `/v1.0/card/instances/callback`, and the SDK answers it with an ack.

A click is stored in the inbox before its ack goes back, under the frame's message id: a frame
sent again is stored once; two clicks are two messages, and the proposal's guarded transition
lets the second change nothing ("already"). The card's chat is the outbox row it was sent from
(its outTrackId names the row), so a click in the group is placed as the group's.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from dingtalk_stream import AckMessage, CallbackHandler, CallbackMessage
from sqlalchemy import Engine

from bot.adapters.dingtalk.audience import GROUP
from bot.adapters.dingtalk.cards import Click, parse_click, row_key_of
from bot.runtime.context import Runtime
from bot.runtime.delivery import delivery_key
from bot.settings import DINGTALK
from bot.storage.db import transaction
from bot.storage.tables import OutboxRow
from handlers.conversation import accept
from handlers.incoming import ButtonPress, Incoming, said_at

log = logging.getLogger(__name__)

TOPIC = "/v1.0/card/instances/callback"
# a box filled on the card is read as the command typed: 调整 P1 60, 拒绝 P1 原因
TYPED_AS = {"adjust": {"zh": "调整", "en": "adjust"}, "reject": {"zh": "拒绝", "en": "reject"}}


def card_chat(engine: Engine, track_id: str) -> str | None:
    """The chat the card `track_id` was sent to, from the outbox row it was made from; None
    for a card this database did not send."""
    key = row_key_of(track_id)
    row_id = key.partition("-")[0] if key else ""
    if not row_id.isdecimal():
        return None
    with transaction(engine) as session:
        row = session.get(OutboxRow, int(row_id))
        if row is None or row.platform != DINGTALK or delivery_key(row) != key:
            return None
        return row.recipient if row.mode == "ephemeral" else row.chat


def click_to_incoming(
    click: Click,
    chat: str | None,
    frame_id: str,
    sent_ms: object,
    now: datetime,
    locale: str = "zh",
) -> Incoming:
    """A click as an `Incoming`: a ButtonPress, or Adjust / Reject with its box filled as the
    text `调整 P1 60` / `拒绝 P1 原因`; said in the card's chat (the clicker's own when it is not
    known)."""
    where = chat or click.user
    try:
        seconds: float | None = float(str(sent_ms)) / 1000
    except ValueError:
        seconds = None
    at, doubted = said_at(seconds, now)
    common: dict[str, Any] = {
        "platform": DINGTALK,
        "chat": where,
        "sender": click.user,
        "message_id": f"card:{frame_id}",
        "at": at,
        "time_doubted": doubted,
        "direct": not where.startswith(GROUP),
        "origin_ref": click.out_track_id,
    }
    typed = {"adjust": click.qty, "reject": click.reason}.get(click.action, "")
    if typed:
        pid = click.proposal.partition("@")[0]
        word = TYPED_AS[click.action].get(locale, TYPED_AS[click.action]["zh"])
        # the box's words go the way a typed message goes: a bad number gets the usual refusal
        return Incoming(text=f"{word} {pid} {typed}", via="form", **common)
    return Incoming(button=ButtonPress(click.action, click.proposal), via="button", **common)


class CardClicks(CallbackHandler):  # type: ignore[misc]
    """Stores each click on our cards in the inbox, then lets the SDK acknowledge it."""

    def __init__(self, runtime: Runtime, on_accepted: Callable[[], None]) -> None:
        super().__init__()
        self.runtime = runtime
        self.on_accepted = on_accepted

    async def process(self, callback: CallbackMessage) -> tuple[int, dict[str, Any]]:
        """Store the click; an ack of 200 once it is stored (the card changes through the
        outbox), 500 (sent again) if it is not."""
        click = parse_click(callback.data or {})
        frame_id = str(callback.headers.message_id or "")
        if click is None or not frame_id:
            return AckMessage.STATUS_OK, {}
        try:
            stored = await asyncio.to_thread(self._store, click, frame_id, callback.headers.time)
        except Exception as err:  # not stored, so not acknowledged: DingTalk sends it again
            log.error("DingTalk card click %s not stored: %s", frame_id, err)
            return AckMessage.STATUS_SYSTEM_EXCEPTION, {}
        if stored is not None:
            self.on_accepted()
        return AckMessage.STATUS_OK, {}

    def _store(self, click: Click, frame_id: str, sent_ms: object) -> int | None:
        chat = card_chat(self.runtime.engine, click.out_track_id)
        incoming = click_to_incoming(click, chat, frame_id, sent_ms, self.runtime.clock(),
                                     self.runtime.config.bot.locale)  # fmt: skip
        return accept(self.runtime.engine, incoming)
