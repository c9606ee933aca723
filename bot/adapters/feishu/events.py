"""Feishu's events as `Incoming`: `im.message.receive_v1` (one to one, and in a group when the
bot is mentioned) and `card.action.trigger` (a card's button). One SDK dispatcher serves both
ways in: the HTTP callback (`http.py`) and the long connection (`long_connection.py`); each
event is stored in the inbox before the SDK answers Feishu, and handled right after.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

import lark_oapi as lark
from lark_oapi.api.im.v1 import P2ImMessageReceiveV1
from lark_oapi.event.callback.model.p2_card_action_trigger import (
    P2CardActionTrigger,
    P2CardActionTriggerResponse,
)

from bot.adapters.feishu.render import QTY_FIELD, parse_value
from bot.runtime.context import Runtime
from bot.settings import FEISHU
from handlers.conversation import accept
from handlers.incoming import ButtonPress, Incoming, said_at

log = logging.getLogger(__name__)

# A mention in a message's text is a placeholder (`@_user_1`), its person in `mentions`.
MENTION_KEY = re.compile(r"@_user_\d+|@_all")


def _ms(value: object) -> float | None:
    """Feishu's time of an event (milliseconds; a card callback's header may count
    microseconds), a number or its text, as Unix seconds; None when not one."""
    try:
        number = int(str(value))
    except ValueError:
        return None
    return number / 1_000_000 if number >= MICROSECONDS_FROM else number / 1000


# 10^14 ms is the year 5138; 10^14 µs is 1973: anything this large counts microseconds
MICROSECONDS_FROM = 10**14


def message_to_incoming(event: P2ImMessageReceiveV1, now: datetime) -> Incoming | None:
    """A received message as an `Incoming`: text said by a person; else None (stickers,
    pictures, other bots)."""
    body = event.event
    message = body.message if body else None
    sender = body.sender if body else None
    if message is None or sender is None or sender.sender_type not in (None, "user"):
        return None
    who = sender.sender_id.open_id if sender.sender_id else None
    if not who or not message.message_id or not message.chat_id:
        return None
    if message.message_type != "text":
        return None
    try:
        content = json.loads(message.content or "{}")
    except ValueError:
        return None
    text = content.get("text") if isinstance(content, dict) else None
    if not isinstance(text, str):
        return None
    direct = message.chat_type == "p2p"
    mentions = [m.key for m in message.mentions or [] if m.key]
    seconds = _ms(message.create_time)
    at, doubted = said_at(seconds, now)
    return Incoming(
        platform=FEISHU,
        chat=message.chat_id,
        sender=who,
        message_id=f"msg:{message.message_id}",  # Feishu may send an event again: one id
        at=at,
        time_doubted=doubted,
        text=MENTION_KEY.sub(" ", text).strip(),
        direct=direct,
        # with the usual permission a group message reaches the bot only when it is mentioned
        addressed=direct or bool(mentions),
        origin_ref=message.message_id,
        thread_ref=message.root_id or "",
    )


def action_to_incoming(
    event: P2CardActionTrigger, now: datetime, event_id: str = ""
) -> Incoming | None:
    """A pressed card button as an `Incoming`: a ButtonPress, or Adjust's form as the text
    `adjust P1 60`; None for anything this bot's cards do not carry."""
    data = event.event
    action = data.action if data else None
    who = data.operator.open_id if data and data.operator else None
    context = data.context if data else None
    if action is None or not who or context is None:
        return None
    pressed = parse_value(action.value)
    if pressed is None:
        return None
    name, value = pressed
    chat = context.open_chat_id or who
    card = context.open_message_id or ""
    header = event.header
    seconds = _ms(header.create_time) if header and header.create_time else None
    at, doubted = said_at(seconds, now)
    ident = event_id or (header.event_id if header else "") or ""
    common: dict[str, Any] = {
        "platform": FEISHU,
        "chat": chat,
        "sender": who,
        "message_id": f"act:{ident or f'{card}:{who}:{name}:{value}'}",
        "at": at,
        "time_doubted": doubted,
        "direct": False,
        "origin_ref": card,
    }
    if name == "adjust":
        form = action.form_value if isinstance(action.form_value, dict) else {}
        qty = form.get(QTY_FIELD)
        typed = qty.strip() if isinstance(qty, str) else ""
        # the box's words go the way a typed message goes: a bad number gets the usual refusal
        return Incoming(text=f"adjust {value} {typed}".strip(), via="form", **common)
    return Incoming(button=ButtonPress(name, value), via="button", **common)


def build_dispatcher(
    runtime: Runtime,
    encrypt_key: str,
    verification_token: str,
    on_accepted: Callable[[], None] = lambda: None,
) -> lark.EventDispatcherHandler:
    """The SDK's dispatcher with our two listeners: each stores what it hears and returns;
    a store that fails raises, and Feishu hears an error and sends the event again."""

    def take(incoming: Incoming | None) -> None:
        if incoming is not None and accept(runtime.engine, incoming) is not None:
            on_accepted()

    def on_message(event: P2ImMessageReceiveV1) -> None:
        take(message_to_incoming(event, runtime.clock()))

    def on_action(event: P2CardActionTrigger) -> P2CardActionTriggerResponse:
        take(action_to_incoming(event, runtime.clock()))
        # the card is patched through the outbox with the outcome; nothing to show at once
        return P2CardActionTriggerResponse({})

    return (
        lark.EventDispatcherHandler.builder(encrypt_key, verification_token)
        .register_p2_im_message_receive_v1(on_message)
        .register_p2_card_action_trigger(on_action)
        .build()
    )
