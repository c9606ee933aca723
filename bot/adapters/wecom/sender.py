"""WeCom's side of delivery: replies and proposal cards to people as app messages
(`message/send`: text, or a `button_interaction` template card), a pressed card updated
(`message/update_template_card`), and group posts to an app group chat (`appchat/send`) or a
group robot (`webhook/send`, at most 20 a minute).

A card's picture (the monthly review's chart) follows the card as an image message: uploaded
with `media/upload` for a person or an app group chat (`msgtype=image` with its `media_id`),
sent as base64 and md5 to a group robot. Any other file (the shared sheet's workbook) follows
as a `file` message the same way (a robot's file goes through its `upload_media`).

App messages ask WeCom to drop a repeat (`enable_duplicate_check`): a send cut off by a crash
and sent again with the very same body within `DUPLICATE_CHECK_SECONDS` reaches the person once.
Group chats and robots have no such check: a cut-off post there may show twice.
"""

from __future__ import annotations

import base64
import collections
import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import requests
from wechatpy.exceptions import WeChatClientException

from bot.adapters.wecom.audience import APPCHAT, WEBHOOK
from bot.adapters.wecom.client import WeComClient
from bot.adapters.wecom.render import card_markdown, card_text, template_card
from bot.config import Config
from bot.runtime.delivery import UNSURE, NeverDeliverable, Outgoing, RetryLater

log = logging.getLogger(__name__)

FREQUENCY_LIMIT = 45009
INVALID_PARAMETER = 40058  # among others, a template card's response code used already
# WeCom drops a message/send whose body it had in this many seconds: long enough for a restart
# after a crash; short, since the same text to the same person (the same count typed twice in
# a row) is dropped too within it. WeCom's default is 1800, its most 14400.
DUPLICATE_CHECK_SECONDS = 600
# A WeCom card has no box to type in: adjusting (a number) and rejecting (a reason) are typed
# as their text equivalents, which the card lists; only what needs no words is a button.
ONE_PRESS = frozenset({"confirm", "confirm_statement"})
ROBOT_PER_MINUTE = 20
# WeCom's errcodes that a later try may cure (system busy, token renewal, call limits); any
# other (unknown user or chat, bad key, refused content…) will not: the message is failed.
TRY_AGAIN = frozenset({-1, 40014, 42001, 45009, 45033})


