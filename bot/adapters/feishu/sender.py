"""Feishu's side of delivery, through the SDK's IM API: a card with buttons (or fields) as an
interactive card, anything else as text (`im.v1.message.create`, to a chat by its chat_id or
to a person by their open_id; the answer to a group message as a reply quoting it,
`im.v1.message.reply`); a pressed card patched in place with the outcome
(`im.v1.message.patch`); a card's picture uploaded (`im.v1.image.create`) and sent after it as
an image message.

Every create and reply carries the outbox row's key as its `uuid`: Feishu sends a message with
a uuid it has seen within the hour only once, so a send cut off by a crash and tried again
reaches the chat once.
"""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import lark_oapi as lark
import requests
from lark_oapi.api.im.v1 import (
    CreateImageRequest,
    CreateImageRequestBody,
    CreateMessageRequest,
    CreateMessageRequestBody,
    PatchMessageRequest,
    PatchMessageRequestBody,
    ReplyMessageRequest,
    ReplyMessageRequestBody,
)
from lark_oapi.core.exception import ObtainAccessTokenException

from bot.adapters.feishu.render import interactive_card, message_content
from bot.runtime.delivery import UNSURE, NeverDeliverable, Outgoing, RetryLater

log = logging.getLogger(__name__)

DEFAULT_API = "https://open.feishu.cn"
PERSON_PREFIX = "ou_"  # an open_id; chat ids start "oc_"
UUID_LIMIT = 50  # Feishu's most for a message's uuid
# Feishu's codes a later try may cure: rate limits (99991400, 230020), its own failures
# (99991401 … internal), an expired or refreshed token (99991663, 99991661); any other code (no
# such chat, the bot not in it, a bad card…) will not, and the row is failed with it.
WITHDRAWN = 230011  # a reply to a message its sender took back
TRY_AGAIN = frozenset({99991400, 99991401, 230020, 99991663, 99991661, 1500, 2200})


def feishu_client(app_id: str, app_secret: str, base_url: str | None = None) -> lark.Client:
    """The SDK's client for the app, at `base_url` (`FEISHU_API_BASE_URL`; None: Feishu's
    own). The SDK fetches and renews the tenant_access_token itself."""
    return (
        lark.Client.builder()
        .app_id(app_id)
        .app_secret(app_secret)
        .domain((base_url or DEFAULT_API).rstrip("/"))
        .timeout(15)
        .log_level(lark.LogLevel.WARNING)
        .build()
    )


class FeishuSender:
    """Sends outbox rows to Feishu; the reference it returns is the message_id."""

    def __init__(self, client: lark.Client) -> None:
        self.client = client

    def send(self, message: Outgoing) -> str:
        """Post, answer, patch a pressed card, or send to one person."""
        if message.mode == "react":
            return ""  # the answer in the chat says it; Feishu's reactions are emoji only
        try:
            if message.mode == "update" and message.target_ref:
                content = json.dumps(interactive_card(message.card), ensure_ascii=False)
                self._patch(message.target_ref, content)
                return message.target_ref
            # a private answer (a refusal to a button) goes to the person's own chat
            to = message.recipient if message.mode == "ephemeral" else message.chat
            kind, content = message_content(message.card)
            ref = ""
            if message.mode == "thread" and message.target_ref:
                try:
                    ref = self._reply(message.target_ref, kind, content, message.key)
                except NeverDeliverable as err:
                    if f"code {WITHDRAWN}:" not in str(err):
                        raise
                    # the message was taken back: the answer goes to the chat all the same
            if not ref:
                ref = self._create(to, kind, content, message.key)
        except (requests.RequestException, OSError) as err:
            raise RetryLater(f"network: {err.__class__.__name__}") from err
        if message.card.image:
            self._picture(message, to)
        return ref

    def _create(self, to: str, kind: str, content: str, key: str) -> str:
        body = CreateMessageRequestBody.builder().receive_id(to).msg_type(kind).content(content)
        if key:
            body = body.uuid(key[:UUID_LIMIT])
        request = (
            CreateMessageRequest.builder()
            .receive_id_type("open_id" if to.startswith(PERSON_PREFIX) else "chat_id")
            .request_body(body.build())
            .build()
        )
        answer = self._call(lambda: self.client.im.v1.message.create(request))
        data = answer.data
        return str(getattr(data, "message_id", "") or "")

    def _reply(self, message_id: str, kind: str, content: str, key: str) -> str:
        """An answer quoting the group message it answers (im.v1.message.reply)."""
        body = ReplyMessageRequestBody.builder().msg_type(kind).content(content)
        if key:
            body = body.uuid(key[:UUID_LIMIT])
        request = (
            ReplyMessageRequest.builder().message_id(message_id).request_body(body.build()).build()
        )
        answer = self._call(lambda: self.client.im.v1.message.reply(request))
        return str(getattr(answer.data, "message_id", "") or "")

    def _patch(self, message_id: str, content: str) -> None:
        request = (
            PatchMessageRequest.builder()
            .message_id(message_id)
            .request_body(PatchMessageRequestBody.builder().content(content).build())
            .build()
        )
        self._call(lambda: self.client.im.v1.message.patch(request))

    def _picture(self, message: Outgoing, to: str) -> None:
        """Send the card's picture after it. The card is out: a failure here is retried as
        maybe sent (the card's repeat is dropped by its uuid); a picture Feishu will never take
        is logged, not failed."""
        try:
            request = (
                CreateImageRequest.builder()
                .request_body(
                    CreateImageRequestBody.builder()
                    .image_type("message")
                    .image(io.BytesIO(message.card.image_bytes()))
                    .build()
                )
                .build()
            )
            answer = self._call(lambda: self.client.im.v1.image.create(request))
            image_key = str(getattr(answer.data, "image_key", "") or "")
            content = json.dumps({"image_key": image_key})
            self._create(to, "image", content, f"{message.key}-img" if message.key else "")
        except (requests.RequestException, OSError) as err:
            raise RetryLater(f"{UNSURE}picture: {err.__class__.__name__}") from err
        except RetryLater as err:
            raise RetryLater(f"{UNSURE}picture: {err}", err.after) from err
        except NeverDeliverable as err:
            log.warning("outbox %s: picture not sent (%s)", message.id, err)

    def _call(self, call: Any) -> Any:
        """One API call; Feishu's answer sorted into done, try later, or never."""
        try:
            answer = call()
        except ObtainAccessTokenException as err:
            raise _sorted(int(err.code or 0), str(err.msg), "tenant_access_token: ") from err
        except ValueError as err:  # not JSON: a proxy's or a load balancer's error page
            raise RetryLater(f"Feishu answered something not JSON: {err}") from err
        status = getattr(answer.raw, "status_code", 200) or 200
        if answer.success():
            return answer
        if status == 429 or status >= 500:
            raise RetryLater(f"Feishu answered HTTP {status} (code {answer.code})")
        raise _sorted(int(answer.code or 0), str(answer.msg or ""))


def _sorted(code: int, msg: str, who: str = "") -> Exception:
    reason = f"{who}code {code}: {msg}"
    if code in TRY_AGAIN:
        return RetryLater(reason)
    return NeverDeliverable(reason)
