"""A small fake of the Slack Web API for tests: a real HTTP server on 127.0.0.1 that answers the
way Slack documents ({"ok": true, ...} / {"ok": false, "error": ...}, HTTP 429 with
Retry-After) and records every request.

It keeps what was posted, so conversations.history (a channel's messages, newest first) and
conversations.replies (a thread, its parent first) answer with it, message `metadata` included
only with `include_all_metadata`, both paged with a cursor (`limit`, `response_metadata.
next_cursor`). Files go up as Slack's external upload does: files.getUploadURLExternal gives a
file id and an upload URL (here, on the fake), the bytes are POSTed there, and
files.completeUploadExternal shares them in `channel_id` (in `thread_ts`'s thread) as a message
with the file; `uploaded` gives the bytes back. A file a person sends is put there with
`add_file`: files.info describes it and its `url_private_download` (on the fake) gives its
bytes to a request with a bot token (`Authorization: Bearer xoxb-…`), 403 otherwise. `hold`
keeps a call's answer back, as a process killed mid-send never hears it.

    with FakeSlack() as fake:
        client = WebClient(token="xoxb-test", base_url=fake.base_url)
        client.chat_postMessage(channel="C1", text="hi")
        assert fake.calls_to("chat.postMessage")[0].params["text"] == "hi"

or `fake = FakeSlack().start()` … `fake.stop()` in a fixture.
"""

from __future__ import annotations

import base64
import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from tests.fake_server import LoopbackFake, QuietHandler

BOT_USER_ID = "UBOT"
BOT_ID = "BBOT"
TEAM_ID = "T1"
APP_ID = "A1"

# Params Slack takes as JSON even in a form body (WebClient sends them as JSON strings there).
_JSON_PARAMS = frozenset({"blocks", "attachments", "view", "metadata", "user_auth_blocks"})


@dataclass(frozen=True)
class Call:
    """One request: the API method, its params (JSON or form, merged with the query string),
    the token (Authorization: Bearer, or a `token` param), when it came (time.monotonic()),
    and what the fake answered."""

    method: str
    params: dict[str, Any]
    token: str | None
    at: float
    status: int = 200
    response: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Failure:
    status: int
    retry_after: int | None


@dataclass
class _Error:
    error: str
    remaining: int | None  # None: always