class WeComSender:
    """Sends outbox rows to WeCom; returns the message id (or task id) it got."""

    def __init__(
        self,
        client: WeComClient,
        agent_id: int,
        config: Config,
        clock: Callable[[], float] = time.monotonic,
        limit_wait_seconds: float = 60,
    ) -> None:
        self.client = client
        self.limit_wait_seconds = limit_wait_seconds  # after errcode 45009 (frequency limit)
        self.agent_id = agent_id
        self.config = config
        self.clock = clock
        self._robot_sends: dict[str, collections.deque[float]] = collections.defaultdict(
            collections.deque
        )
        self._lock = threading.Lock()

    def send(self, message: Outgoing) -> str:
        """Deliver one row in the way its chat and mode call for."""
        if message.mode == "react":
            return ""  # WeCom has no reactions; the reply says it
        try:
            if message.mode == "update" and message.target_ref:
                return self._update_card(message)
            if message.chat.startswith(WEBHOOK):
                ref = self._robot(message)
            elif message.chat.startswith(APPCHAT):
                self.client.post(
                    "appchat/send",
                    data={
                        "chatid": message.chat.removeprefix(APPCHAT),
                        "msgtype": "markdown",
                        "markdown": {"content": card_markdown(message.card)},
                    },
                )
                ref = message.chat
            else:
                ref = self._to_person(message)
        except WeChatClientException as err:  # APILimitedException (45009) among them
            raise self._client_error(err) from err
        except requests.RequestException as err:
            raise RetryLater(f"network: {err.__class__.__name__}") from err
        if message.card.image:
            self._picture(message)
        return ref

    def _client_error(self, err: WeChatClientException) -> Exception:
        if err.errcode is None:  # an HTTP error, not an answer
            status = getattr(getattr(err, "response", None), "status_code", None)
            return RetryLater(f"WeCom answered HTTP {status}")
        return self._sorted(int(err.errcode), err.errmsg)

    def _picture(self, message: Outgoing) -> None:
        """Send the card's picture after it. The card is out: a failure here is retried as
        maybe sent (a person's repeat of the card is dropped by WeCom's duplicate check); a
        picture WeCom will never take is logged, not failed."""
        try:
            if message.chat.startswith(WEBHOOK) and not message.card.is_picture:
                media_id = self._upload(message, robot=True)
                self._robot_post(message, {"msgtype": "file", "file": {"media_id": media_id}})
                return
            if message.chat.startswith(WEBHOOK):
                data = message.card.image_bytes()
                self._robot_post(message, {"msgtype": "image", "image": {
                    "base64": base64.b64encode(data).decode("ascii"),
                    "md5": hashlib.md5(data).hexdigest(),  # WeCom asks for md5
                }})  # fmt: skip
                return
            media_id = self._upload(message)
            kind = "image" if message.card.is_picture else "file"  # a workbook is a file
            image = {"msgtype": kind, kind: {"media_id": media_id}}
            if message.chat.startswith(APPCHAT):
                self.client.post(
                    "appchat/send", data={"chatid": message.chat.removeprefix(APPCHAT), **image}
                )
            else:
                person = message.recipient if message.mode == "ephemeral" else message.chat
                self.client.post(
                    "message/send", data={"touser": person, "agentid": self.agent_id, **image}
                )
        except WeChatClientException as err:
            problem = self._client_error(err)
        except requests.RequestException as err:
            problem = RetryLater(f"network: {err.__class__.__name__}")
        except RetryLater as err:
            problem = err
        except NeverDeliverable as err:
            problem = err
        else:
            return
        if isinstance(problem, RetryLater):
            raise RetryLater(f"{UNSURE}picture: {problem}", problem.after) from problem
        log.warning("outbox %s: picture not sent (%s)", message.id, problem)

    def _upload(self, message: Outgoing, robot: bool = False) -> str:
        """The picture or file uploaded as temporary media (three days): its media_id."""
        card = message.card
        name = card.image_name or "picture.png"
        media = {"media": (name, card.image_bytes(), card.media_type)}
        kind = "image" if card.is_picture else "file"
        if robot:  # a group robot takes files uploaded to its own webhook key
            return self._robot_upload(message, media)
        answer = self.client.post("media/upload", params={"type": kind}, files=media)
        return str(answer["media_id"])

    def _to_person(self, message: Outgoing) -> str:
        person = message.recipient if message.mode == "ephemeral" else message.chat
        body: dict[str, object] = {
            "touser": person,
            "agentid": self.agent_id,
            "enable_duplicate_check": 1,
            "duplicate_check_interval": DUPLICATE_CHECK_SECONDS,
        }
        pressable = tuple(b for b in message.card.buttons if b.action in ONE_PRESS)
        if pressable:
            task_id = f"vmi-{message.id}"  # one task per card version: a row is sent once
            card = replace(message.card, buttons=pressable)
            body.update(msgtype="template_card", template_card=template_card(card, task_id))
        else:
            body.update(msgtype="text", text={"content": card_text(message.card)})
        answer = self.client.post("message/send", data=body)
        return str(answer.get("msgid", ""))

    def _update_card(self, message: Outgoing) -> str:
        try:
            self.client.post(
                "message/update_template_card",
                data={
                    "userids": [message.recipient],
                    "agentid": self.agent_id,
                    "response_code": message.target_ref,
                    "button": {"replace_name": message.card.title[:40]},
                },
            )
        except WeChatClientException as err:
            # a response code is good for one update: refused after a cut-off try, it was used
            if (
                message.maybe_sent
                and err.errcode is not None
                and int(err.errcode) == INVALID_PARAMETER
            ):
                return message.target_ref
            raise
        return message.target_ref

    def _robot(self, message: Outgoing) -> str:
        return self._robot_post(
            message, {"msgtype": "markdown", "markdown": {"content": card_markdown(message.card)}}
        )

    def _robot_post(self, message: Outgoing, body: dict[str, Any]) -> str:
        """One group robot message, within its 20 a minute."""
        agreement = self.config.agreement(message.chat.removeprefix(WEBHOOK))
        key = agreement.wecom_webhook_key if agreement else None
        if not key:
            raise NeverDeliverable("no wecom_webhook_key for this agreement")
        self._space_robot(key)
        answer = requests.post(
            f"{self.client.root}/cgi-bin/webhook/send", params={"key": key}, json=body, timeout=15
        )
        if answer.status_code >= 500:
            raise RetryLater(f"group robot answered HTTP {answer.status_code}")
        result = answer.json()
        errcode = int(result.get("errcode", 0))
        if errcode:
            raise self._sorted(errcode, result.get("errmsg", ""), "group robot: ")
        return message.chat

    def _robot_upload(self, message: Outgoing, media: dict[str, Any]) -> str:
        """A file uploaded for a group robot (`webhook/upload_media`): its media_id."""
        agreement = self.config.agreement(message.chat.removeprefix(WEBHOOK))
        key = agreement.wecom_webhook_key if agreement else None
        if not key:
            raise NeverDeliverable("no wecom_webhook_key for this agreement")
        answer = requests.post(
            f"{self.client.root}/cgi-bin/webhook/upload_media",
            params={"key": key, "type": "file"}, files=media, timeout=30,
        )  # fmt: skip
        if answer.status_code >= 500:
            raise RetryLater(f"group robot answered HTTP {answer.status_code}")
        result = answer.json()
        errcode = int(result.get("errcode", 0))
        if errcode:
            raise self._sorted(errcode, result.get("errmsg", ""), "group robot: ")
        return str(result["media_id"])

    def _sorted(self, errcode: int, errmsg: str, who: str = "") -> Exception:
        """WeCom's errcode as try-later (45009: after the limit's wait) or never."""
        reason = f"{who}errcode {errcode}: {errmsg}"
        if errcode == FREQUENCY_LIMIT:
            return RetryLater(reason, after=self.limit_wait_seconds)
        if errcode in TRY_AGAIN:
            return RetryLater(reason)
        return NeverDeliverable(reason)

    def _space_robot(self, key: str) -> None:
        """Keep within the robot's 20 messages a minute: wait for a place, or try later."""
        with self._lock:
            sent = self._robot_sends[key]
            now = self.clock()
            while sent and now - sent[0] >= 60:
                sent.popleft()
            if len(sent) >= ROBOT_PER_MINUTE:
                raise RetryLater("group robot: 20 a minute", after=60 - (now - sent[0]))
            sent.append(now)
