"""The robot's callbacks (aibot_msg_callback, aibot_event_callback) as `Incoming`. Pure
translation, no I/O.

One to one, the chat is the person's userid; in a group, `group:<chatid>`, and the text starts
with the robot's @mention, which is stripped. A message's id is WeCom's msgid, which a callback
sent again keeps: the inbox stores it once. A card click names its button's key ("confirm:P1@55",
as the self-built app's cards make it) and carries the click's req_id and the card's task id,
which its answer needs to update the card.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from bot.adapters.wecom.render import parse_button_key
from bot.adapters.wecom_robot.audience import GROUP
from bot.settings import WECOM_ROBOT
from handlers.incoming import ButtonPress, Incoming, said_at

MESSAGE = "aibot_msg_callback"
EVENT = "aibot_event_callback"
CARD_EVENT = "template_card_event"
ENTER_CHAT = "enter_chat"
DISCONNECTED = "disconnected_event"
SINGLE = "single"
REF_SEPARATOR = "|"  # between a click's req_id and its card's task id (neither has one)
# a group message starts with the robot's mention ("@VMI助手 确认 P1"), and WeCom leaves it in
_MENTION = re.compile(r"^\s*@\S+\s*")


def _seconds(value: Any) -> float | None:
    """create_time as Unix seconds (WeCom's in seconds; milliseconds read as such too)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number / 1000 if number > 1e11 else number


def _where(body: dict[str, Any], sender: str) -> tuple[str, bool] | None:
    """The chat (the person, or `group:<chatid>`) and whether it is one to one."""
    if body.get("chattype") == SINGLE:
        return sender, True
    chatid = str(body.get("chatid") or "")
    return (f"{GROUP}{chatid}", False) if chatid else None


def message_to_incoming(body: dict[str, Any], now: datetime) -> Incoming | None:
    """A message callback's body as an `Incoming`: its text, or nothing (answered with what to
    type) for a picture, a file or a voice; None when it names no message or sender."""
    sender = str((body.get("from") or {}).get("userid") or "")
    msgid = str(body.get("msgid") or "")
    where = _where(body, sender)
    if not sender or not msgid or where is None:
        return None
    chat, direct = where
    said = body.get("text") if body.get("msgtype") == "text" else None
    text = str((said or {}).get("content") or "")
    at, doubted = said_at(_seconds(body.get("create_time")), now)
    return Incoming(
        platform=WECOM_ROBOT,
        chat=chat,
        sender=sender,
        message_id=f"msg:{msgid}",
        at=at,
        text=text.strip() if direct else _MENTION.sub("", text, count=1).strip(),
        direct=direct,
        addressed=True,  # in a group the robot hears only what @mentions it
        origin_ref="" if direct else msgid,
        time_doubted=doubted,
    )


def event_type(body: dict[str, Any]) -> str:
    """An event callback's eventtype ("" when it has none)."""
    return str((body.get("event") or {}).get("eventtype") or "")


def click_to_incoming(body: dict[str, Any], req_id: str, now: datetime) -> Incoming | None:
    """A template card's button click as an `Incoming` with the button pressed; None for a
    key this bot did not make or a click that names no sender."""
    event = (body.get("event") or {}).get(CARD_EVENT) or {}
    sender = str((body.get("from") or {}).get("userid") or "")
    pressed = parse_button_key(str(event.get("event_key") or ""))
    msgid = str(body.get("msgid") or "")
    where = _where(body, sender)
    if pressed is None or not sender or not msgid or where is None:
        return None
    chat, direct = where
    at, doubted = said_at(_seconds(body.get("create_time")), now)
    return Incoming(
        platform=WECOM_ROBOT,
        chat=chat,
        sender=sender,
        message_id=f"evt:{msgid}",
        at=at,
        button=ButtonPress(*pressed),
        direct=direct,
        via="button",
        origin_ref=f"{req_id}{REF_SEPARATOR}{event.get('task_id') or ''}",
        time_doubted=doubted,
    )
