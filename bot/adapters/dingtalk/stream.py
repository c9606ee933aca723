"""DingTalk's robot messages in, by Stream mode: the bot opens a websocket to DingTalk (no
public URL, no callback to register), DingTalk pushes each message the robot hears as a
CALLBACK frame on `/v1.0/im/bot/messages/get`, and the SDK answers it with an ack.

A message is stored in the inbox before its ack goes back (DingTalk sends again what is not
acknowledged); a message sent again (same msgId) is stored once. Frames are handled one after
another, so a chat's messages keep their order. The connection is opened again with backoff
when it drops or DingTalk asks to reconnect (SYSTEM `disconnect`), and closed on `stop`.
Clicks on interactive cards come over the same connection (`clicks.py`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import quote_plus

import requests
import websockets
from dingtalk_stream import (
    AckMessage,
    CallbackMessage,
    ChatbotHandler,
    ChatbotMessage,
    Credential,
    DingTalkStreamClient,
)

from bot.adapters.dingtalk.audience import GROUP
from bot.adapters.long_connection import LongConnection
from bot.runtime.context import Runtime
from bot.settings import DINGTALK
from handlers.conversation import accept
from handlers.incoming import Incoming, said_at

log = logging.getLogger(__name__)

ONE_TO_ONE = "1"  # conversationType; "2" is a group
BACKOFF_MAX_SECONDS = 60.0
# a group message starts with the robot's mention ("@VMI助手 确认 P1"), and DingTalk leaves it in
_MENTION = re.compile(r"^(\s*@\S+)+\s*")


class CredentialsRefused(Exception):
    """DingTalk refused the app's client id or secret."""


def robot_message_to_incoming(data: dict[str, Any], now: datetime) -> Incoming | None:
    """A robot message (the CALLBACK's data) as an `Incoming`, one to one or in a group that
    @mentioned the robot (the only ones DingTalk sends): its text, the text parts of a rich
    text, none of a picture, voice or file (answered with what to type); None when it names
    no message or sender."""
    try:
        message = ChatbotMessage.from_dict(data)
        parts = message.get_text_list() or []
    except (KeyError, TypeError, ValueError, AttributeError):  # a payload not shaped as documented
        return None
    sender = message.sender_staff_id or message.sender_id or ""
    if not message.message_id or not sender:
        return None
    direct = message.conversation_type == ONE_TO_ONE
    text = "\n".join(str(part or "") for part in parts)
    created = message.create_at
    at, doubted = said_at(float(created) / 1000 if created else None, now)
    return Incoming(
        platform=DINGTALK,
        chat=sender if direct else f"{GROUP}{message.conversation_id}",
        sender=sender,
        message_id=f"msg:{message.message_id}",
        at=at,
        text=text.strip() if direct else _MENTION.sub("", text, count=1).strip(),
        direct=direct,
        addressed=True,  # in a group the robot hears only what @mentions it
        origin_ref="" if direct else str(message.message_id),
        time_doubted=doubted,
    )


class RobotMessages(ChatbotHandler):  # type: ignore[misc]
    """Stores each robot message in the inbox, then lets the SDK acknowledge it."""

    def __init__(self, runtime: Runtime, on_accepted: Callable[[], None]) -> None:
        super().__init__()
        self.runtime = runtime
        self.on_accepted = on_accepted

    async def process(self, callback: CallbackMessage) -> tuple[int, str]:
        """Store the message; an ack of 200 once it is stored, 500 (sent again) if it is not."""
        incoming = robot_message_to_incoming(callback.data or {}, self.runtime.clock())
        if incoming is None:
            return AckMessage.STATUS_OK, "ignored"
        try:
            stored = await asyncio.to_thread(accept, self.runtime.engine, incoming)
        except Exception as err:  # not stored, so not acknowledged: DingTalk sends it again
            log.error("DingTalk message %s not stored: %s", incoming.message_id, err)
            return AckMessage.STATUS_SYSTEM_EXCEPTION, "not stored"
        if stored is not None:
            self.on_accepted()
            self._say_if_unknown_group(incoming, callback.data or {})
        return AckMessage.STATUS_OK, "OK"

    def _say_if_unknown_group(self, incoming: Incoming, data: dict[str, Any]) -> None:
        """A group no agreement names: log its id, which is what `dingtalk_chat` wants."""
        group = incoming.chat.removeprefix(GROUP)
        if incoming.direct or any(a.dingtalk_chat == group for a in self.runtime.config.agreements):
            return
        log.warning(
            "DingTalk group %s (%s) is no agreement's dingtalk_chat; to post there, set "
            'dingtalk_chat = "%s" in its agreement',
            group,
            str(data.get("conversationTitle", ""))[:60],
            group,
        )


