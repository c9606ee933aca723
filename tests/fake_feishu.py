"""A small fake of Feishu's (飞书) open API for tests: a real HTTP server on 127.0.0.1 answering
the way open.feishu.cn documents (`{"code": 0, "msg": "success", "data": {...}}`, or a non-zero
code), and recording every request. The SDK is pointed at it with its client builder's `domain`.

Endpoints: POST /open-apis/auth/v3/tenant_access_token/internal (app_id and app_secret → a
tenant_access_token), and with `Authorization: Bearer <that token>`: POST /open-apis/im/v1/messages
?receive_id_type=chat_id|open_id (msg_type text|interactive|image, content a JSON string, an
optional uuid: the same uuid again within the hour sends nothing and answers the first message),
POST /open-apis/im/v1/messages/<message_id>/reply (the same body without receive_id: an answer
quoting that message, in the group; `withdrawn` messages are answered 230011),
PATCH /open-apis/im/v1/messages/<message_id> (an interactive card, only one the app sent), POST
/open-apis/im/v1/images (multipart: image_type, image → image_key); and POST
/callback/ws/endpoint (AppID, AppSecret → the long connection's URL, `ws_url`, and its client
settings), where the SDK's websocket client asks before it connects.

Codes used: 10014 wrong app secret, 99991663 invalid token, 99991400 rate limited (HTTP 429,
from fail_next), 230002 the bot is not in the chat, 230001 bad content, 230025 not the app's
message, 234001 bad image request.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.fake_server import LoopbackFake, QuietHandler

APP_ID, APP_SECRET = "cli_test_app", "test-app-secret"
GROUP = "oc_vmi"  # the one group: a reply to a message said there lands in it
TOKEN = "t-fake-tenant-token"


@dataclass
class Call:
    """One request the fake answered."""

    method: str
    path: str
    query: dict[str, str]
    body: dict[str, Any]
    status: int
    answer: dict[str, Any]
    raw: bytes = field(default=b"", repr=False)

    @property
    def content(self) -> dict[str, Any]:
        """A message's content, read from its JSON string."""
        text = self.body.get("content")
        return json.loads(text) if isinstance(text, str) else {}


