"""The robot's side of delivery, through its long connection: a reply to a message still
fresh (WeCom waits 5 s) as its answer (`aibot_respond_msg`), anything else pushed
(`aibot_send_msg`: markdown, or a template card with buttons); a clicked card updated with the
outcome while its click is fresh (`aibot_respond_update_msg`), else the outcome said in the chat.

Only the process holding the connection can send: `ready` tells delivery so, and rows wait in
the outbox meanwhile. A send cut off by a drop after its frame went out is retried as maybe sent;
WeCom has no duplicate check for it, so such a message may show twice. A chat takes at most 30
messages a minute and 1000 an hour: more waits. A card's picture or file (the review's chart,
the sheet's workbook) is not sent: the robot takes media only uploaded in chunks over the
connection, which this sender does not do yet.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from bot.adapters.wecom_robot.audience import GROUP
from bot.adapters.wecom_robot.connection import NotConnected, Refused, RobotConnection, Unsure
from bot.adapters.wecom_robot.render import message_body, reply_body, task_id, updated_card
from bot.adapters.wecom_robot.translate import REF_SEPARATOR
from bot.runtime.delivery import UNSURE, NeverDeliverable, Outgoing, RetryLater
from messages.cards import Card

log = logging.getLogger(__name__)

ANSWER_WITHIN = 4.0  # seconds: WeCom takes an answer to a callback within 5
SINGLE, GROUP_CHAT = 1, 2  # aibot_send_msg's chat_type
PER_MINUTE, PER_HOUR = 30, 1000
# errcodes a later try may cure: system busy, call frequency
TRY_AGAIN = frozenset({-1, 45009, 45033})


class WeComRobotSender:
    """Sends outbox rows through the robot's connection; returns the card's task id (or the
    answered callback's req_id)."""

    def __init__(
        self, connection: RobotConnection, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.connection = connection
        self.clock = clock
        self._sent: dict[str, collections.deque[float]] = collections.defaultdict(collections.deque)
        self._lock = threading.Lock()

    def ready(self) -> bool:
        """This process holds the connection now: its rows can go."""
        return self.connection.ready()

    def send(self, message: Outgoing) -> str:
        """Deliver one row the way its mode calls for."""
        if message.mode == "react":
            return ""  # the robot cannot react; the reply says it
        task = task_id(message.key or str(message.id))
        try:
            if message.mode == "update" and message.target_ref:
                return self._update(message, task)
            # a group's reply names the message it answers; one to one, the person is enough
            said = message.target_ref if message.mode == "thread" else message.chat
            return self._post(message.chat, message.card, task,
                              answer=said if message.mode != "ephemeral" else "")  # fmt: skip
        except NotConnected as err:
            raise RetryLater(f"WeCom robot: {err}") from err
        except Unsure as err:
            raise RetryLater(f"{UNSURE}WeCom robot: {err}") from err
        except Refused as err:
            reason = f"WeCom robot: {err}"
            if err.errcode in TRY_AGAIN:
                raise RetryLater(reason, after=60 if err.errcode != -1 else None) from err
            raise NeverDeliverable(reason) from err

    def _post(self, chat: str, card: Card, task: str, *, answer: str) -> str:
        """As the answer to the message `answer` names while it is fresh, else pushed."""
        self._space(chat)
        reply_to = self.connection.take_reply(answer, ANSWER_WITHIN) if answer else None
        if reply_to is not None:
            try:
                self.connection.request("aibot_respond_msg", reply_body(card, task), reply_to)
                return reply_to
            except Refused as err:  # too late after all, or refused as an answer: push it
                log.info("WeCom robot: answer refused (%s); pushed instead", err)
        in_group = chat.startswith(GROUP)
        body: dict[str, Any] = {
            "chatid": chat.removeprefix(GROUP),
            "chat_type": GROUP_CHAT if in_group else SINGLE,
            **message_body(card, task),
        }
        self.connection.request("aibot_send_msg", body)
        return task

    def _update(self, message: Outgoing, task: str) -> str:
        """The clicked card shows the outcome; too late for that, the chat hears it."""
        req_id, _, card_task = message.target_ref.partition(REF_SEPARATOR)
        if card_task and self.connection.fresh(req_id, ANSWER_WITHIN):
            try:
                self.connection.request(
                    "aibot_respond_update_msg", updated_card(message.card, card_task), req_id
                )
                return message.target_ref
            except Refused as err:
                log.info("WeCom robot: card not updated (%s); the outcome is posted", err)
        return self._post(message.chat, message.card, task, answer="")

    def _space(self, chat: str) -> None:
        """Keep within a chat's 30 messages a minute and 1000 an hour: wait for a place."""
        with self._lock:
            sent = self._sent[chat]
            now = self.clock()
            while sent and now - sent[0] >= 3600:
                sent.popleft()
            last_minute = [t for t in sent if now - t < 60]
            if len(last_minute) >= PER_MINUTE:
                raise RetryLater("WeCom robot: 30 a minute in this chat",
                                 after=60 - (now - last_minute[0]))  # fmt: skip
            if len(sent) >= PER_HOUR:
                raise RetryLater("WeCom robot: 1000 an hour in this chat",
                                 after=3600 - (now - sent[0]))  # fmt: skip
            sent.append(now)
