"""A small fake of the WeCom (企业微信) server API for tests: a real HTTP server on 127.0.0.1 that
answers the way WeCom documents (HTTP 200 with {"errcode": 0, "errmsg": "ok", ...} or a
non-zero errcode) and records every request.

    with FakeWeCom() as fake:                     # corp id "ww-test-corp", secret "test-secret"
        client = <wechatpy WeChatClient with API_BASE_URL = fake.base_url + "/cgi-bin/">
        client.message.send_text(1000002, "wang", "hi")
        assert fake.calls_to("message/send")[0].body["text"]["content"] == "hi"

Endpoints (below base_url): GET /cgi-bin/gettoken, POST /cgi-bin/message/send,
/cgi-bin/message/update_template_card, /cgi-bin/appchat/send (all with ?access_token=) and
POST /cgi-bin/webhook/send?key=KEY (a group robot; no token), and POST /cgi-bin/media/upload
?type=image|voice|video|file (multipart/form-data, the file in field `media`), which answers a
`media_id` that message/send and appchat/send take in an `image` message (`media` gives the
bytes back); a group robot's image message carries the picture itself, as base64 and its md5
(`robot_images` lists the pictures robots posted).

message/send takes `enable_duplicate_check` (1: on) and `duplicate_check_interval` (seconds,
default 1800, at most 4 hours): a body the same as one sent with the check on within the interval
is answered errcode 0 with the first one's msgid, and nobody receives it again (`received`
lists what reached people). `hold` keeps a call's answer back, as a process killed mid-send
never hears it.

Error codes used (WeCom's global codes): -1 system busy (with HTTP 5xx from fail_next), 40001
wrong secret, 40004 bad media type, 40005 file too small or large, 40007 unknown media_id, 40008
bad msgtype, 40013 wrong corp id, 40014 unknown access_token, 40056 wrong agentid (only when
agent_id is given), 40058 bad parameter (a bad or repeated task_id, a used response_code, no
chatid, no recipient), 41001 no access_token, 42001 expired access_token, 44004 empty text,
45009 frequency limit (a group robot's 20 messages a minute), 47001 body is not JSON, 93000
unknown webhook key.

Documents (wedoc, all POST JSON with ?access_token=): create_doc (doc_type 3, 4 or 10 智能表格;
answers docid and url), mod_doc_member (update_file_member_list / del_file_member_list of
{type: 1, userid, auth: 1 read | 2 edit | 7 admin}, at most 100 each), and of a smart sheet
smartsheet/get_sheet (a new one has one sheet), add_sheet, get_fields, add_fields
(FIELD_TYPE_TEXT, FIELD_TYPE_NUMBER, FIELD_TYPE_DATE_TIME …), get_records (offset, limit at
most 1000; total, has_more, next), add_records and update_records (at most 500 records, values
keyed by field title with key_type CELL_VALUE_KEY_TYPE_FIELD_TITLE: a text field takes
[{"type": "text", "text": ...}], a number field a number, a date field a millisecond timestamp
as text) and delete_records (at most 100 record_ids). The app may edit only the docs it created:
any other docid (`foreign_doc`) is answered 640017 no permission. `sheet_rows` shows a doc's
records as plain values.
"""

from __future__ import annotations

import base64
import binascii
import email.parser
import email.policy
import hashlib
import itertools
import json
import re
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from tests.fake_server import LoopbackFake, QuietHandler

CORP_ID = "ww-test-corp"
CORP_SECRET = "test-secret"
TOKEN_SECONDS = 7200
WEBHOOK_PER_MINUTE = 20

_TASK_ID = re.compile(r"[A-Za-z0-9_\-@]{1,128}")
_MESSAGE_TYPES = frozenset(
    {
        "text",
        "image",
        "voice",
        "video",
        "file",
        "textcard",
        "news",
        "mpnews",
        "markdown",
        "miniprogram_notice",
        "template_card",
    }
)
_APPCHAT_TYPES = frozenset(
    {"text", "image", "voice", "video", "file", "textcard", "news", "mpnews", "markdown"}
)
# Card types that call back, so need a task_id (the notice types need one only with action_menu).
_TASK_CARDS = frozenset({"button_interaction", "vote_interaction", "multiple_interaction"})
_WEBHOOK_TYPES = frozenset({"text", "markdown", "image", "news", "file", "template_card"})