class FakeFeishu(LoopbackFake[Call]):
    """The fake API; `chats` are the group chat ids the bot is in (others: code 230002)."""

    def __init__(self, chats: tuple[str, ...] = ("oc_vmi",)) -> None:
        super().__init__(_Handler)
        self.chats = set(chats)
        self.sent: dict[str, dict[str, Any]] = {}  # message_id → the message as it is now
        self._uuids: dict[str, str] = {}
        self._ids = itertools.count(1)
        self._failures: list[tuple[str, int, int]] = []
        self.withdrawn: set[str] = set()  # messages people took back: no reply to them
        self.ws_url = ""  # where the long connection's endpoint sends the client

    @property
    def base_url(self) -> str:
        """The domain the SDK is given."""
        return self.address

    def fail_next(self, path_end: str, code: int, status: int = 400) -> None:
        """The next request whose path ends with `path_end` is answered `code` (HTTP `status`)."""
        with self._changed:
            self._failures.append((path_end, code, status))

    def calls_to(self, path_end: str) -> list[Call]:
        """The calls whose path ends with `path_end`, in order."""
        return self._find(lambda c: c.path.endswith(path_end))

    def wait_for(self, path_end: str, n: int = 1, timeout: float = 30) -> list[Call]:
        """Block until `n` calls to `path_end` were answered."""
        return self._wait(lambda c: c.path.endswith(path_end), n, timeout, path_end)

    def messages(self) -> list[Call]:
        """Every message created or replied, in order (repeats of a uuid included)."""
        return self._find(lambda c: (c.method == "POST" and "/reply" in c.path)
                          or c.path == "/open-apis/im/v1/messages")  # fmt: skip

    def _call_name(self, call: Call) -> str:
        return f"{call.method} {call.path} {call.answer.get('code')}"

    def answer(self, method: str, path: str, query: dict[str, str], headers: Any,
               raw: bytes) -> tuple[int, dict[str, Any], dict[str, Any]]:  # fmt: skip
        """Decide and record one answer."""
        body: dict[str, Any] = {}
        if raw[:1] == b"{":  # JSON, whatever the Content-Type says
            body = json.loads(raw)
        with self._changed:
            status, answer = self._decide(method, path, query, headers, body, raw)
            self._record(Call(method, path, query, body, status, answer, raw))
        return status, answer, body

    def _decide(self, method: str, path: str, query: dict[str, str], headers: Any,
                body: dict[str, Any], raw: bytes) -> tuple[int, dict[str, Any]]:  # fmt: skip
        for n, (end, code, status) in enumerate(self._failures):
            if path.endswith(end):
                del self._failures[n]
                return status, {"code": code, "msg": "failed as asked"}
        if path == "/callback/ws/endpoint":
            if body.get("AppID") != APP_ID or body.get("AppSecret") != APP_SECRET:
                return 200, {"code": 1000040343, "msg": "app id or secret invalid"}
            settings = {"ReconnectCount": 3, "ReconnectInterval": 1, "ReconnectNonce": 0,
                        "PingInterval": 120}  # fmt: skip
            return 200, {"code": 0, "msg": "ok",
                         "data": {"URL": self.ws_url, "ClientConfig": settings}}  # fmt: skip
        if path == "/open-apis/auth/v3/tenant_access_token/internal":
            if body.get("app_id") != APP_ID or body.get("app_secret") != APP_SECRET:
                return 400, {"code": 10014, "msg": "app secret invalid"}
            return 200, {"code": 0, "msg": "ok", "tenant_access_token": TOKEN, "expire": 7200}
        if headers.get("Authorization") != f"Bearer {TOKEN}":
            return 400, {"code": 99991663, "msg": "Invalid access token for authorization."}
        if method == "POST" and path == "/open-apis/im/v1/messages":
            return self._create(query, body)
        if method == "POST" and path.endswith("/reply"):
            replied = path.split("/")[-2]
            if replied in self.withdrawn:
                return 400, {"code": 230011, "msg": "the message was withdrawn"}
            return self._create({"receive_id_type": "chat_id"},
                                {**body, "receive_id": GROUP, "reply_to": replied})  # fmt: skip
        if method == "PATCH" and path.startswith("/open-apis/im/v1/messages/"):
            message_id = path.rsplit("/", 1)[1]
            if message_id not in self.sent:
                return 400, {"code": 230025, "msg": "not a message of this app"}
            card = json.loads(body.get("content") or "null")
            if not isinstance(card, dict) or "body" not in card:
                return 400, {"code": 230001, "msg": "invalid card content"}
            self.sent[message_id] = {**self.sent[message_id], "content": card}
            return 200, {"code": 0, "msg": "success", "data": {}}
        if method == "POST" and path == "/open-apis/im/v1/images":
            if b'name="image_type"' not in raw or b'name="image"' not in raw:
                return 400, {"code": 234001, "msg": "invalid request param"}
            return 200, {"code": 0, "msg": "success",
                         "data": {"image_key": f"img_{next(self._ids)}"}}  # fmt: skip
        return 404, {"code": 404, "msg": "not found"}

    def _create(self, query: dict[str, str], body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        kind, to = query.get("receive_id_type"), str(body.get("receive_id", ""))
        if kind not in ("chat_id", "open_id"):
            return 400, {"code": 99992402, "msg": "field validation failed"}
        if kind == "chat_id" and to not in self.chats and not to.startswith("oc_p2p"):
            return 400, {"code": 230002, "msg": "Bot/User can NOT be out of the chat."}
        if body.get("msg_type") not in ("text", "interactive", "image"):
            return 400, {"code": 230001, "msg": "invalid msg_type"}
        try:
            content = json.loads(body.get("content") or "")
        except ValueError:
            return 400, {"code": 230001, "msg": "content is not JSON"}
        uuid = body.get("uuid")
        if uuid and uuid in self._uuids:
            return 200, {"code": 0, "msg": "success", "data": {"message_id": self._uuids[uuid]}}
        message_id = f"om_{next(self._ids)}"
        if uuid:
            self._uuids[uuid] = message_id
        self.sent[message_id] = {"to": to, "msg_type": body["msg_type"], "content": content}
        return 200, {"code": 0, "msg": "success",
                     "data": {"message_id": message_id, "chat_id": to}}  # fmt: skip


class _Handler(QuietHandler[FakeFeishu]):
    def _any(self) -> None:
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        status, answer, _ = self.server.fake.answer(
            self.command, split.path, dict(parse_qsl(split.query)), self.headers, raw
        )
        self._send_json(status, answer)

    do_POST = do_PATCH = do_GET = _any
