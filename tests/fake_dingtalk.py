"""Small fakes of DingTalk (钉钉) for tests, written from DingTalk's documented payloads.

`FakeDingTalk` is the open API over HTTP on 127.0.0.1 (a `LoopbackFake`) and records every call:

- POST /v1.0/oauth2/accessToken {appKey, appSecret} → {accessToken, expireIn}; a wrong pair is
  HTTP 400 {"code": "invalidClientIdOrSecret"};
- POST /v1.0/gateway/connections/open {clientId, clientSecret, subscriptions} → {endpoint,
  ticket}: the websocket of `FakeStream` and a ticket good for one connection; a wrong pair is
  HTTP 401 {"code": "InvalidAuthentication"};
- POST /v1.0/robot/oToMessages/batchSend {robotCode, userIds, msgKey, msgParam} and
  POST /v1.0/robot/groupMessages/send {robotCode, openConversationId, msgKey, msgParam}, with the
  header x-acs-dingtalk-access-token → {processQueryKey} (batchSend also lists
  invalidStaffIdList); errors as DingTalk gives them: HTTP 401 InvalidAuthentication (no or an
  expired token), 400 invalidParameter (an unknown msgKey, msgParam not JSON or missing a key),
  400 resource.not.found (another robotCode, a group the robot is not in), 429
  Throttling (from `fail_next`), 500 from `fail_next`;
- POST /v1.0/card/instances/createAndDeliver {cardTemplateId, outTrackId, callbackType,
  cardData: {cardParamMap: {k: string}}, openSpaceId "dtv1.card//IM_GROUP.<openConversationId>"
  with imGroupOpenDeliverModel {robotCode}, or "dtv1.card//IM_ROBOT.<userId>" with
  imRobotOpenDeliverModel {spaceType: "IM_ROBOT"}, userIdType} → {success, result: {outTrackId,
  deliverResults}}: an interactive card (互动卡片) in `cards`; an outTrackId seen before makes
  no second card (the instance is there already) and is answered as the first; errors with
  HTTP 400 as DingTalk lists them: param.invalid (an unknown template id, a param not a
  string, a bad openSpaceId), param.outTrackIdEmpty, param.userIdNotExist,
  chatbot.notFound (another robotCode), and 401 for an expired token;
- PUT /v1.0/card/instances {outTrackId, cardData: {cardParamMap}, cardUpdateOptions:
  {updateCardDataByKey}} → {success, result: true}: the card's params changed (merged by key,
  else replaced) for everyone who sees it; an unknown outTrackId is 400 param.invalid;
- POST /media/upload?access_token=&type=image (multipart, field `media`) → {errcode 0, media_id};
- POST /robot/send?access_token=&timestamp=&sign= (a custom group robot): the signature is
  checked as DingTalk documents 加签 (base64 HMAC-SHA256 of "timestamp\\nsecret", within an
  hour) → {errcode 0}, else errcode 310000; an unknown access_token is errcode 300001.

`FakeStream` is the Stream mode websocket: it takes a connection with a ticket the API issued,
pushes robot messages as CALLBACK frames on /v1.0/im/bot/messages/get and card clicks on
/v1.0/card/instances/callback ({outTrackId, userId, corpId, content: a JSON string
{"cardPrivateData": {"actionIds": [...], "params": {...}}}, ...}), pings (SYSTEM ping),
asks to reconnect (SYSTEM disconnect), drops connections, records the acks the client sends
and pushes again, on the next connection, what was not acknowledged.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import itertools
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve

from tests.fake_server import LoopbackFake, QuietHandler

CLIENT_ID = "ding-test-app"
CLIENT_SECRET = "ding-test-secret"
ROBOT_CODE = "ding-test-app"  # a robot's code is its app's client id unless set apart
WEBHOOK_TOKEN = "robot-token"
WEBHOOK_SECRET = "SEC-test-robot-secret"
TOPIC = "/v1.0/im/bot/messages/get"
CARD_TOPIC = "/v1.0/card/instances/callback"
TEMPLATE_ID = "a1b2c3d4-vmi-proposal.schema"  # a template built in the card builder
GROUP_SPACE, ROBOT_SPACE = "dtv1.card//IM_GROUP.", "dtv1.card//IM_ROBOT."
MSG_KEYS = {
    "sampleText": ("content",),
    "sampleMarkdown": ("title", "text"),
    "sampleImageMsg": ("photoURL",),
    "sampleActionCard": ("title", "text", "singleTitle", "singleURL"),
    **{f"sampleActionCard{n}": ("title", "text", *(f"{k}{i}" for i in range(1, n + 1)
                                                   for k in ("actionTitle", "actionURL")))
       for n in range(2, 6)},
}  # fmt: skip


@dataclass
class Call:
    """One request the API fake answered."""

    method: str
    path: str
    query: dict[str, str]
    body: dict[str, Any]
    headers: dict[str, str]
    status: int = 200
    response: dict[str, Any] = field(default_factory=dict)

    @property
    def param(self) -> dict[str, Any]:
        """A robot message's msgParam, read back from its JSON string."""
        return dict(json.loads(self.body.get("msgParam") or "{}"))


