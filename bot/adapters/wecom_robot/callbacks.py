"""What the robot hears, stored: each message or card click goes into the inbox before
anything answers it (a callback WeCom sends again, with the same msgid, is stored once); a
person opening a chat with the robot is welcomed with what to type."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from bot.adapters.wecom_robot.audience import GROUP
from bot.adapters.wecom_robot.connection import RobotConnection
from bot.adapters.wecom_robot.render import welcome_body
from bot.adapters.wecom_robot.translate import (
    CARD_EVENT,
    ENTER_CHAT,
    MESSAGE,
    click_to_incoming,
    event_type,
    message_to_incoming,
)
from bot.runtime.context import Runtime
from handlers.conversation import accept
from handlers.incoming import Incoming

log = logging.getLogger(__name__)

WELCOME = "aibot_respond_welcome_msg"


class RobotCallbacks:
    """Stores each callback's message or click in the inbox, then wakes the inbox worker."""

    def __init__(self, runtime: Runtime, on_accepted: Callable[[], None]) -> None:
        self.runtime = runtime
        self.on_accepted = on_accepted

    async def __call__(self, connection: RobotConnection, frame: dict[str, Any]) -> None:
        """Handle one callback frame (called by the connection, in the order they came)."""
        body = frame.get("body") or {}
        req_id = str((frame.get("headers") or {}).get("req_id") or "")
        now = self.runtime.clock()
        kind = event_type(body)
        if frame.get("cmd") == MESSAGE:
            incoming = message_to_incoming(body, now)
        elif kind == CARD_EVENT:
            incoming = click_to_incoming(body, req_id, now)
        elif kind == ENTER_CHAT:  # answered within WeCom's 5 s, straight away
            await connection.send(WELCOME, welcome_body(self.runtime.config.bot.locale), req_id)
            return
        else:
            return  # feedback and other events ask nothing of the bot
        if incoming is None:
            return
        try:
            stored = await asyncio.to_thread(accept, self.runtime.engine, incoming)
        except Exception as err:  # not stored: WeCom sends the callback again
            log.error("WeCom robot message %s not stored: %s", incoming.message_id, err)
            return
        if incoming.via == "message":  # a group's reply names its message; a person's, them
            connection.remember_reply(incoming.origin_ref or incoming.chat, req_id)
        if stored is not None:
            self.on_accepted()
            self._say_if_unknown_group(incoming)

    def _say_if_unknown_group(self, incoming: Incoming) -> None:
        """A group no agreement names: log its chatid, which is what `wecom_robot_chat` wants."""
        group = incoming.chat.removeprefix(GROUP)
        agreements = self.runtime.config.agreements
        if incoming.direct or any(a.wecom_robot_chat == group for a in agreements):
            return
        log.warning(
            "WeCom robot group %s is no agreement's wecom_robot_chat; to post there, set "
            'wecom_robot_chat = "%s" in its agreement',
            group,
            group,
        )