@dataclass(frozen=True)
class Call:
    """One request: its path (e.g. "/cgi-bin/message/send"), query string, JSON body (None for
    a GET or a body that is not a JSON object), when it came (time.monotonic()), and what the
    fake answered (HTTP status and JSON)."""

    path: str
    query: dict[str, str]
    body: dict[str, Any] | None
    at: float
    status: int = 200
    response: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Failure:
    status: int
    errcode: int | None
    path_suffix: str | None


def _error(errcode: int, errmsg: str) -> dict[str, Any]:
    return {"errcode": errcode, "errmsg": errmsg}


_ERRMSG = {
    -1: "system busy",
    40001: "invalid credential",
    40014: "invalid access_token",
    41001: "access_token missing",
    42001: "access_token expired",
    45009: "api freq out of limit",
    45033: "api concurrent out of limit",
    640017: "no permission",
    93000: "invalid webhook url",
}


class FakeWeCom(LoopbackFake[Call]):
    """A fake WeCom API on 127.0.0.1 and a random free port."""

    def __init__(
        self,
        corp_id: str = CORP_ID,
        corp_secret: str = CORP_SECRET,
        *,
        agent_id: int | None = None,
        webhook_keys: Iterable[str] | None = None,
        webhook_per_minute: int | None = WEBHOOK_PER_MINUTE,
        strict_response_codes: bool = False,
    ) -> None:
        """`agent_id`: the only agentid message/send and update_template_card take (None: any).
        `webhook_keys`: the group-robot keys that exist (None: any non-empty key).
        `webhook_per_minute`: messages one robot key may post in any 60 seconds before answers
        are errcode 45009, as WeCom limits a group robot (None: no limit).
        `strict_response_codes`: update_template_card takes only response codes this fake gave
        out (message/send of a template card, new_response_code()); else any code it has not
        seen used yet, so tests may make click events with codes of their own."""
        self.corp_id = corp_id
        self.corp_secret = corp_secret
        self.agent_id = agent_id
        self.webhook_keys = None if webhook_keys is None else frozenset(webhook_keys)
        self.webhook_per_minute = webhook_per_minute
        self.strict_response_codes = strict_response_codes
        super().__init__(_Handler)  # `calls` and `_changed`, which guards all state below too
        self.tokens_issued = 0
        self._tokens: dict[str, bool] = {}  # token -> still valid
        self._failures: list[_Failure] = []
        self._task_ids: set[str] = set()
        self._response_codes: dict[str, bool] = {}  # response_code -> not used yet
        self._webhook_posts: dict[str, deque[float]] = {}
        self._counter = itertools.count(1)
        self.received: list[dict[str, Any]] = []  # message/send bodies that reached people
        self._checked: dict[str, tuple[float, dict[str, Any]]] = {}  # body -> (when, answer)
        self._media: dict[str, bytes] = {}  # media_id -> the uploaded bytes
        self._media_names: dict[str, str] = {}  # media_id -> a sent file's name
        self.robot_images: list[bytes] = []  # pictures group robots posted, in order
        self.docs: dict[str, dict[str, Any]] = {}  # docid -> the doc (wedoc), see _create_doc

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """The API root, as WECOM_API_BASE_URL: http://127.0.0.1:PORT (no trailing slash)."""
        return self.address

    # -- scripting ---------------------------------------------------------------------------

    def fail_next(
        self,
        count: int,
        status: int = 500,
        errcode: int | None = None,
        path_suffix: str | None = None,
    ) -> None:
        """The next `count` requests (whose path ends with `path_suffix`, or any) fail: with
        `errcode`, HTTP 200 and {"errcode": errcode, "errmsg": ...} (e.g. 45009 frequency
        limit, 42001 token expired, -1 system busy); without, HTTP `status`."""
        with self._changed:
            self._failures.extend(_Failure(status, errcode, path_suffix) for _ in range(count))

    def expire_tokens(self) -> None:
        """Every access_token issued so far now answers errcode 42001 (access_token expired)."""
        with self._changed:
            for token in self._tokens:
                self._tokens[token] = False

    def new_response_code(self) -> str:
        """A fresh response_code, as WeCom puts in a template_card_event when someone presses a
        button; message/update_template_card takes it once."""
        with self._changed:
            return self._new_response_code()

    def add_media(self, name: str, data: bytes) -> str:
        """A file a person sends the app: its media_id, for `media/get` to answer with."""
        with self._changed:
            media_id = f"fake-media-{self._next()}"
            self._media[media_id] = data
            self._media_names[media_id] = name
            return media_id

    def _media_get(self, query: dict[str, str]) -> tuple[int, bytes, dict[str, str]]:
        """media/get: the file's bytes with its name, or WeCom's JSON error."""
        with self._changed:
            self._record(Call("/cgi-bin/media/get", query, None, time.monotonic()))
            if query.get("access_token") not in self._tokens:
                answer = _error(40014, "invalid access_token")
            elif query.get("media_id") not in self._media:
                answer = _error(40007, "invalid media_id")
            else:
                media_id = query["media_id"]
                name = quote(self._media_names.get(media_id, "file"))
                return (
                    200,
                    self._media[media_id],
                    {
                        "Content-Type": "application/octet-stream",
                        "Content-Disposition": f"attachment; filename*=UTF-8''{name}",
                    },
                )
            return 200, json.dumps(answer).encode(), {"Content-Type": "application/json"}

    def media(self, media_id: str) -> bytes:
        """The bytes uploaded as `media_id` (b"" when there is no such media)."""
        with self._changed:
            return self._media.get(media_id, b"")

    def received_by(self, userid: str) -> list[dict[str, Any]]:
        """The message/send bodies that reached `userid`, in order (repeats dropped by the
        duplicate check are not among them)."""
        with self._changed:
            return [b for b in self.received if userid in str(b.get("touser", "")).split("|")]

    def reset(self) -> None:
        """Forget the calls and scripted failures (tokens, task ids, codes and what was
        received stay)."""
        with self._changed:
            self.calls.clear()
            self._failures.clear()
            self._webhook_posts.clear()
            self._holds.clear()
        self.release()

    def foreign_doc(self) -> str:
        """A doc someone else created: the app may not edit it (errcode 640017)."""
        with self._changed:
            docid = f"fake-doc-{self._next()}"
            self.docs[docid] = {"name": "foreign", "type": 10, "by_app": False, "sheets": {},
                                "members": {}}  # fmt: skip
            return docid

    def sheet_rows(self, docid: str) -> list[dict[str, Any]]:
        """The records of the doc's first sheet, oldest first, as plain values by field title
        (a text's pieces joined), each with its "record_id"."""
        with self._changed:
            sheets = list(self.docs[docid]["sheets"].values())
            if not sheets:
                return []
            rows = []
            for record_id, values in sheets[0]["records"].items():
                plain = {t: "".join(p["text"] for p in v) if isinstance(v, list) else v
                         for t, v in values.items()}  # fmt: skip
                rows.append({"record_id": record_id, **plain})
            return rows

    # -- inspection --------------------------------------------------------------------------

    def calls_to(self, path_suffix: str) -> list[Call]:
        """The calls whose path ends with `path_suffix` (e.g. "message/send"), in order."""
        return self._find(lambda c: c.path.endswith(path_suffix))

    def wait_for(self, path_suffix: str, n: int = 1, timeout: float = 30) -> list[Call]:
        """Block until `n` calls to `path_suffix` were recorded; returns all of them so far.
        Raises TimeoutError after `timeout` seconds."""
        return self._wait(lambda c: c.path.endswith(path_suffix), n, timeout, path_suffix)

    def _call_name(self, call: Call) -> str:
        return call.path

    # -- answering (server threads) ----------------------------------------------------------

    def _answer(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        body: dict[str, Any] | None,
        bad_json: bool,
    ) -> tuple[int, dict[str, Any]]:
        """Decide the answer, record the call and wake waiters; all under the lock, so calls
        are recorded in the order they were answered."""
        with self._changed:
            status, answer = self._decide(method, path, query, body, bad_json)
            self._record(Call(path, query, body, time.monotonic(), status, answer))
            held = self._take_hold(path.endswith)
        self._wait_if_held(held)
        return status, answer

    def _decide(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        body: dict[str, Any] | None,
        bad_json: bool,
    ) -> tuple[int, dict[str, Any]]:
        for i, failure in enumerate(self._failures):
            if failure.path_suffix is None or path.endswith(failure.path_suffix):
                del self._failures[i]
                if failure.errcode is not None:
                    errmsg = _ERRMSG.get(failure.errcode, f"fake error {failure.errcode}")
                    return 200, _error(failure.errcode, errmsg)
                return failure.status, _error(-1, _ERRMSG[-1])
        endpoint = _ENDPOINTS.get(path)
        if endpoint is None:
            return 404, _error(404, f"no such api: {path}")
        wanted, needs_token, handler = endpoint
        if method != wanted:
            return 405, _error(405, f"{path} takes {wanted}")
        if needs_token:
            token = query.get("access_token", "")
            if not token:
                return 200, _error(41001, _ERRMSG[41001])
            valid = self._tokens.get(token)
            if valid is None:
                return 200, _error(40014, _ERRMSG[40014])
            if not valid:
                return 200, _error(42001, _ERRMSG[42001])
        if method == "POST" and (bad_json or body is None):
            return 200, _error(47001, "data format error")
        return 200, handler(self, query, body or {})

    def _next(self) -> int:
        return next(self._counter)

    def _new_response_code(self) -> str:
        code = f"fake-response-code-{self._next()}"
        self._response_codes[code] = True
        return code

    def _bad_agent(self, body: dict[str, Any]) -> dict[str, Any] | None:
        if self.agent_id is None:
            return None
        try:
            agent = int(body.get("agentid"))  # WeCom takes the agentid as a number or a string
        except (TypeError, ValueError):
            agent = None
        if agent != self.agent_id:
            return _error(40056, "invalid agentid")
        return None

    # -- endpoints ---------------------------------------------------------------------------

    def _gettoken(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        if query.get("corpid") != self.corp_id:
            return _error(40013, "invalid corpid")
        if query.get("corpsecret") != self.corp_secret:
            return _error(40001, _ERRMSG[40001])
        token = f"fake-token-{self._next()}"
        self._tokens[token] = True
        self.tokens_issued += 1
        return {"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": TOKEN_SECONDS}

    def _message_send(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        bad = self._bad_agent(body)
        if bad:
            return bad
        msgtype = body.get("msgtype")
        if msgtype not in _MESSAGE_TYPES or not isinstance(body.get(msgtype), dict):
            return _error(40008, "invalid message type")
        if not any(body.get(k) for k in ("touser", "toparty", "totag")):
            return _error(40058, "touser, toparty and totag are all empty")
        if msgtype in ("text", "markdown") and not body[msgtype].get("content"):
            return _error(44004, "empty content")
        if msgtype == "image" and body["image"].get("media_id") not in self._media:
            return _error(40007, "invalid media_id")
        checked = body.get("enable_duplicate_check") in (1, "1", True)
        seen = json.dumps(body, sort_keys=True, ensure_ascii=False)
        if checked:
            interval = body.get("duplicate_check_interval", 1800)
            if not isinstance(interval, int) or not 0 < interval <= 4 * 3600:
                return _error(40058, "invalid duplicate_check_interval")
            first = self._checked.get(seen)
            if first is not None and time.monotonic() - first[0] < interval:
                return dict(first[1])  # the same request again: answered, not delivered
        answer = self._deliver(msgtype, body)
        if checked and answer["errcode"] == 0:
            self._checked[seen] = (time.monotonic(), answer)
        return answer

    def _deliver(self, msgtype: str, body: dict[str, Any]) -> dict[str, Any]:
        answer: dict[str, Any] = {"errcode": 0, "errmsg": "ok", "invaliduser": ""}
        if msgtype == "template_card":
            card = body["template_card"]
            if not isinstance(card.get("card_type"), str):
                return _error(40058, "template_card.card_type missing")
            task_id = card.get("task_id")
            if card["card_type"] in _TASK_CARDS or task_id is not None:
                if not isinstance(task_id, str) or not _TASK_ID.fullmatch(task_id):
                    return _error(40058, "invalid task_id")
                if task_id in self._task_ids:
                    return _error(40058, "task_id already used")
                self._task_ids.add(task_id)
            answer["msgid"] = f"fake-msgid-{self._next()}"
            answer["response_code"] = self._new_response_code()
            self.received.append(body)
            return answer
        answer["msgid"] = f"fake-msgid-{self._next()}"
        self.received.append(body)
        return answer

    def _update_template_card(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        bad = self._bad_agent(body)
        if bad:
            return bad
        code = body.get("response_code")
        if not isinstance(code, str) or not code:
            return _error(40058, "response_code missing")
        unused = self._response_codes.get(code, None if self.strict_response_codes else True)
        if not unused:  # unknown (when strict) or used already: a code is good for one update
            return _error(40058, "invalid response_code")
        if not isinstance(body.get("button"), dict) and not isinstance(
            body.get("template_card"), dict
        ):
            return _error(40058, "button or template_card missing")
        self._response_codes[code] = False
        return {"errcode": 0, "errmsg": "ok", "invaliduser": []}

    def _appchat_send(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        if not body.get("chatid"):
            return _error(40058, "chatid missing")
        msgtype = body.get("msgtype")
        if msgtype not in _APPCHAT_TYPES or not isinstance(body.get(msgtype), dict):
            return _error(40008, "invalid message type")
        if msgtype in ("text", "markdown") and not body[msgtype].get("content"):
            return _error(44004, "empty content")
        if msgtype == "image" and body["image"].get("media_id") not in self._media:
            return _error(40007, "invalid media_id")
        return {"errcode": 0, "errmsg": "ok"}

    def _media_upload(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        kind = query.get("type", "")
        if kind not in ("image", "voice", "video", "file"):
            return _error(40004, "invalid media type")
        data = body.get("data")
        if not isinstance(data, bytes) or body.get("field") != "media":
            return _error(40058, "media file missing")
        # an image: 5 bytes to 10 MB, JPG or PNG (WeCom's limits)
        if not 5 <= len(data) <= 10 * 1024 * 1024:
            return _error(40005, "invalid file size")
        if kind == "image" and not data.startswith((b"\x89PNG", b"\xff\xd8")):
            return _error(40005, "invalid file type")
        media_id = f"fake-media-{self._next()}"
        self._media[media_id] = data
        return {"errcode": 0, "errmsg": "ok", "type": kind, "media_id": media_id,
                "created_at": str(int(time.time()))}  # fmt: skip

    def _webhook_send(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        key = query.get("key", "")
        if not key or (self.webhook_keys is not None and key not in self.webhook_keys):
            return _error(93000, _ERRMSG[93000])
        if self.webhook_per_minute is not None:
            now = time.monotonic()
            posts = self._webhook_posts.setdefault(key, deque())
            while posts and now - posts[0] >= 60:
                posts.popleft()
            if len(posts) >= self.webhook_per_minute:
                return _error(45009, _ERRMSG[45009])
            posts.append(now)
        msgtype = body.get("msgtype")
        if msgtype not in _WEBHOOK_TYPES or not isinstance(body.get(msgtype), dict):
            return _error(40008, "invalid message type")
        if msgtype in ("text", "markdown") and not body[msgtype].get("content"):
            return _error(44004, "empty content")
        if msgtype == "image":
            try:
                picture = base64.b64decode(body["image"].get("base64") or "", validate=True)
            except (binascii.Error, ValueError):
                return _error(40058, "image.base64 is not base64")
            if not picture or hashlib.md5(picture).hexdigest() != body["image"].get("md5"):
                return _error(40058, "image.md5 does not match")
            self.robot_images.append(picture)
        return {"errcode": 0, "errmsg": "ok"}

    # -- documents (wedoc) -------------------------------------------------------------------

    def _create_doc(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        kind, name = body.get("doc_type"), body.get("doc_name")
        if kind not in (3, 4, 10) or not isinstance(name, str) or not name:
            return _error(40058, "invalid doc_type or doc_name")
        docid = f"fake-doc-{self._next()}"
        sheets: dict[str, dict[str, Any]] = {}
        if kind == 10:  # a new smart sheet has one sheet, with no fields of ours yet
            sheets[f"s{self._next()}"] = {"title": "智能表", "fields": {}, "records": {}}
        admins = body.get("admin_users") or []
        self.docs[docid] = {"name": name, "type": kind, "by_app": True, "sheets": sheets,
                            "members": {u: 7 for u in admins}}  # fmt: skip
        url = f"https://doc.weixin.qq.com/smartsheet/{docid}"
        return {"errcode": 0, "errmsg": "ok", "url": url, "docid": docid}

    def _editable(self, body: dict[str, Any], smart: bool = True) -> dict[str, Any] | str:
        """The doc the body names, or WeCom's error: unknown, or not the app's own."""
        doc = self.docs.get(str(body.get("docid", "")))
        if doc is None:
            return _error(40058, "invalid docid")
        if not doc["by_app"]:
            return _error(640017, _ERRMSG[640017])
        if smart and doc["type"] != 10:
            return _error(40058, "not a smartsheet")
        return doc

    def _sheet(self, body: dict[str, Any]) -> dict[str, Any]:
        """The sheet the body names ({"error": ...} when there is none)."""
        doc = self._editable(body)
        if "errcode" in doc:
            return {"error": doc}
        sheet = doc["sheets"].get(str(body.get("sheet_id", "")))
        if sheet is None:
            return {"error": _error(40058, "invalid sheet_id")}
        return sheet

    def _mod_doc_member(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        doc = self._editable(body, smart=False)
        if "errcode" in doc:
            return doc
        update = body.get("update_file_member_list") or []
        gone = body.get("del_file_member_list") or []
        if not isinstance(update, list) or not isinstance(gone, list):
            return _error(40058, "invalid member list")
        if len(update) > 100 or len(gone) > 100:
            return _error(40058, "at most 100 members a call")
        for m in update:
            if m.get("type") != 1 or not m.get("userid") or m.get("auth") not in (1, 2, 7):
                return _error(40058, "invalid member")
        for m in update:
            doc["members"][m["userid"]] = m["auth"]
        for m in gone:
            doc["members"].pop(m.get("userid"), None)
        return {"errcode": 0, "errmsg": "ok"}

    def _get_sheet(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        doc = self._editable(body)
        if "errcode" in doc:
            return doc
        return {"errcode": 0, "errmsg": "ok", "sheet_list": [
            {"sheet_id": k, "title": v["title"], "is_visible": True}
            for k, v in doc["sheets"].items()
        ]}  # fmt: skip

    def _add_sheet(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        doc = self._editable(body)
        if "errcode" in doc:
            return doc
        title = (body.get("properties") or {}).get("title") or "sheet"
        sheet_id = f"s{self._next()}"
        doc["sheets"][sheet_id] = {"title": title, "fields": {}, "records": {}}
        return {"errcode": 0, "errmsg": "ok", "properties": {
            "sheet_id": sheet_id, "title": title, "index": len(doc["sheets"]) - 1}}  # fmt: skip

    def _get_fields(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        sheet = self._sheet(body)
        if "error" in sheet:
            return dict(sheet["error"])
        return {"errcode": 0, "errmsg": "ok", "total": len(sheet["fields"]), "fields": [
            {"field_id": f["field_id"], "field_title": t, "field_type": f["field_type"]}
            for t, f in sheet["fields"].items()
        ]}  # fmt: skip

    def _add_fields(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        sheet = self._sheet(body)
        if "error" in sheet:
            return dict(sheet["error"])
        fields = body.get("fields")
        if not isinstance(fields, list) or not fields:
            return _error(40058, "fields missing")
        for f in fields:
            title, kind = f.get("field_title"), f.get("field_type")
            if not isinstance(title, str) or not title or title in sheet["fields"]:
                return _error(40058, f"invalid or repeated field_title {title!r}")
            if not isinstance(kind, str) or not kind.startswith("FIELD_TYPE_"):
                return _error(40058, f"invalid field_type {kind!r}")
        added = []
        for f in fields:
            field = {"field_id": f"f{self._next()}", "field_type": f["field_type"]}
            sheet["fields"][f["field_title"]] = field
            added.append({"field_title": f["field_title"], **field})
        return {"errcode": 0, "errmsg": "ok", "fields": added}

    def _bad_values(self, sheet: dict[str, Any], values: Any) -> str | None:
        """Why a record's values are not what WeCom takes by field title, or None."""
        if not isinstance(values, dict):
            return "values is not an object"
        for title, value in values.items():
            field = sheet["fields"].get(title)
            if field is None:
                return f"no field titled {title!r}"
            kind = field["field_type"]
            if kind == "FIELD_TYPE_NUMBER" and (
                isinstance(value, bool) or not isinstance(value, int | float)
            ):
                return f"{title}: a number field takes a number"
            if kind == "FIELD_TYPE_DATE_TIME" and not (isinstance(value, str) and value.isdigit()):
                return f"{title}: a date takes a millisecond timestamp as text"
            if kind == "FIELD_TYPE_TEXT" and not (
                isinstance(value, list)
                and all(
                    isinstance(p, dict)
                    and p.get("type") == "text"
                    and isinstance(p.get("text"), str)
                    for p in value
                )
            ):
                return f"{title}: a text field takes [{{type: text, text}}]"
        return None

    def _records_in(
        self, sheet: dict[str, Any], body: dict[str, Any]
    ) -> list[Any] | dict[str, Any]:
        """The body's records when each is right for the sheet, else WeCom's error."""
        if body.get("key_type", "CELL_VALUE_KEY_TYPE_FIELD_TITLE") != (
            "CELL_VALUE_KEY_TYPE_FIELD_TITLE"
        ):
            return _error(40058, "this fake takes values by field title only")
        records = body.get("records")
        if not isinstance(records, list) or not records:
            return _error(40058, "records missing")
        if len(records) > 500:
            return _error(40058, "at most 500 records a call")
        for record in records:
            values = record.get("values") if isinstance(record, dict) else None
            bad = self._bad_values(sheet, values)
            if bad:
                return _error(40058, bad)
        return records

    def _add_records(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        sheet = self._sheet(body)
        if "error" in sheet:
            return dict(sheet["error"])
        records = self._records_in(sheet, body)
        if isinstance(records, dict):
            return records
        added = []
        for record in records:
            record_id = f"r{self._next()}"
            sheet["records"][record_id] = dict(record["values"])
            added.append({"record_id": record_id, "values": record["values"]})
        return {"errcode": 0, "errmsg": "ok", "records": added}

    def _update_records(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        sheet = self._sheet(body)
        if "error" in sheet:
            return dict(sheet["error"])
        records = self._records_in(sheet, body)
        if isinstance(records, dict):
            return records
        if any(r.get("record_id") not in sheet["records"] for r in records):
            return _error(40058, "invalid record_id")
        for record in records:
            sheet["records"][record["record_id"]].update(record["values"])
        return {"errcode": 0, "errmsg": "ok", "records": [
            {"record_id": r["record_id"], "values": sheet["records"][r["record_id"]]}
            for r in records
        ]}  # fmt: skip

    def _get_records(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        sheet = self._sheet(body)
        if "error" in sheet:
            return dict(sheet["error"])
        offset, limit = body.get("offset", 0), body.get("limit", 1000)
        if not isinstance(offset, int) or not isinstance(limit, int) or not 0 < limit <= 1000:
            return _error(40058, "invalid offset or limit")
        every = list(sheet["records"].items())
        page = every[offset : offset + limit]
        more = offset + limit < len(every)
        return {"errcode": 0, "errmsg": "ok", "total": len(every), "has_more": more,
                "next": offset + len(page),
                "records": [{"record_id": k, "values": v} for k, v in page]}  # fmt: skip

    def _delete_records(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        sheet = self._sheet(body)
        if "error" in sheet:
            return dict(sheet["error"])
        ids = body.get("record_ids")
        if not isinstance(ids, list) or not ids or len(ids) > 100:
            return _error(40058, "record_ids: 1 to 100")
        for record_id in ids:
            sheet["records"].pop(record_id, None)
        return {"errcode": 0, "errmsg": "ok"}


_Endpoint = tuple[str, bool, Callable[[FakeWeCom, dict[str, str], dict[str, Any]], dict[str, Any]]]
_ENDPOINTS: dict[str, _Endpoint] = {
    "/cgi-bin/gettoken": ("GET", False, FakeWeCom._gettoken),
    "/cgi-bin/message/send": ("POST", True, FakeWeCom._message_send),
    "/cgi-bin/message/update_template_card": ("POST", True, FakeWeCom._update_template_card),
    "/cgi-bin/appchat/send": ("POST", True, FakeWeCom._appchat_send),
    "/cgi-bin/webhook/send": ("POST", False, FakeWeCom._webhook_send),
    "/cgi-bin/media/upload": ("POST", True, FakeWeCom._media_upload),
    "/cgi-bin/wedoc/create_doc": ("POST", True, FakeWeCom._create_doc),
    "/cgi-bin/wedoc/mod_doc_member": ("POST", True, FakeWeCom._mod_doc_member),
    "/cgi-bin/wedoc/smartsheet/get_sheet": ("POST", True, FakeWeCom._get_sheet),
    "/cgi-bin/wedoc/smartsheet/add_sheet": ("POST", True, FakeWeCom._add_sheet),
    "/cgi-bin/wedoc/smartsheet/get_fields": ("POST", True, FakeWeCom._get_fields),
    "/cgi-bin/wedoc/smartsheet/add_fields": ("POST", True, FakeWeCom._add_fields),
    "/cgi-bin/wedoc/smartsheet/get_records": ("POST", True, FakeWeCom._get_records),
    "/cgi-bin/wedoc/smartsheet/add_records": ("POST", True, FakeWeCom._add_records),
    "/cgi-bin/wedoc/smartsheet/update_records": ("POST", True, FakeWeCom._update_records),
    "/cgi-bin/wedoc/smartsheet/delete_records": ("POST", True, FakeWeCom._delete_records),
}


def _multipart(content_type: str, raw: bytes) -> dict[str, Any] | None:
    """A multipart/form-data body's first file: its field name, file name and bytes."""
    head = f"Content-Type: {content_type}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + raw)
    if not message.is_multipart():
        return None
    for part in message.iter_parts():
        filename = part.get_filename()
        if filename:
            return {"field": part.get_param("name", header="content-disposition"),
                    "filename": filename, "data": part.get_payload(decode=True)}  # fmt: skip
    return None


class _Handler(QuietHandler[FakeWeCom]):
    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def _handle(self, method: str) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        if method == "GET" and url.path == "/cgi-bin/media/get":  # a file's bytes, not JSON
            status, data, headers = self.server.fake._media_get(query)
            self.send_response(status)
            for key, value in {**headers, "Content-Length": str(len(data))}.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)
            return
        body: dict[str, Any] | None = None
        bad_json = False
        content_type = self.headers.get("Content-Type") or ""
        if method == "POST" and content_type.lower().startswith("multipart/form-data"):
            body = _multipart(content_type, raw)  # media/upload: a file, not JSON
            bad_json = body is None
        elif method == "POST":
            try:
                parsed = json.loads(raw.decode("utf-8")) if raw else None
            except (UnicodeDecodeError, json.JSONDecodeError):
                bad_json = True
            else:
                if isinstance(parsed, dict):
                    body = parsed
                else:
                    bad_json = True
        status, answer = self.server.fake._answer(method, url.path, query, body, bad_json)
        self._send_json(status, answer)