@dataclass
class FakeCard:
    """An interactive card instance: where it was delivered and what it shows now."""

    out_track_id: str
    template: str
    space: str  # the openSpaceId
    params: dict[str, str]
    updates: list[dict[str, str]] = field(default_factory=list)

    @property
    def group(self) -> str | None:
        """The openConversationId of the group it is in; None for a person's chat."""
        return self.space.removeprefix(GROUP_SPACE) if self.space.startswith(GROUP_SPACE) else None

    @property
    def person(self) -> str | None:
        """The userId whose chat with the robot it is in; None for a group."""
        return self.space.removeprefix(ROBOT_SPACE) if self.space.startswith(ROBOT_SPACE) else None

    @property
    def buttons_shown(self) -> bool:
        """The template shows the buttons while `status` is "open"."""
        return self.params.get("status") == "open"


class _Handler(QuietHandler["FakeDingTalk"]):
    def do_PUT(self) -> None:
        self.do_POST("PUT")

    def do_POST(self, method: str = "POST") -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        parts = urlsplit(self.path)
        body: dict[str, Any] = {}
        if "json" in (self.headers.get("Content-Type") or ""):
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                body = {"__not_json__": True}
        call = Call(method, parts.path, dict(parse_qsl(parts.query)), body,
                    {k.lower(): v for k, v in self.headers.items()})  # fmt: skip
        status, answer = self.server.fake._answer(call, raw)
        self._send_json(status, answer)