class StreamClient(DingTalkStreamClient):  # type: ignore[misc]
    """The SDK's client, opening its connection under our API root and saying why it failed."""

    def __init__(self, client_id: str, client_secret: str, root: str) -> None:
        super().__init__(Credential(client_id, client_secret), logger=log)
        self.root = root.rstrip("/")

    def open_connection(self) -> dict[str, Any]:
        """DingTalk's endpoint and ticket for one connection; CredentialsRefused on a wrong
        client id or secret, a requests error or ValueError on anything else."""
        topics = [{"type": "CALLBACK", "topic": topic} for topic in self.callback_handler_map]
        response = requests.post(
            f"{self.root}/v1.0/gateway/connections/open",
            json={
                "clientId": self.credential.client_id,
                "clientSecret": self.credential.client_secret,
                "subscriptions": topics,
                "ua": "vmi-bot",
                "localIp": "",
            },
            timeout=15,
        )
        if response.status_code in (400, 401, 403):
            raise CredentialsRefused(f"HTTP {response.status_code}: {response.text[:200]}")
        response.raise_for_status()
        answer = response.json()
        if not isinstance(answer, dict) or not answer.get("endpoint") or not answer.get("ticket"):
            raise ValueError("no endpoint or ticket in DingTalk's answer")
        return answer


class DingTalkStream(LongConnection):
    """Holds the Stream connection in a thread of its own while `may_connect` says so (only
    the process that leads holds it, as with the scheduler)."""

    thread_name = "dingtalk-stream"

    def __init__(
        self,
        client: StreamClient,
        may_connect: Callable[[], bool] = lambda: True,
        backoff_max: float = BACKOFF_MAX_SECONDS,
    ) -> None:
        super().__init__(may_connect, backoff_max)
        self.client = client

    async def _prepare(self) -> None:
        self.client.pre_start()

    def _failed(self, err: Exception, failures: int) -> tuple[float, int]:
        if isinstance(err, CredentialsRefused):
            log.error(
                "DingTalk refused the app's credentials (check DINGTALK_CLIENT_ID and "
                "DINGTALK_CLIENT_SECRET, and that the app's robot uses Stream mode): %s",
                err,
            )
        else:  # network, DingTalk's errors: try again later
            log.warning("DingTalk Stream connection failed: %s", err.__class__.__name__)
        return 0.0, failures + 1

    async def _hold(self) -> None:
        """One connection: frames handled in order until it closes, DingTalk asks to
        reconnect, this process stops leading, or `stop`."""
        assert self._stopping is not None  # set by _run before this is called
        connection = await asyncio.to_thread(self.client.open_connection)
        uri = f"{connection['endpoint']}?ticket={quote_plus(str(connection['ticket']))}"
        async with websockets.connect(uri) as websocket:
            self.client.websocket = websocket
            self.connected.set()
            log.info("DingTalk Stream connected")
            stopping = asyncio.ensure_future(self._stopping.wait())
            receiving: asyncio.Future[Any] | None = None
            try:
                while True:
                    receiving = receiving or asyncio.ensure_future(websocket.recv())
                    # woken each second too: a process that stops leading lets go promptly
                    done, _ = await asyncio.wait(
                        {receiving, stopping}, timeout=1.0, return_when=asyncio.FIRST_COMPLETED
                    )
                    if stopping in done or not self.may_connect():
                        return
                    if receiving not in done:
                        continue
                    frame = json.loads(receiving.result())
                    receiving = None
                    route = await self.client.route_message(frame)
                    if route == DingTalkStreamClient.TAG_DISCONNECT:
                        return
            except websockets.ConnectionClosed:
                log.warning("DingTalk Stream connection closed; connecting again")
            finally:
                stopping.cancel()
                if receiving is not None:
                    receiving.cancel()