class FakeSlack(LoopbackFake[Call]):
    """A fake Slack Web API on 127.0.0.1 and a random free port."""

    def __init__(self) -> None:
        super().__init__(_Handler)  # `calls` and `_changed`, which guards all state below too
        self._failures: list[_Failure] = []
        self._errors: dict[str, _Error] = {}
        self._ts_counter = 0
        self._view_counter = 0
        self._channels: dict[str, list[dict[str, Any]]] = {}  # channel -> its posts, in order
        self._threads: dict[tuple[str, str], list[dict[str, Any]]] = {}  # (channel, ts) -> replies
        self._files: dict[str, dict[str, Any]] = {}  # file id -> filename, length, bytes
        self.socket_mode: Any = None  # a FakeSlackSocket (tests/fake_slack_socket.py) when joined

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """What WebClient(base_url=...) / SLACK_API_BASE_URL gets, e.g. http://127.0.0.1:PORT/api/"""
        return self.address + "/api/"

    # -- scripting ---------------------------------------------------------------------------

    def fail_next(self, count: int, status: int = 500, retry_after: int | None = None) -> None:
        """The next `count` requests (any method) answer HTTP `status` instead; with
        `retry_after`, a Retry-After header (seconds) as Slack sends with 429."""
        with self._changed:
            self._failures.extend(_Failure(status, retry_after) for _ in range(count))

    def error_for(self, method: str, error: str, count: int | None = None) -> None:
        """`method` answers {"ok": false, "error": error}, `count` times or (None) always.
        A later call for the same method replaces the earlier one."""
        with self._changed:
            self._errors[method] = _Error(error, count)

    def reset(self) -> None:
        """Forget the calls and every scripted failure and error (what was posted stays)."""
        with self._changed:
            self.calls.clear()
            self._failures.clear()
            self._errors.clear()
            self._holds.clear()
        self.release()

    def messages_in(self, channel: str, thread_ts: str | None = None) -> list[dict[str, Any]]:
        """What was posted in `channel` (not in threads), or in the thread of `thread_ts`, in
        order, metadata included."""
        with self._changed:
            if thread_ts is None:
                return [dict(m) for m in self._channels.get(channel, [])]
            return [dict(m) for m in self._threads.get((channel, thread_ts), [])]

    def uploaded(self, file_id: str) -> bytes:
        """The bytes uploaded for `file_id` (b"" when none came)."""
        with self._changed:
            return bytes(self._files.get(file_id, {}).get("data", b""))

    def add_file(self, name: str, data: bytes) -> dict[str, Any]:
        """A file a person shares: its object as Slack's message events carry it."""
        with self._changed:
            file_id = f"F{len(self._files) + 1:06d}"
            self._files[file_id] = {"filename": name, "length": len(data), "data": data}
            return self._file_object(file_id)

    def _file_object(self, file_id: str) -> dict[str, Any]:
        name = self._files[file_id]["filename"]
        return {
            "id": file_id,
            "name": name,
            "size": self._files[file_id]["length"],
            "url_private_download": f"{self.address}/files-pri/{file_id}/download/{quote(name)}",
        }

    def _download(self, file_id: str, token: str | None) -> tuple[int, bytes]:
        """A file's bytes for its private URL: only with a bot token."""
        with self._changed:
            self._record(Call("file_download", {"file": file_id}, token, time.monotonic()))
            known = self._files.get(file_id)
            if not token or not token.startswith("xoxb-"):
                return 403, b"forbidden"
            if known is None or known.get("data") is None:
                return 404, b"not found"
            return 200, bytes(known["data"])

    def _files_info(self, params: dict[str, Any]) -> dict[str, Any]:
        file_id = str(params.get("file", ""))
        if file_id not in self._files:
            return {"ok": False, "error": "file_not_found"}
        return {"ok": True, "file": self._file_object(file_id)}

    # -- inspection --------------------------------------------------------------------------

    def calls_to(self, method: str) -> list[Call]:
        """The calls of `method`, in order."""
        return self._find(lambda c: c.method == method)

    def wait_for(self, method: str, n: int = 1, timeout: float = 30) -> list[Call]:
        """Block until `n` calls of `method` were recorded; returns all calls of it so far.
        Raises TimeoutError after `timeout` seconds."""
        return self._wait(lambda c: c.method == method, n, timeout, method)

    def _call_name(self, call: Call) -> str:
        return call.method

    # -- answering (server threads) ----------------------------------------------------------

    def _answer(
        self, method: str, params: dict[str, Any], token: str | None, bad_json: bool
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        """Decide the answer, record the call and wake waiters; all under the lock, so calls
        are recorded in the order they were answered. A held call's answer waits after that."""
        with self._changed:
            status, body, headers = self._decide(method, params, token, bad_json)
            self._record(Call(method, params, token, time.monotonic(), status, body))
            held = self._take_hold(lambda name: name == method)
        self._wait_if_held(held)
        return status, body, headers

    def _decide(
        self, method: str, params: dict[str, Any], token: str | None, bad_json: bool
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        if self._failures:
            failure = self._failures.pop(0)
            headers = {}
            if failure.retry_after is not None:
                headers["Retry-After"] = str(failure.retry_after)
            error = "ratelimited" if failure.status == 429 else "fatal_error"
            return failure.status, {"ok": False, "error": error}, headers
        if bad_json:
            return 200, {"ok": False, "error": "invalid_json"}, {}
        if not token:
            return 200, {"ok": False, "error": "not_authed"}, {}
        scripted = self._errors.get(method)
        if scripted is not None:
            if scripted.remaining is not None:
                scripted.remaining -= 1
                if scripted.remaining <= 0:
                    del self._errors[method]
            return 200, {"ok": False, "error": scripted.error}, {}
        if method == "apps.connections.open":  # Socket Mode's URL, for the app-level token
            return 200, self._apps_connections_open(token), {}
        handler = _METHODS.get(method)
        if handler is None:
            return 200, {"ok": False, "error": "unknown_method", "req_method": method}, {}
        return 200, handler(self, params), {}

    def _next_ts(self) -> str:
        self._ts_counter += 100
        return f"{1700000000 + self._ts_counter // 1_000_000}.{self._ts_counter % 1_000_000:06d}"

    def _next_view_id(self) -> str:
        self._view_counter += 1
        return f"V{self._view_counter}"

    # -- methods -----------------------------------------------------------------------------

    def _auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://fake-vmi.slack.com/",
            "team": "Fake VMI",
            "user": "vmi-bot",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _apps_connections_open(self, token: str) -> dict[str, Any]:
        if self.socket_mode is None:
            return {"ok": False, "error": "invalid_auth"}  # no Socket Mode app here
        answer: dict[str, Any] = self.socket_mode.connections_open(token)
        return answer

    def _message(self, params: dict[str, Any], ts: str) -> dict[str, Any]:
        message: dict[str, Any] = {
            "type": "message",
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "app_id": APP_ID,
            "team": TEAM_ID,
            "text": params.get("text", ""),
            "ts": ts,
        }
        for key in ("blocks", "attachments", "thread_ts", "metadata"):
            if key in params:
                message[key] = params[key]
        return message

    def _chat_post_message(self, params: dict[str, Any]) -> dict[str, Any]:
        missing = _missing_message(params)
        if missing:
            return missing
        ts = self._next_ts()
        channel = params["channel"]
        message = self._message(params, ts)
        if params.get("thread_ts"):
            self._threads.setdefault((channel, str(params["thread_ts"])), []).append(message)
            if _true(params.get("reply_broadcast")):
                self._channels.setdefault(channel, []).append(message)
        else:
            self._channels.setdefault(channel, []).append(message)
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    def _conversations_history(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = params.get("channel")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        posted = _between(self._channels.get(channel, []), params)
        page, more, cursor = _page(posted[::-1], params)  # newest first
        return {"ok": True, "messages": _shown(page, params), "has_more": more, "pin_count": 0,
                "response_metadata": {"next_cursor": cursor}}  # fmt: skip

    def _conversations_replies(self, params: dict[str, Any]) -> dict[str, Any]:
        channel, ts = params.get("channel"), str(params.get("ts") or "")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if not ts:
            return {"ok": False, "error": "invalid_arguments"}
        replies = self._threads.get((channel, ts), [])
        parent = next((m for m in self._channels.get(channel, []) if m["ts"] == ts), None)
        if parent is None and not replies:
            return {"ok": False, "error": "thread_not_found"}
        parent = dict(parent or {"type": "message", "ts": ts, "text": ""})
        if replies:
            parent.update(thread_ts=ts, reply_count=len(replies))
        thread = [parent, *_between(replies, params)]  # the parent first, then oldest first
        page, more, cursor = _page(thread, params)
        return {"ok": True, "messages": _shown(page, params), "has_more": more,
                "response_metadata": {"next_cursor": cursor}}  # fmt: skip

    def _chat_update(self, params: dict[str, Any]) -> dict[str, Any]:
        missing = _missing_message(params)
        if missing:
            return missing
        if not params.get("ts"):
            return {"ok": False, "error": "message_not_found"}
        ts = params["ts"]
        return {
            "ok": True,
            "channel": params["channel"],
            "ts": ts,
            "text": params.get("text", ""),
            "message": self._message(params, ts),
        }

    def _chat_post_ephemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        missing = _missing_message(params)
        if missing:
            return missing
        if not params.get("user"):
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "message_ts": self._next_ts()}

    def _view(self, view: Any, view_id: str) -> dict[str, Any]:
        view = view if isinstance(view, dict) else {}
        return {
            "id": view_id,
            "team_id": TEAM_ID,
            "type": view.get("type", "modal"),
            "title": view.get("title"),
            "submit": view.get("submit"),
            "close": view.get("close"),
            "blocks": view.get("blocks", []),
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "external_id": view.get("external_id", ""),
            "state": {"values": {}},
            "hash": f"{time.time():.6f}.fake",
            "root_view_id": view_id,
            "previous_view_id": None,
            "app_id": APP_ID,
            "bot_id": BOT_ID,
        }

    def _views_open(self, params: dict[str, Any]) -> dict[str, Any]:
        if not (params.get("trigger_id") or params.get("interactivity_pointer")):
            return {"ok": False, "error": "invalid_arguments"}
        if not isinstance(params.get("view"), dict):
            return {"ok": False, "error": "invalid_arguments"}
        return {"ok": True, "view": self._view(params["view"], self._next_view_id())}

    def _views_update(self, params: dict[str, Any]) -> dict[str, Any]:
        view_id = params.get("view_id")
        if not (view_id or params.get("external_id")):
            return {"ok": False, "error": "invalid_arguments"}
        if not isinstance(params.get("view"), dict):
            return {"ok": False, "error": "invalid_arguments"}
        return {"ok": True, "view": self._view(params["view"], view_id or self._next_view_id())}

    def _files_get_upload_url_external(self, params: dict[str, Any]) -> dict[str, Any]:
        filename, length = params.get("filename"), str(params.get("length") or "")
        if not filename or not length.isdecimal() or int(length) <= 0:
            return {"ok": False, "error": "invalid_arguments"}
        file_id = f"F{len(self._files) + 1:06d}"
        self._files[file_id] = {"filename": filename, "length": int(length), "data": None}
        return {"ok": True, "upload_url": f"{self.address}/upload/v1/{file_id}",
                "file_id": file_id}  # fmt: skip

    def _take_upload(self, file_id: str, data: bytes) -> int:
        """The upload URL: 200 when the file was announced, 404 otherwise."""
        with self._changed:
            known = self._files.get(file_id)
            if known is None:
                return 404
            known["data"] = data
            self._record(Call("upload", {"file_id": file_id, "length": len(data)}, None,
                              time.monotonic()))  # fmt: skip
            return 200

    def _files_complete_upload_external(self, params: dict[str, Any]) -> dict[str, Any]:
        try:
            wanted = json.loads(params.get("files") or "")
        except (TypeError, json.JSONDecodeError):
            return {"ok": False, "error": "invalid_arguments"}
        if not isinstance(wanted, list) or not wanted:
            return {"ok": False, "error": "invalid_arguments"}
        shared = []
        for entry in wanted:
            known = self._files.get(str(entry.get("id")))
            if known is None or known["data"] is None:
                return {"ok": False, "error": "file_not_found"}
            shared.append({"id": entry["id"], "name": known["filename"],
                           "title": entry.get("title") or known["filename"],
                           "size": len(known["data"]), "mimetype": "image/png"})  # fmt: skip
        channel = params.get("channel_id") or params.get("channels")
        if channel:
            ts = self._next_ts()
            message = {"type": "message", "user": BOT_USER_ID, "bot_id": BOT_ID,
                       "text": params.get("initial_comment") or "", "ts": ts, "files": shared,
                       "upload": True}  # fmt: skip
            thread_ts = params.get("thread_ts")
            if thread_ts:
                message["thread_ts"] = thread_ts
                self._threads.setdefault((channel, str(thread_ts)), []).append(message)
            else:
                self._channels.setdefault(channel, []).append(message)
        return {"ok": True, "files": shared}

    def _reactions_add(self, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("name"):
            return {"ok": False, "error": "invalid_name"}
        if not (params.get("channel") and params.get("timestamp")):
            return {"ok": False, "error": "no_item_specified"}
        return {"ok": True}


def _true(value: Any) -> bool:
    """A boolean param as Slack reads it: true, "true" or "1" (WebClient sends "1")."""
    return value is True or str(value).lower() in ("1", "true")


def _between(messages: list[dict[str, Any]], params: dict[str, Any]) -> list[dict[str, Any]]:
    """The messages after `oldest` and before `latest` (with `inclusive`, at them too)."""
    inclusive = _true(params.get("inclusive"))
    oldest, latest = float(params.get("oldest") or 0), float(params.get("latest") or "inf")

    def inside(ts: float) -> bool:
        if inclusive:
            return oldest <= ts <= latest
        return oldest < ts < latest

    return [m for m in messages if inside(float(m["ts"]))]


def _page(
    messages: list[dict[str, Any]], params: dict[str, Any]
) -> tuple[list[dict[str, Any]], bool, str]:
    """One page from `cursor` (opaque, as Slack's), at most `limit` long (default 100, at
    most 999); whether more follow, and the cursor for them ("" at the end)."""
    start = 0
    if params.get("cursor"):
        start = int(base64.b64decode(str(params["cursor"])).decode().removeprefix("next:"))
    limit = min(999, max(1, int(params.get("limit") or 100)))
    page = messages[start : start + limit]
    more = start + limit < len(messages)
    cursor = base64.b64encode(f"next:{start + limit}".encode()).decode() if more else ""
    return page, more, cursor


def _shown(messages: list[dict[str, Any]], params: dict[str, Any]) -> list[dict[str, Any]]:
    """Messages as a read method shows them: metadata only with include_all_metadata."""
    if _true(params.get("include_all_metadata")):
        return [dict(m) for m in messages]
    return [{k: v for k, v in m.items() if k != "metadata"} for m in messages]


def _missing_message(params: dict[str, Any]) -> dict[str, Any] | None:
    if not params.get("channel"):
        return {"ok": False, "error": "channel_not_found"}
    if not (params.get("text") or params.get("blocks") or params.get("attachments")):
        return {"ok": False, "error": "no_text"}
    return None


_METHODS: dict[str, Callable[[FakeSlack, dict[str, Any]], dict[str, Any]]] = {
    "auth.test": FakeSlack._auth_test,
    "chat.postMessage": FakeSlack._chat_post_message,
    "chat.update": FakeSlack._chat_update,
    "chat.postEphemeral": FakeSlack._chat_post_ephemeral,
    "conversations.history": FakeSlack._conversations_history,
    "conversations.replies": FakeSlack._conversations_replies,
    "views.open": FakeSlack._views_open,
    "views.update": FakeSlack._views_update,
    "reactions.add": FakeSlack._reactions_add,
    "files.getUploadURLExternal": FakeSlack._files_get_upload_url_external,
    "files.completeUploadExternal": FakeSlack._files_complete_upload_external,
    "files.info": FakeSlack._files_info,
}


class _Handler(QuietHandler[FakeSlack]):
    protocol_version = "HTTP/1.1"  # as Slack's API: a client may keep its connection
    # an answer's headers and body are written apart: without this the body waits for the
    # client's delayed ACK of the headers (Nagle), 40 ms an answer on a kept connection
    disable_nagle_algorithm = True

    def do_POST(self) -> None:
        self._handle()

    def do_GET(self) -> None:
        self._handle()

    def _handle(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if url.path.startswith("/respond/"):
            # a slash command's response_url: Slack takes JSON there and answers plain "ok"
            fake = self.server.fake
            call = Call("response_url", json.loads(raw or b"{}"), None, time.monotonic())
            fake._record(call)
            body = b"ok"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if url.path.startswith("/upload/v1/"):
            # an upload URL from files.getUploadURLExternal: the file's raw bytes, answered
            # as Slack's do, with plain "OK - <length>"
            status = self.server.fake._take_upload(url.path.rsplit("/", 1)[-1], raw)
            body = f"OK - {len(raw)}".encode() if status == 200 else b"not found"
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if url.path.startswith("/files-pri/"):
            # a file's url_private_download: its bytes, for a request with the bot token
            auth = self.headers.get("Authorization") or ""
            token = auth[len("bearer ") :].strip() if auth.lower().startswith("bearer ") else None
            status, body = self.server.fake._download(url.path.split("/")[2], token)
            self.send_response(status)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if not url.path.startswith("/api/"):
            self._send_json(404, {"ok": False, "error": "not_found"})
            return
        method = url.path[len("/api/") :]
        params: dict[str, Any] = dict(parse_qsl(url.query, keep_blank_values=True))
        bad_json = False
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if raw and content_type == "application/json":
            try:
                body = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                bad_json = True
            else:
                if isinstance(body, dict):
                    params.update(body)
                else:
                    bad_json = True
        elif raw:
            params.update(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
        for key in _JSON_PARAMS & params.keys():
            if isinstance(params[key], str):
                # Left as sent when it is not JSON; Slack would answer invalid_blocks etc.
                with contextlib.suppress(json.JSONDecodeError):
                    params[key] = json.loads(params[key])
        token = None
        auth = self.headers.get("Authorization") or ""
        if auth.lower().startswith("bearer "):
            token = auth[len("bearer ") :].strip() or None
        form_token = params.pop("token", None)
        if token is None and isinstance(form_token, str) and form_token:
            token = form_token
        status, answer, headers = self.server.fake._answer(method, params, token, bad_json)
        self._send_json(status, answer, headers)