class FakeDingTalk(LoopbackFake[Call]):
    """DingTalk's open API, one organisation with `people` and `groups` the robot is in."""

    def __init__(
        self,
        people: set[str],
        groups: set[str],
        templates: frozenset[str] = frozenset({TEMPLATE_ID}),
    ) -> None:
        super().__init__(_Handler)
        self.people, self.groups, self.templates = people, groups, templates
        self.cards: dict[str, FakeCard] = {}  # outTrackId → the card
        self._lost: list[str] = []
        self.stream = FakeStream(self)
        self.tokens: set[str] = set()
        self.tickets: set[str] = set()
        self.tokens_issued = 0
        self._failures: list[tuple[str, int, str]] = []
        self._ids = itertools.count(1)

    def start(self) -> FakeDingTalk:
        """Serve the API and the Stream websocket."""
        super().start()
        self.stream.start()
        return self

    def stop(self) -> None:
        """Stop both."""
        self.stream.stop()
        super().stop()

    @property
    def base_url(self) -> str:
        """DINGTALK_API_BASE_URL for the bot."""
        return self.address

    def webhook_url(self) -> str:
        """The custom group robot's webhook, as DingTalk shows it when the robot is added."""
        return f"{self.address}/robot/send?access_token={WEBHOOK_TOKEN}"

    def fail_next(self, path_suffix: str, status: int, code: str) -> None:
        """The next call to a path ending in `path_suffix` is answered HTTP `status`, `code`."""
        with self._changed:
            self._failures.append((path_suffix, status, code))

    def lose_answer_next(self, path_suffix: str) -> None:
        """The next call to a path ending in `path_suffix` is done, but answered HTTP 503 as a
        gateway that lost DingTalk's answer would."""
        with self._changed:
            self._lost.append(path_suffix)

    def card(self, match: Callable[[FakeCard], bool], timeout: float = 10) -> FakeCard:
        """The first card that `match`es, once there is one."""
        with self._changed:
            if not self._changed.wait_for(
                lambda: any(match(c) for c in self.cards.values()), timeout
            ):
                raise TimeoutError(f"no such card among {list(self.cards.values())}")
            return next(c for c in self.cards.values() if match(c))

    def wait_updated(self, card: FakeCard, n: int = 1, timeout: float = 10) -> FakeCard:
        """`card` once it was updated `n` times."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(card.updates) >= n, timeout):
                raise TimeoutError(f"card {card.out_track_id}: {len(card.updates)} updates")
            return card

    def expire_tokens(self) -> None:
        """Every access token issued so far is expired (HTTP 401 from now on)."""
        with self._changed:
            self.tokens.clear()

    def calls_to(self, suffix: str) -> list[Call]:
        """The calls to paths ending in `suffix`, in order."""
        return self._find(lambda c: c.path.endswith(suffix))

    def wait_for(self, suffix: str, n: int = 1, timeout: float = 30) -> list[Call]:
        """Block until `n` calls to paths ending in `suffix` were answered."""
        return self._wait(lambda c: c.path.endswith(suffix), n, timeout, suffix)

    def _call_name(self, call: Call) -> str:
        return call.path

    def _answer(self, call: Call, raw: bytes) -> tuple[int, dict[str, Any]]:
        with self._changed:
            status, answer = self._decide(call, raw)
            lost = next((p for p in self._lost if call.path.endswith(p)), None)
            if lost is not None:
                self._lost.remove(lost)
                status, answer = 503, {"code": "ServiceUnavailable", "message": "gateway"}
            call.status, call.response = status, answer
            self._record(call)
        return status, answer

    def _decide(self, call: Call, raw: bytes) -> tuple[int, dict[str, Any]]:
        path = call.path
        failure = next((f for f in self._failures if path.endswith(f[0])), None)
        if failure is not None:
            self._failures.remove(failure)
            return failure[1], {"code": failure[2], "message": "fake failure"}
        if path == "/v1.0/oauth2/accessToken":
            if (call.body.get("appKey"), call.body.get("appSecret")) != (CLIENT_ID, CLIENT_SECRET):
                return 400, {
                    "code": "invalidClientIdOrSecret",
                    "message": "无效的clientId或者clientSecret",
                }
            token = f"token-{next(self._ids)}"
            self.tokens.add(token)
            self.tokens_issued += 1
            return 200, {"accessToken": token, "expireIn": 7200}
        if path == "/v1.0/gateway/connections/open":
            if (call.body.get("clientId"), call.body.get("clientSecret")) != (
                CLIENT_ID,
                CLIENT_SECRET,
            ):
                return 401, {
                    "code": "InvalidAuthentication",
                    "message": "clientId or clientSecret is invalid",
                }
            ticket = f"ticket-{next(self._ids)}"
            self.tickets.add(ticket)
            return 200, {"endpoint": self.stream.address, "ticket": ticket}
        if path == "/robot/send":
            return 200, self._webhook(call)
        if path == "/media/upload":
            if call.query.get("access_token") not in self.tokens:
                return 200, {"errcode": 40014, "errmsg": "不合法的access_token"}
            if b'name="media"' not in raw:
                return 200, {"errcode": 41005, "errmsg": "缺少多媒体文件数据"}
            return 200, {"errcode": 0, "errmsg": "ok", "type": "image",
                         "media_id": f"@lA-media-{next(self._ids)}"}  # fmt: skip
        if path.startswith("/v1.0/robot/"):
            return self._robot(call)
        if path == "/v1.0/card/instances/createAndDeliver" and call.method == "POST":
            return self._create_and_deliver(call)
        if path == "/v1.0/card/instances" and call.method == "PUT":
            return self._update_card(call)
        return 404, {"code": "notFound", "message": path}

    def _robot(self, call: Call) -> tuple[int, dict[str, Any]]:
        if call.headers.get("x-acs-dingtalk-access-token") not in self.tokens:
            return 401, {"code": "InvalidAuthentication", "message": "不合法的access_token"}
        body = call.body
        if body.get("robotCode") != ROBOT_CODE:
            return 400, {"code": "resource.not.found", "message": "robot 不存在"}
        keys = MSG_KEYS.get(str(body.get("msgKey")))
        try:
            param = json.loads(body.get("msgParam") or "")
        except ValueError:
            param = None
        if keys is None or not isinstance(param, dict) or any(not param.get(k) for k in keys):
            return 400, {"code": "invalidParameter", "message": "msgKey or msgParam is invalid"}
        query_key = f"pqk-{next(self._ids)}"
        if call.path.endswith("groupMessages/send"):
            if body.get("openConversationId") not in self.groups:
                return 400, {"code": "resource.not.found", "message": "群不存在或机器人不在群内"}
            return 200, {"processQueryKey": query_key}
        users = body.get("userIds") or []
        invalid = [u for u in users if u not in self.people]
        return 200, {"processQueryKey": query_key, "invalidStaffIdList": invalid,
                     "flowControlledStaffIdList": []}  # fmt: skip

    @staticmethod
    def _param_map(body: dict[str, Any]) -> dict[str, str] | None:
        data = body.get("cardData")
        params = data.get("cardParamMap") if isinstance(data, dict) else None
        if not isinstance(params, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in params.items()
        ):
            return None  # every value of cardParamMap is a string
        return dict(params)

    def _create_and_deliver(self, call: Call) -> tuple[int, dict[str, Any]]:
        if call.headers.get("x-acs-dingtalk-access-token") not in self.tokens:
            return 401, {"code": "InvalidAuthentication", "message": "不合法的access_token"}
        body = call.body
        track = body.get("outTrackId")
        if not isinstance(track, str) or not track:
            return 400, {"code": "param.outTrackIdEmpty", "message": "业务标识 outTrackId 为空"}
        if len(track) > 128 or body.get("callbackType") not in ("STREAM", "HTTP"):
            return 400, {"code": "param.invalid", "message": "outTrackId or callbackType"}
        if body.get("cardTemplateId") not in self.templates:
            return 400, {"code": "param.invalid", "message": "cardTemplateId 不存在或未发布"}
        params = self._param_map(body)
        if params is None or body.get("userIdType", 1) != 1:
            return 400, {"code": "param.invalid", "message": "cardParamMap 的值须为字符串"}
        space = str(body.get("openSpaceId") or "")
        if space.startswith(GROUP_SPACE):
            deliver = body.get("imGroupOpenDeliverModel") or {}
            if deliver.get("robotCode") != ROBOT_CODE:
                return 400, {"code": "chatbot.notFound", "message": "机器人不存在"}
            if space.removeprefix(GROUP_SPACE) not in self.groups:
                return 400, {"code": "param.invalid", "message": "群不存在或机器人不在群内"}
            kind = "IM_GROUP"
        elif space.startswith(ROBOT_SPACE):
            if (body.get("imRobotOpenDeliverModel") or {}).get("spaceType") != "IM_ROBOT":
                return 400, {"code": "param.invalid", "message": "imRobotOpenDeliverModel"}
            if space.removeprefix(ROBOT_SPACE) not in self.people:
                return 400, {"code": "param.userIdNotExist", "message": "用户 userId 不存在"}
            kind = "IM_ROBOT"
        else:
            return 400, {"code": "param.invalid", "message": "openSpaceId 格式不对"}
        if track not in self.cards:  # the same outTrackId again: the same instance
            self.cards[track] = FakeCard(track, str(body["cardTemplateId"]), space, params)
        result = {"spaceType": kind, "spaceId": space.rpartition(".")[2], "success": True,
                  "carrierId": f"carrier-{track}"}  # fmt: skip
        return 200, {"success": True, "result": {"outTrackId": track, "deliverResults": [result]}}

    def _update_card(self, call: Call) -> tuple[int, dict[str, Any]]:
        if call.headers.get("x-acs-dingtalk-access-token") not in self.tokens:
            return 401, {"code": "InvalidAuthentication", "message": "不合法的access_token"}
        card = self.cards.get(str(call.body.get("outTrackId")))
        params = self._param_map(call.body)
        if card is None or params is None:
            return 400, {"code": "param.invalid", "message": "outTrackId 对应的卡片不存在"}
        options = call.body.get("cardUpdateOptions") or {}
        if options.get("updateCardDataByKey"):
            card.params.update(params)
        else:
            card.params = params
        card.updates.append(params)
        return 200, {"success": True, "result": True}

    @staticmethod
    def _webhook(call: Call) -> dict[str, Any]:
        if call.query.get("access_token") != WEBHOOK_TOKEN:
            return {"errcode": 300001, "errmsg": "token is not exist"}
        timestamp, sign = call.query.get("timestamp", ""), call.query.get("sign", "")
        wanted = base64.b64encode(hmac.new(WEBHOOK_SECRET.encode(),
                                           f"{timestamp}\n{WEBHOOK_SECRET}".encode(),
                                           hashlib.sha256).digest()).decode()  # fmt: skip
        fresh = timestamp.isdigit() and abs(time.time() * 1000 - int(timestamp)) < 3_600_000
        if not (fresh and hmac.compare_digest(sign, wanted)):
            return {"errcode": 310000, "errmsg": "sign not match"}
        if call.body.get("msgtype") not in ("text", "markdown", "link", "actionCard", "feedCard"):
            return {"errcode": 40035, "errmsg": "缺少参数 msgtype"}
        return {"errcode": 0, "errmsg": "ok"}


class FakeStream:
    """DingTalk's Stream websocket: CALLBACK frames out, acks in, redelivery of what was not
    acknowledged when a connection is made again."""

    def __init__(self, api: FakeDingTalk) -> None:
        self.api = api
        self.acks: list[dict[str, Any]] = []
        self.connections = 0
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self._current: ServerConnection | None = None
        self._unacked: dict[str, dict[str, Any]] = {}  # messageId → frame, in push order
        self._sent: dict[str, dict[str, Any]] = {}  # clicks, by messageId, to send again
        self._changed = threading.Condition()
        self._ids = itertools.count(1)

    @property
    def address(self) -> str:
        """The websocket's URL (the `endpoint` connections/open answers)."""
        assert self._server is not None
        host, port = self._server.socket.getsockname()[:2]
        return f"ws://{host}:{port}/connect"

    def start(self) -> None:
        """Listen on a free port of 127.0.0.1."""
        self._server = serve(self._connected, "127.0.0.1", 0)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Close the connection and the server."""
        if self._server is not None:
            self._server.shutdown()
            self._server = None

    def _connected(self, websocket: ServerConnection) -> None:
        query = dict(parse_qsl(urlsplit(websocket.request.path if websocket.request else "").query))
        with self._changed:
            ticket = query.get("ticket", "")
            if ticket not in self.api.tickets:
                websocket.close(4001, "invalid ticket")
                return
            self.api.tickets.discard(ticket)  # one connection per ticket
            self._current = websocket
            self.connections += 1
            pending = list(self._unacked.values())
            self._changed.notify_all()
        for frame in pending:  # DingTalk sends again what the last connection did not ack
            websocket.send(json.dumps(frame, ensure_ascii=False))
        try:
            for raw in websocket:
                ack = json.loads(raw)
                with self._changed:
                    self.acks.append(ack)
                    if ack.get("code") == 200:
                        self._unacked.pop(ack.get("headers", {}).get("messageId", ""), None)
                    self._changed.notify_all()
        except ConnectionClosed:
            pass
        finally:
            with self._changed:
                if self._current is websocket:
                    self._current = None
                self._changed.notify_all()

    def wait_disconnected(self, timeout: float = 10) -> bool:
        """Until no client holds a connection; False if one still does after `timeout`."""
        with self._changed:
            return self._changed.wait_for(lambda: self._current is None, timeout)

    def wait_connected(self, connections: int = 1, timeout: float = 10) -> None:
        """Until the client has made `connections` connections and holds the last one."""
        with self._changed:
            if not self._changed.wait_for(
                lambda: self.connections >= connections and self._current is not None, timeout
            ):
                raise TimeoutError(f"{self.connections} of {connections} connections")

    def _frame(self, kind: str, topic: str, data: dict[str, Any]) -> dict[str, Any]:
        return {
            "specVersion": "1.0",
            "type": kind,
            "headers": {"appId": CLIENT_ID, "connectionId": "conn-1",
                        "contentType": "application/json", "messageId": f"frame-{next(self._ids)}",
                        "time": str(int(time.time() * 1000)), "topic": topic},
            "data": json.dumps(data, ensure_ascii=False),
        }  # fmt: skip

    def _send(self, frame: dict[str, Any], remember: bool) -> str:
        with self._changed:
            if remember:
                self._unacked[frame["headers"]["messageId"]] = frame
            current = self._current
        if current is not None:
            with contextlib.suppress(ConnectionClosed):  # pushed again on the next connection
                current.send(json.dumps(frame, ensure_ascii=False))
        return str(frame["headers"]["messageId"])

    def push(self, message: dict[str, Any]) -> str:
        """A robot message as a CALLBACK frame; its frame id. Pushed again until acknowledged."""
        return self._send(self._frame("CALLBACK", TOPIC, message), remember=True)

    def click(
        self, card: FakeCard, user: str, action: str, params: dict[str, Any] | None = None
    ) -> str:
        """`user` presses the button `action` on `card`: a CALLBACK frame on the card topic,
        as DingTalk sends it; its frame id. Pushed again until acknowledged. (A client may
        show a card before its update arrives: a click on hidden buttons is not stopped.)"""
        data = {
            "extension": "{}",
            "corpId": "ding-corp",
            "type": "actionCallback",
            "userId": user,
            "userIdType": 1,
            "outTrackId": card.out_track_id,
            "spaceType": "IM_GROUP" if card.group else "IM_ROBOT",
            "spaceId": card.space.rpartition(".")[2],
            "content": json.dumps(
                {"cardPrivateData": {"actionIds": [action],
                                     "params": {"proposal": card.params.get("proposal", ""),
                                                **(params or {})}}},
                ensure_ascii=False,
            ),
        }  # fmt: skip
        frame = self._frame("CALLBACK", CARD_TOPIC, data)
        self._sent[frame["headers"]["messageId"]] = frame
        return self._send(frame, remember=True)

    def repeat(self, frame_id: str) -> str:
        """Send frame `frame_id` once more, as DingTalk does when it missed the ack."""
        return self._send(self._sent[frame_id], remember=True)

    def ping(self) -> str:
        """A SYSTEM ping; the client answers it with the same opaque data."""
        return self._send(self._frame("SYSTEM", "ping", {"opaque": "opaque-1"}), remember=False)

    def ask_to_reconnect(self) -> str:
        """A SYSTEM disconnect: the client is to connect again (DingTalk does this on restarts)."""
        return self._send(
            self._frame("SYSTEM", "disconnect", {"reason": "restart"}), remember=False
        )

    def drop(self) -> None:
        """Cut the current connection without a word: its TCP stream ends, no close frame.

        (Closing it with a frame would join its reader thread from here while the server
        joins it too, a race in `threading` that can fail the join.)"""
        with self._changed:
            current = self._current
        if current is not None:
            with contextlib.suppress(OSError):
                current.socket.shutdown(socket.SHUT_RDWR)

    def wait_acked(self, frame_id: str, timeout: float = 10, n: int = 1) -> dict[str, Any]:
        """The client's `n`th ack of frame `frame_id` (a frame sent again is acked again)."""

        def found() -> list[dict[str, Any]]:
            return [a for a in self.acks if a.get("headers", {}).get("messageId") == frame_id]

        with self._changed:
            if not self._changed.wait_for(lambda: len(found()) >= n, timeout):
                raise TimeoutError(f"no ack {n} of {frame_id}; acks: {self.acks}")
            return found()[n - 1]


