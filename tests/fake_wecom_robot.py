"""A fake of WeCom's intelligent robot long-connection server (docs 101463, and the frames of
the official node SDK @wecom/aibot-node-sdk), on 127.0.0.1: JSON text frames
`{"cmd", "headers": {"req_id"}, "body"}`; every request answered by a frame with the same
req_id, an errcode and an errmsg, and no cmd.

- `aibot_subscribe` {bot_id, secret}: errcode 0, or 853000 for a wrong pair (then closed);
  a newer subscription kicks the older connection, which first gets an `aibot_event_callback`
  with eventtype `disconnected_event`;
- `ping`: errcode 0 (unless told to stay silent);
- callbacks pushed by the test (`say`, `click`, `enter`): `aibot_msg_callback` and
  `aibot_event_callback`, each with a req_id of its own; an answer to one
  (`aibot_respond_msg`, `aibot_respond_welcome_msg`, `aibot_respond_update_msg`) must reuse it,
  on the same connection, within 5 s;
- `aibot_send_msg` {chatid, chat_type, msgtype markdown | template_card}: text is refused
  (40008), and so is a chat nobody has spoken to the robot in.

What reached each chat is kept in `shown` (chat, how, body); every frame the client sent in
`frames`.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve

BOT_ID, BOT_SECRET = "aib-test-bot", "aib-test-secret"
WRONG_CREDENTIALS = 853000
INVALID_MSGTYPE = 40008
INVALID_REQ_ID = 846605  # an answer to no callback of this connection, or too late
NOT_ALLOWED = 846609  # a push to a chat where nobody has spoken to the robot
ANSWER_WITHIN = 5.0
CONTENT_LIMIT = 20480


@dataclass
class Shown:
    """A message as a chat saw it: where, how it came (respond, send, update, welcome), its body."""

    chat: str
    how: str
    body: dict[str, Any]

    @property
    def text(self) -> str:
        """Its words, whatever the message type (markdown, stream, text, a card's fields)."""
        return json.dumps(self.body, ensure_ascii=False)


@dataclass
class _Callback:
    connection: ServerConnection
    at: float
    chat: str
    kind: str  # "message" | "card" | "enter_chat"


class FakeWeComRobot:
    """The server; a test pushes callbacks and reads what the robot said."""

    def __init__(self, bot_id: str = BOT_ID, secret: str = BOT_SECRET) -> None:
        self.bot_id, self.secret = bot_id, secret
        self.frames: list[dict[str, Any]] = []
        self.answers: list[dict[str, Any]] = []
        self.shown: list[Shown] = []
        self.subscriptions = 0  # accepted ones
        self.refused = 0
        self.silent_pings = False
        self._current: ServerConnection | None = None
        self._callbacks: dict[str, _Callback] = {}
        self._spoken: set[str] = set()  # chats where someone spoke to the robot
        self._tasks: dict[str, str] = {}  # task_id → chat of a card the robot sent
        self._changed = threading.Condition()
        self._ids = itertools.count(1)
        self._server: Server | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> FakeWeComRobot:
        """Listen on a free port of 127.0.0.1."""
        self._server = serve(self._connected, "127.0.0.1", 0)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Close the server and its connections."""
        if self._server is not None:
            self._server.shutdown()
            self._server = None

    @property
    def url(self) -> str:
        """The long connection's address (WECOM_BOT_WS_URL)."""
        assert self._server is not None
        host, port = self._server.socket.getsockname()[:2]
        return f"ws://{host}:{port}"

    # -- the protocol ----------------------------------------------------------------------

    def _connected(self, websocket: ServerConnection) -> None:
        try:
            for raw in websocket:
                frame = json.loads(raw)
                with self._changed:
                    self.frames.append(frame)
                    self._changed.notify_all()
                answer = self._answer(websocket, frame)
                if answer is None:
                    continue
                req_id = frame.get("headers", {}).get("req_id", "")
                reply = {"headers": {"req_id": req_id}, **answer}
                with self._changed:
                    self.answers.append({"cmd": frame.get("cmd"), **reply})
                    self._changed.notify_all()
                websocket.send(json.dumps(reply, ensure_ascii=False))
                if frame.get("cmd") == "aibot_subscribe" and answer["errcode"]:
                    websocket.close(1008, "invalid bot_id or secret")
                elif frame.get("cmd") == "aibot_subscribe":
                    self._take_over(websocket)  # callbacks come once the subscription is answered
        except ConnectionClosed:
            pass
        finally:
            with self._changed:
                if self._current is websocket:
                    self._current = None
                self._changed.notify_all()

    def _answer(self, websocket: ServerConnection, frame: dict[str, Any]) -> dict[str, Any] | None:
        cmd, body = frame.get("cmd"), frame.get("body") or {}
        req_id = frame.get("headers", {}).get("req_id", "")
        if cmd == "aibot_subscribe":
            if body.get("bot_id") != self.bot_id or body.get("secret") != self.secret:
                with self._changed:
                    self.refused += 1
                return _err(WRONG_CREDENTIALS, "invalid bot_id or secret")
            return _ok()
        if cmd == "ping":
            return None if self.silent_pings else _ok()
        if websocket is not self._current:
            return _err(INVALID_REQ_ID, "not subscribed")
        if cmd in ("aibot_respond_msg", "aibot_respond_welcome_msg", "aibot_respond_update_msg"):
            return self._respond(websocket, cmd, req_id, body)
        if cmd == "aibot_send_msg":
            return self._push(body)
        return _err(40001, f"unknown cmd {cmd}")

    def _take_over(self, websocket: ServerConnection) -> None:
        """One connection per robot: the newer subscription kicks the older one."""
        with self._changed:
            older, self._current = self._current, websocket
            self.subscriptions += 1
            self._changed.notify_all()
        if older is not None and older is not websocket:
            kicked = self._callback_frame("aibot_event_callback", {
                "msgid": f"evt-{next(self._ids)}", "create_time": int(time.time()),
                "aibotid": self.bot_id, "msgtype": "event",
                "event": {"eventtype": "disconnected_event"}})  # fmt: skip
            with contextlib.suppress(ConnectionClosed):
                older.send(json.dumps(kicked, ensure_ascii=False))
                older.close(1000, "kicked by a newer connection")

    def _respond(
        self, websocket: ServerConnection, cmd: str, req_id: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        with self._changed:
            callback = self._callbacks.get(req_id)
        if (
            callback is None
            or callback.connection is not websocket
            or time.monotonic() - callback.at > ANSWER_WITHIN
        ):
            return _err(INVALID_REQ_ID, "req_id of no fresh callback on this connection")
        if cmd == "aibot_respond_welcome_msg" and callback.kind != "enter_chat":
            return _err(INVALID_REQ_ID, "a welcome answers enter_chat only")
        if cmd == "aibot_respond_update_msg":
            card = body.get("template_card") or {}
            if callback.kind != "card" or body.get("response_type") != "update_template_card":
                return _err(40058, "an update answers a card click")
            if self._tasks.get(card.get("task_id", "")) != callback.chat:
                return _err(40058, "task_id of no card in this chat")
            return self._show(callback.chat, "update", body)
        problem = _content_problem(body, ("stream", "markdown", "template_card", "text"))
        if problem:
            return problem
        return self._show(callback.chat, "welcome" if "welcome" in cmd else "respond", body)

    def _push(self, body: dict[str, Any]) -> dict[str, Any]:
        chat_type, chatid = body.get("chat_type"), str(body.get("chatid", ""))
        chat = f"group:{chatid}" if chat_type == 2 else chatid
        if chat_type not in (1, 2) or not chatid:
            return _err(40058, "chatid and chat_type 1 or 2 required")
        problem = _content_problem(body, ("markdown", "template_card"))
        if problem:
            return problem
        with self._changed:
            spoken = chat in self._spoken
        if not spoken:
            return _err(NOT_ALLOWED, "nobody has spoken to the robot in this chat")
        return self._show(chat, "send", body)

    def _show(self, chat: str, how: str, body: dict[str, Any]) -> dict[str, Any]:
        with self._changed:
            card = body.get("template_card") or {}
            if body.get("msgtype") == "template_card" and card.get("task_id"):
                self._tasks[card["task_id"]] = chat
            self.shown.append(Shown(chat, how, body))
            self._changed.notify_all()
        return _ok()

    # -- what a test does ------------------------------------------------------------------

    def _callback_frame(self, cmd: str, body: dict[str, Any]) -> dict[str, Any]:
        return {"cmd": cmd, "headers": {"req_id": f"req-{next(self._ids)}"}, "body": body}

    def _deliver(self, cmd: str, body: dict[str, Any], chat: str, kind: str) -> str:
        frame = self._callback_frame(cmd, body)
        req_id = frame["headers"]["req_id"]
        with self._changed:
            current = self._current
            assert current is not None, "no robot connected"
            self._callbacks[req_id] = _Callback(current, time.monotonic(), chat, kind)
            self._spoken.add(chat)
        current.send(json.dumps(frame, ensure_ascii=False))
        return str(req_id)

    def say(self, userid: str, text: str, msgid: str, at: float, *, group: str = "",
            robot_name: str = "VMI助手") -> str:  # fmt: skip
        """`userid` says `text` to the robot, one to one or in `group` (@mentioning it, as
        WeCom leaves it in the text); the callback's req_id."""
        body: dict[str, Any] = {
            "msgid": msgid, "aibotid": self.bot_id, "chattype": "group" if group else "single",
            "from": {"userid": userid}, "create_time": int(at), "msgtype": "text",
            "text": {"content": f"@{robot_name} {text}" if group else text},
            "response_url": f"https://qyapi.weixin.qq.com/cgi-bin/aibot/response?code={msgid}",
        }  # fmt: skip
        if group:
            body["chatid"] = group
        return self._deliver("aibot_msg_callback", body, f"group:{group}" if group else userid,
                             "message")  # fmt: skip

    def click(self, userid: str, key: str, task_id: str, msgid: str, at: float, *,
              group: str = "") -> str:  # fmt: skip
        """`userid` presses the button `key` of card `task_id`; the callback's req_id."""
        body: dict[str, Any] = {
            "msgid": msgid, "aibotid": self.bot_id, "chattype": "group" if group else "single",
            "from": {"userid": userid}, "create_time": int(at), "msgtype": "event",
            "event": {"eventtype": "template_card_event", "template_card_event": {
                "card_type": "button_interaction", "event_key": key, "task_id": task_id}},
        }  # fmt: skip
        if group:
            body["chatid"] = group
        return self._deliver("aibot_event_callback", body, f"group:{group}" if group else userid,
                             "card")  # fmt: skip

    def enter(self, userid: str, at: float) -> str:
        """`userid` opens the one-to-one chat with the robot; the callback's req_id."""
        body = {"msgid": f"enter-{next(self._ids)}", "aibotid": self.bot_id, "chattype": "single",
                "from": {"userid": userid}, "create_time": int(at), "msgtype": "event",
                "event": {"eventtype": "enter_chat"}}  # fmt: skip
        return self._deliver("aibot_event_callback", body, userid, "enter_chat")

    def drop(self) -> None:
        """Cut the current connection without a word: its TCP stream ends, no close frame.

        (Closing it with a frame would join its reader thread from here while the server
        joins it too, a race in `threading` that can fail the join.)"""
        with self._changed:
            current = self._current
        if current is not None:
            with contextlib.suppress(OSError):
                current.socket.shutdown(socket.SHUT_RDWR)

    def wait_connected(self, subscriptions: int = 1, timeout: float = 10) -> None:
        """Until `subscriptions` were accepted and a connection holds the robot."""
        with self._changed:
            if not self._changed.wait_for(
                lambda: self.subscriptions >= subscriptions and self._current is not None, timeout
            ):
                raise TimeoutError(f"{self.subscriptions} of {subscriptions} subscriptions")

    def wait_disconnected(self, timeout: float = 10) -> bool:
        """Until no connection holds the robot."""
        with self._changed:
            return self._changed.wait_for(lambda: self._current is None, timeout)

    def wait_shown(self, chat: str, n: int = 1, timeout: float = 30) -> list[Shown]:
        """What `chat` saw, once it saw `n` messages."""

        def seen() -> list[Shown]:
            return [s for s in self.shown if s.chat == chat]

        with self._changed:
            if not self._changed.wait_for(lambda: len(seen()) >= n, timeout):
                raise TimeoutError(f"{chat} saw {len(seen())} of {n}: {seen()}")
            return seen()

    def wait_frames(self, cmd: str, n: int = 1, timeout: float = 10) -> list[dict[str, Any]]:
        """The client's frames of `cmd`, once there are `n`."""

        def sent() -> list[dict[str, Any]]:
            return [f for f in self.frames if f.get("cmd") == cmd]

        with self._changed:
            if not self._changed.wait_for(lambda: len(sent()) >= n, timeout):
                raise TimeoutError(f"{len(sent())} of {n} {cmd} frames")
            return sent()


def _ok() -> dict[str, Any]:
    return {"errcode": 0, "errmsg": "ok"}


def _err(errcode: int, errmsg: str) -> dict[str, Any]:
    return {"errcode": errcode, "errmsg": errmsg}


def _content_problem(body: dict[str, Any], allowed: tuple[str, ...]) -> dict[str, Any] | None:
    kind = body.get("msgtype")
    if kind not in allowed:
        return _err(INVALID_MSGTYPE, f"invalid msgtype {kind}")
    content = body.get(kind) or {}
    if len(json.dumps(content, ensure_ascii=False).encode()) > CONTENT_LIMIT + 1024:
        return _err(40058, "content too long")
    if kind == "template_card" and not (content.get("task_id") and content.get("card_type")):
        return _err(40058, "template_card needs card_type and task_id")
    return None
