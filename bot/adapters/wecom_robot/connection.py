"""The intelligent robot's long connection (WeCom docs 101463): one websocket to
`wss://openws.work.weixin.qq.com`, JSON frames `{"cmd", "headers": {"req_id"}, "body"}` both
ways, each request answered by a frame with its req_id and an errcode.

- `aibot_subscribe` with the Bot ID and Secret opens it (errcode 853000: wrong ones, said in one
  log line and tried again slowly);
- `ping` every 30 s; two unanswered and the connection is taken for dead and made again, with
  backoff (1 s doubling to 30 s, jittered);
- callbacks (`aibot_msg_callback`, `aibot_event_callback`) are handed to `on_callback` one after
  another, in the order they came, so a chat's messages keep their order;
- WeCom keeps one connection per robot: a newer one kicks the older, which first hears
  `disconnected_event`. Connecting again at once would kick the other back, so this one stands
  by; only the process that leads connects at all (`may_connect`).

`request` sends from another thread (delivery) and waits for the answer.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import random
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import websockets

from bot.adapters.long_connection import LongConnection
from bot.adapters.wecom_robot.translate import DISCONNECTED, EVENT, MESSAGE, event_type

log = logging.getLogger(__name__)

DEFAULT_URL = "wss://openws.work.weixin.qq.com"
HEARTBEAT_SECONDS = 30.0
MISSED_PINGS = 2  # unanswered pings before the connection is taken for dead
BACKOFF_MAX_SECONDS = 30.0
CREDENTIALS_PAUSE_SECONDS = 60.0  # wrong credentials do not get right by trying fast
STANDBY_SECONDS = 600.0  # after another connection took the robot
ANSWER_SECONDS = 10.0
HEARD_KEPT_SECONDS = 60.0  # how long a callback's req_id is remembered for its answer

OnCallback = Callable[["RobotConnection", dict[str, Any]], Awaitable[None]]


class CredentialsRefused(Exception):
    """WeCom refused the subscription: a wrong Bot ID or Secret (or a robot not in API mode)."""


class Kicked(Exception):
    """Another connection subscribed to the same robot and took it."""


class NotConnected(Exception):
    """No connection now: nothing was sent."""


class Unsure(Exception):
    """The frame went out but no answer came back (the connection dropped, or too slow)."""


class Refused(Exception):
    """WeCom answered a request with an errcode other than 0."""

    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"errcode {errcode}: {errmsg}")
        self.errcode = errcode


class _Dead(Exception):
    """Pings went unanswered."""


class RobotConnection(LongConnection):
    """Holds the robot's connection in a thread of its own while `may_connect` says so."""

    def __init__(
        self,
        bot_id: str,
        secret: str,
        url: str | None,
        on_callback: OnCallback,
        may_connect: Callable[[], bool] = lambda: True,
        *,
        heartbeat_seconds: float = HEARTBEAT_SECONDS,
        backoff_max: float = BACKOFF_MAX_SECONDS,
        credentials_pause: float = CREDENTIALS_PAUSE_SECONDS,
        standby_seconds: float = STANDBY_SECONDS,
        answer_seconds: float = ANSWER_SECONDS,
    ) -> None:
        super().__init__(may_connect, backoff_max)
        self.bot_id = bot_id
        self._secret = secret
        self.url = url or DEFAULT_URL
        self.on_callback = on_callback
        self.heartbeat_seconds = heartbeat_seconds
        self.credentials_pause = credentials_pause
        self.standby_seconds = standby_seconds
        self.answer_seconds = answer_seconds
        self._ids = itertools.count(1)
        self._websocket: Any = None
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._unanswered_pings = 0
        self._lock = threading.Lock()
        self._heard: dict[str, float] = {}  # callback req_id -> when (monotonic), this connection
        self._replies: dict[str, str] = {}  # message or person -> req_id of the unanswered one
        self._up_once = False  # the last connection got as far as being subscribed

    # -- lifecycle -------------------------------------------------------------------------

    def ready(self) -> bool:
        """The connection is up and subscribed: requests can be sent."""
        return self.connected.is_set()

    # -- for the sender (any thread) -------------------------------------------------------

    def request(self, cmd: str, body: dict[str, Any], req_id: str | None = None) -> dict[str, Any]:
        """Send one request and wait for its answer. NotConnected (nothing sent), Unsure (sent,
        no answer) or Refused (an errcode)."""
        loop = self._loop
        if loop is None or loop.is_closed() or not self.connected.is_set():
            raise NotConnected("not connected")
        asked = asyncio.run_coroutine_threadsafe(self._request(cmd, body, req_id), loop)
        try:
            return asked.result(self.answer_seconds + 5)
        except TimeoutError as err:
            asked.cancel()
            raise Unsure(f"{cmd}: no answer") from err

    def fresh(self, req_id: str, within: float) -> bool:
        """The callback `req_id` came on this connection less than `within` seconds ago."""
        with self._lock:
            heard = self._heard.get(req_id)
        return heard is not None and time.monotonic() - heard < within

    def remember_reply(self, said: str, req_id: str) -> None:
        """The message `said` (a group message's msgid, or the person one to one) came as
        callback `req_id`: its answer may use it."""
        with self._lock:
            self._replies[said] = req_id

    def take_reply(self, said: str, within: float) -> str | None:
        """The req_id of the message `said` when it is still fresh (once: one answer each)."""
        with self._lock:
            req_id = self._replies.pop(said, None)
        return req_id if req_id is not None and self.fresh(req_id, within) else None

    async def send(self, cmd: str, body: dict[str, Any], req_id: str) -> None:
        """Send a frame from inside the connection's loop without waiting for its answer (a
        callback's handler cannot: the answer is read after it returns)."""
        if self._websocket is not None:
            await self._websocket.send(_frame(cmd, req_id, body))

    # -- inside the loop -------------------------------------------------------------------

    def _failed(self, err: Exception, failures: int) -> tuple[float, int]:
        if isinstance(err, CredentialsRefused):
            log.error(
                "WeCom refused the intelligent robot's credentials (%s): check WECOM_BOT_ID "
                "and WECOM_BOT_SECRET, and that the robot uses API mode with a long "
                "connection; trying again in %.0f s",
                err,
                self.credentials_pause,
            )
            return self.credentials_pause, failures
        if isinstance(err, Kicked):
            log.warning(
                "WeCom robot %s: another connection took it (another vmi-bot or program with "
                "this Bot ID); standing by %.0f s before connecting again",
                self.bot_id,
                self.standby_seconds,
            )
            return self.standby_seconds, failures
        # a drop, dead pings, the network: connect again
        log.warning("WeCom robot connection lost or failed (%s): connecting again",
                    err.__class__.__name__)  # fmt: skip
        return 0.0, 1 if self._up_once else failures + 1

    async def _hold(self) -> None:
        """One connection: subscribed, then callbacks and answers read until it closes, pings
        go unanswered, WeCom kicks it, this process stops leading, or `stop`."""
        assert self._stopping is not None  # set by _run before this is called
        self._up_once = False
        async with websockets.connect(self.url, ping_interval=None, max_size=2**22) as websocket:
            early = await self._subscribe(websocket)
            self._websocket = websocket
            self._unanswered_pings = 0
            self._up_once = True
            self.connected.set()
            log.info("WeCom robot %s connected", self.bot_id)
            tasks = {
                asyncio.ensure_future(self._read(websocket, early)),
                asyncio.ensure_future(self._heartbeat(websocket)),
            }
            stopping = asyncio.ensure_future(self._stopping.wait())
            try:
                while True:
                    # woken each second too: a process that stops leading lets go promptly
                    done, _ = await asyncio.wait(
                        {*tasks, stopping}, timeout=1.0, return_when=asyncio.FIRST_COMPLETED
                    )
                    if stopping in done or not self.may_connect():
                        return
                    for task in done:
                        task.result()  # raises why the connection ended
                        raise _Dead("the connection closed")  # read to its end
            finally:
                stopping.cancel()
                for task in tasks:
                    task.cancel()

    async def _subscribe(self, websocket: Any) -> list[dict[str, Any]]:
        """Subscribe; the frames that came before the answer, to be read first."""
        req_id = f"subscribe_{next(self._ids)}"
        body = {"bot_id": self.bot_id, "secret": self._secret}
        await websocket.send(_frame("aibot_subscribe", req_id, body))
        early: list[dict[str, Any]] = []
        async with asyncio.timeout(self.answer_seconds):
            while True:
                frame = _parse(await websocket.recv())
                if frame is None:
                    continue
                if _req_id(frame) == req_id and not frame.get("cmd"):
                    break
                early.append(frame)
        errcode = int(frame.get("errcode") or 0)
        if errcode:
            raise CredentialsRefused(f"errcode {errcode}: {frame.get('errmsg', '')}")
        return early

    async def _read(self, websocket: Any, early: list[dict[str, Any]]) -> None:
        for frame in early:
            await self._on_frame(frame)
        async for raw in websocket:
            parsed = _parse(raw)
            if parsed is not None:
                await self._on_frame(parsed)

    async def _on_frame(self, frame: dict[str, Any]) -> None:
        """An answer to a request, or a callback handed on (WeCom's kick raises Kicked)."""
        cmd, req_id = frame.get("cmd"), _req_id(frame)
        if not cmd:
            self._answered(req_id, frame)
        elif cmd == EVENT and event_type(frame.get("body") or {}) == DISCONNECTED:
            raise Kicked()
        elif cmd in (MESSAGE, EVENT):
            with self._lock:
                now = time.monotonic()
                self._heard = {r: t for r, t in self._heard.items()
                               if now - t < HEARD_KEPT_SECONDS}  # fmt: skip
                self._heard[req_id] = now
            await self.on_callback(self, frame)

    def _answered(self, req_id: str, frame: dict[str, Any]) -> None:
        if req_id.startswith("ping_"):
            self._unanswered_pings = 0
            return
        waiting = self._waiting.pop(req_id, None)
        if waiting is not None and not waiting.done():
            waiting.set_result(frame)

    async def _heartbeat(self, websocket: Any) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_seconds)
            if self._unanswered_pings >= MISSED_PINGS:
                raise _Dead(f"{self._unanswered_pings} pings unanswered")
            self._unanswered_pings += 1
            await websocket.send(_frame("ping", f"ping_{next(self._ids)}"))

    async def _request(self, cmd: str, body: dict[str, Any], req_id: str | None) -> dict[str, Any]:
        websocket = self._websocket
        if websocket is None:
            raise NotConnected("not connected")
        req_id = req_id or f"{cmd}_{next(self._ids)}_{random.getrandbits(32):08x}"
        answer: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[req_id] = answer
        try:
            try:
                await websocket.send(_frame(cmd, req_id, body))
            except websockets.ConnectionClosed as err:
                raise NotConnected("the connection closed") from err
            try:
                async with asyncio.timeout(self.answer_seconds):
                    frame = await answer
            except TimeoutError as err:
                raise Unsure(f"{cmd}: no answer in {self.answer_seconds:.0f} s") from err
        finally:
            self._waiting.pop(req_id, None)
        errcode = int(frame.get("errcode") or 0)
        if errcode:
            raise Refused(errcode, str(frame.get("errmsg", "")))
        return frame

    def _down(self) -> None:
        """The connection is gone: requests waiting hear so, and callbacks' req_ids expire
        (an answer must go on the connection its callback came on)."""
        self.connected.clear()
        self._websocket = None
        for waiting in self._waiting.values():
            if not waiting.done():
                waiting.set_exception(Unsure("the connection dropped before the answer"))
                waiting.exception()  # its request hears it; none left waiting is no error
        self._waiting.clear()
        with self._lock:
            self._heard.clear()
            self._replies.clear()


def _frame(cmd: str, req_id: str, body: dict[str, Any] | None = None) -> str:
    frame: dict[str, Any] = {"cmd": cmd, "headers": {"req_id": req_id}}
    if body is not None:
        frame["body"] = body
    return json.dumps(frame, ensure_ascii=False)


def _parse(raw: str | bytes) -> dict[str, Any] | None:
    """A frame as a dict; None (logged) for anything not JSON."""
    try:
        frame = json.loads(raw)
    except ValueError:
        log.warning("WeCom robot: a frame that is not JSON was ignored")
        return None
    return frame if isinstance(frame, dict) else None


def _req_id(frame: dict[str, Any]) -> str:
    return str((frame.get("headers") or {}).get("req_id") or "")