def robot_message(
    sender: str, text: str, msg_id: str, at_ms: int, *, group: str | None = None, nick: str = ""
) -> dict[str, Any]:
    """A robot message as DingTalk sends it: one to one, or in `group` (openConversationId)
    where the robot was @mentioned (DingTalk leaves a space where the mention was)."""
    return {
        "conversationId": group or f"cid-single-{sender}",
        "atUsers": [{"dingtalkId": "$:LWCP_v1:$robot"}] if group else [],
        "chatbotCorpId": "ding-corp",
        "chatbotUserId": "$:LWCP_v1:$robot",
        "msgId": msg_id,
        "senderNick": nick or sender,
        "isAdmin": False,
        "senderStaffId": sender,
        "sessionWebhookExpiredTime": at_ms + 5_400_000,
        "createAt": at_ms,
        "senderCorpId": "ding-corp",
        "conversationType": "2" if group else "1",
        "senderId": f"$:LWCP_v1:${sender}",
        "isInAtList": bool(group),
        "sessionWebhook": "https://oapi.dingtalk.com/robot/sendBySession?session=s",
        "text": {"content": f" {text}" if group else text},
        "robotCode": ROBOT_CODE,
        "msgtype": "text",
        **({"conversationTitle": "VMI 轴承群"} if group else {}),
    }
