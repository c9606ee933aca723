"""DingTalk's side of delivery: the robot's messages to a person (`oToMessages/batchSend`) or
to the agreement's group (`groupMessages/send`), with the robot's code; markdown, or an
ActionCard whose buttons send their text back; posts to a custom group robot's webhook,
signed (加签) with the timestamp and HMAC-SHA256 of its secret.

With a card template id, a proposal card is an interactive card (互动卡片) instead, made and
delivered in one call (`card/instances/createAndDeliver`) under an outTrackId made from the
outbox row's key, so a send tried again names the same card and makes no second one; the
answer to a click on it, and the proposal's next version, change it in place
(PUT `card/instances`, by key). Anything else asked to change in place is sent anew.

A card's picture (the monthly review's chart) follows it as an image message, uploaded as
media first; a custom robot cannot send uploaded pictures, so there it is left out.
DingTalk has no duplicate check: a send cut off by a crash and sent again may show twice.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests

from bot.adapters.dingtalk.audience import GROUP, WEBHOOK
from bot.adapters.dingtalk.cards import (
    card_params,
    open_space,
    out_track_id,
    outcome_params,
    row_key_of,
)
from bot.adapters.dingtalk.client import DingTalkApi, DingTalkError
from bot.adapters.dingtalk.render import msg_param, robot_message, webhook_body
from bot.config import Config
from bot.runtime.delivery import UNSURE, NeverDeliverable, Outgoing, RetryLater

log = logging.getLogger(__name__)

ROBOT_TOO_FAST = 130101  # a custom robot's 20 messages a minute
DEFAULT_OAPI = "https://oapi.dingtalk.com"  # media upload lives on the older API's host


def signed_webhook(url: str, secret: str, now_ms: int) -> str:
    """A custom robot's webhook URL with `timestamp` and `sign` added, as DingTalk documents
    加签: base64 of HMAC-SHA256 over "timestamp\\nsecret", keyed with the secret."""
    digest = hmac.new(secret.encode(), f"{now_ms}\n{secret}".encode(), hashlib.sha256).digest()
    parts = urlsplit(url)
    query = [*parse_qsl(parts.query), ("timestamp", str(now_ms)),
             ("sign", base64.b64encode(digest).decode("ascii"))]  # fmt: skip
    return urlunsplit(parts._replace(query=urlencode(query)))


class DingTalkSender:
    """Sends outbox rows to DingTalk; returns DingTalk's processQueryKey (or the chat)."""

    def __init__(
        self,
        api: DingTalkApi,
        robot_code: str,
        config: Config,
        oapi_root: str = DEFAULT_OAPI,
        clock_ms: Callable[[], int] = lambda: int(time.time() * 1000),
        card_template_id: str = "",
    ) -> None:
        self.api = api
        self.robot_code = robot_code
        self.config = config
        self.oapi_root = oapi_root.rstrip("/")
        self.clock_ms = clock_ms
        self.card_template_id = card_template_id  # empty: ActionCards, no interactive cards

    def send(self, message: Outgoing) -> str:
        """Deliver one row the way its chat calls for."""
        if message.mode == "react":
            return ""  # DingTalk's robot cannot react; the reply says it
        try:
            if message.chat.startswith(WEBHOOK):
                return self._webhook(message)
            if message.mode == "update" and row_key_of(message.target_ref) is not None:
                return self._update_card(message)
            params = (
                card_params(message.card, group=self._in_group(message))
                if self.card_template_id
                else None
            )
            if params is not None:
                ref = self._deliver_card(message, params)
            else:
                group = self._in_group(message)
                ref = self._robot(message, *robot_message(message.card, group=group))
        except DingTalkError as err:
            raise self._sorted(err) from err
        except requests.RequestException as err:
            raise RetryLater(f"{UNSURE}{err.__class__.__name__}") from err
        if message.card.image:
            self._picture(message)
        return ref

    @staticmethod
    def _in_group(message: Outgoing) -> bool:
        # an answer meant for one person (a refusal to a press) goes to them one to one
        return message.chat.startswith(GROUP) and message.mode != "ephemeral"

    def _robot(self, message: Outgoing, key: str, param: dict[str, str]) -> str:
        body: dict[str, Any] = {"robotCode": self.robot_code, "msgKey": key,
                                "msgParam": msg_param(param)}  # fmt: skip
        if self._in_group(message):
            body["openConversationId"] = message.chat.removeprefix(GROUP)
            answer = self.api.post("/v1.0/robot/groupMessages/send", body)
            return str(answer.get("processQueryKey", message.chat))
        person = message.recipient if message.mode == "ephemeral" else message.chat
        body["userIds"] = [person]
        answer = self.api.post("/v1.0/robot/oToMessages/batchSend", body)
        if person in (answer.get("invalidStaffIdList") or []):
            raise NeverDeliverable(f"DingTalk knows no staffId {person!r} in this organisation")
        if person in (answer.get("flowControlledStaffIdList") or []):
            raise RetryLater("DingTalk: flow control for this person", after=60)
        return str(answer.get("processQueryKey", ""))

    def _deliver_card(self, message: Outgoing, params: dict[str, str]) -> str:
        """The card as an interactive card (createAndDeliver), in the group or to the person;
        its outTrackId is the row's key, so a send tried again names the same card."""
        track = out_track_id(message.key or str(message.id))
        body: dict[str, Any] = {
            "cardTemplateId": self.card_template_id,
            "outTrackId": track,
            "callbackType": "STREAM",
            "cardData": {"cardParamMap": params},
            "userIdType": 1,  # userId is the staffId
        }
        if self._in_group(message):
            body["openSpaceId"] = open_space(message.chat.removeprefix(GROUP), group=True)
            body["imGroupOpenSpaceModel"] = {"supportForward": False}
            body["imGroupOpenDeliverModel"] = {"robotCode": self.robot_code}
        else:
            person = message.recipient if message.mode == "ephemeral" else message.chat
            body["openSpaceId"] = open_space(person, group=False)
            body["imRobotOpenSpaceModel"] = {"supportForward": False}
            body["imRobotOpenDeliverModel"] = {"spaceType": "IM_ROBOT"}
        answer = self.api.post("/v1.0/card/instances/createAndDeliver", body)
        result = answer.get("result") if isinstance(answer.get("result"), dict) else {}
        failed = [r for r in (result or {}).get("deliverResults") or []
                  if isinstance(r, dict) and r.get("success") is False]  # fmt: skip
        if failed:
            raise NeverDeliverable(f"DingTalk did not deliver card {track}: {failed[0]}")
        return track

    def _update_card(self, message: Outgoing) -> str:
        """An interactive card changed for everyone who sees it: a proposal's new version with
        its buttons (resized), or the answer to a click and no more buttons."""
        params = card_params(message.card, group=message.chat.startswith(GROUP))
        body = {
            "outTrackId": message.target_ref,
            "cardData": {"cardParamMap": params or outcome_params(message.card)},
            "cardUpdateOptions": {"updateCardDataByKey": True},
        }
        try:
            self.api.call("PUT", "/v1.0/card/instances", body)
        except DingTalkError as err:
            if err.passing:
                raise
            # DingTalk will not change that card (gone, never made): the answer is sent anew,
            # to the person who clicked, or as a new card in its chat
            log.warning("card %s not updated (%s): sent anew", message.target_ref, err)
            if message.recipient:
                anew = replace(message, mode="ephemeral", target_ref="")
                return self._robot(anew, *robot_message(message.card))
            return self.send(replace(message, mode="post", target_ref=""))
        return message.target_ref

    def _picture(self, message: Outgoing) -> None:
        """Send the card's picture after it; the card is out, so a failure here is retried as
        maybe sent, and a picture DingTalk will never take is logged, not failed."""
        try:
            media_id = self._upload(message)
            self._robot(message, "sampleImageMsg", {"photoURL": media_id})
        except (DingTalkError, requests.RequestException) as err:
            problem = self._sorted(err) if isinstance(err, DingTalkError) else RetryLater(str(err))
            if isinstance(problem, RetryLater):
                raise RetryLater(f"{UNSURE}picture: {problem}", problem.after) from err
            log.warning("outbox %s: picture not sent (%s)", message.id, problem)

    def _upload(self, message: Outgoing) -> str:
        """The picture uploaded as media: its media_id (the image message's photoURL)."""
        name = message.card.image_name or "picture.png"
        response = self.api.http.post(
            f"{self.oapi_root}/media/upload",
            params={"access_token": self.api.token(), "type": "image"},
            files={"media": (name, message.card.image_bytes(), "image/png")},
            timeout=self.api.timeout,
        )
        answer = response.json() if response.content else {}
        if response.status_code >= 400 or int(answer.get("errcode", 0)):
            raise DingTalkError(response.status_code, str(answer.get("errcode", "")),
                                str(answer.get("errmsg", "")))  # fmt: skip
        return str(answer["media_id"])

    def _webhook(self, message: Outgoing) -> str:
        """One post to the agreement's custom group robot, signed when it has a secret."""
        agreement = self.config.agreement(message.chat.removeprefix(WEBHOOK))
        url = agreement.dingtalk_webhook if agreement else None
        if agreement is None or not url:
            raise NeverDeliverable("no dingtalk_webhook for this agreement")
        if agreement.dingtalk_webhook_secret:
            url = signed_webhook(url, agreement.dingtalk_webhook_secret, self.clock_ms())
        try:
            response = requests.post(url, json=webhook_body(message.card), timeout=15)
        except requests.RequestException as err:
            raise RetryLater(f"{UNSURE}{err.__class__.__name__}") from err
        if response.status_code >= 500:
            raise RetryLater(f"custom robot answered HTTP {response.status_code}")
        try:
            answer = response.json()
        except ValueError:
            raise RetryLater(f"custom robot answered HTTP {response.status_code}") from None
        errcode = int(answer.get("errcode", 0))
        if errcode == ROBOT_TOO_FAST:
            raise RetryLater("custom robot: 20 a minute", after=60)
        if errcode:  # 310000: a wrong signature, keyword or address; 300001: a wrong token
            raise NeverDeliverable(f"custom robot: errcode {errcode}: {answer.get('errmsg', '')}")
        return message.chat

    @staticmethod
    def _sorted(err: DingTalkError) -> Exception:
        reason = f"DingTalk {err}"
        if err.passing:
            return RetryLater(reason, after=60 if err.status == 429 else None)
        return NeverDeliverable(reason)
