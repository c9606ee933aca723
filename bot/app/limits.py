"""Request bodies are bounded before anything parses them: a WSGI middleware in front of the
Flask app answers 413 to a body over its path's limit, without reading the rest of it.

The limits are each platform's real maximum with a margin:

- `/slack/events`: 1 MiB. Slack documents no maximum request size, but a message's text is
  truncated at 40,000 characters (api.slack.com/changelog/2018-04-truncating-really-long-messages,
  chat.postMessage), a section block's text at 3,000 and a message has at most 50 blocks. The
  text again as rich-text blocks, both JSON-escaped at up to 6 bytes a character (`\\uXXXX`),
  is about 480 KB; interactive payloads come URL-encoded, our own cards in them are small.
- `/wecom/callback`: 64 KiB. A text message's content is at most 2048 bytes
  (developer.work.weixin.qq.com/document/path/90236, "最长不超过2048个字节"); with its XML
  fields that is under 3 KB, AES-encrypted and base64'd under 4 KB, in an envelope of a few
  hundred bytes. Card clicks and other events are smaller still.
- `/feishu/events`: 256 KiB. A text message's content is at most 150 KB (open.feishu.cn, im
  message create, "文本消息请求体最大不能超过150KB"); the event carries it once, JSON-escaped,
  AES-encrypted and base64'd in `{"encrypt": …}`. Card actions are small.
- anything else (the health check, the status API, unknown paths): 64 KiB; none takes a body.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # typeshed's WSGI types exist for type checkers only
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger(__name__)

KIB = 1024
MIB = 1024 * KIB
SLACK_BODY_LIMIT = 1 * MIB
WECOM_BODY_LIMIT = 64 * KIB
FEISHU_BODY_LIMIT = 256 * KIB
OTHER_BODY_LIMIT = 64 * KIB
BODY_LIMITS: Mapping[str, int] = MappingProxyType(
    {
        "/slack/events": SLACK_BODY_LIMIT,
        "/wecom/callback": WECOM_BODY_LIMIT,
        "/feishu/events": FEISHU_BODY_LIMIT,
    }
)
# The server's own limit, a backstop behind the per-path ones: it stops reading at once
# instead of taking in a gigabyte first (waitress's default) and then handing it to us. Waitress
# refuses a body *at* its limit and counts chunked framing too: the room above the largest
# per-path limit leaves the exact answer to BodyLimit.
SERVER_BODY_LIMIT = max(*BODY_LIMITS.values(), OTHER_BODY_LIMIT) + 64 * KIB


class BodyLimit:
    """WSGI middleware: a request whose body is over its path's limit gets 413 and never reaches
    the app; a body of unknown length (chunked, no Content-Length) is read up to the limit and
    one byte more, and handed on from memory when it fits."""

    def __init__(
        self,
        app: WSGIApplication,
        limits: Mapping[str, int] = BODY_LIMITS,
        default: int = OTHER_BODY_LIMIT,
    ) -> None:
        self.app = app
        self.limits = dict(limits)
        self.default = default

    def limit_for(self, path: str) -> int:
        """The most bytes a body for `path` may have."""
        return self.limits.get(path.rstrip("/") or "/", self.default)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO") or "/"
        limit = self.limit_for(path)
        declared = (environ.get("CONTENT_LENGTH") or "").strip()
        if declared:
            if not declared.isdigit():
                return _answer(start_response, "400 Bad Request", "bad Content-Length\n")
            if int(declared) > limit:
                return self._refuse(start_response, path, int(declared), limit)
            return self.app(environ, start_response)
        # No length given: read no more than the limit and one byte to know it is over.
        stream: Any = environ.get("wsgi.input")
        if stream is None or not _may_have_a_body(environ):
            return self.app(environ, start_response)
        body = _read_at_most(stream, limit + 1)
        if len(body) > limit:
            return self._refuse(start_response, path, None, limit)
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        return self.app(environ, start_response)

    def _refuse(
        self, start_response: StartResponse, path: str, size: int | None, limit: int
    ) -> Iterable[bytes]:
        # Never the body itself in the log: it may be anything, of any size.
        size_text = f"{size} bytes" if size is not None else "a body of unknown length"
        log.warning(
            "request body on %s refused with 413: %s, over the limit of %d bytes",
            path[:100],
            size_text,
            limit,
        )
        return _answer(
            start_response,
            "413 Content Too Large",
            f"request body over {limit} bytes\n",
        )


def _may_have_a_body(environ: WSGIEnvironment) -> bool:
    """A request without a length has a body only when chunked (or the server says its input
    ends by itself); otherwise reading `wsgi.input` could wait on the client for ever."""
    chunked = "chunked" in (environ.get("HTTP_TRANSFER_ENCODING") or "").lower()
    return chunked or bool(environ.get("wsgi.input_terminated"))


def _read_at_most(stream: Any, most: int) -> bytes:
    """Up to `most` bytes of a stream, in pieces, never asking for more."""
    pieces: list[bytes] = []
    got = 0
    while got < most:
        piece = stream.read(min(64 * KIB, most - got))
        if not piece:
            break
        pieces.append(piece)
        got += len(piece)
    return b"".join(pieces)


def _answer(start_response: StartResponse, status: str, text: str) -> Iterable[bytes]:
    body = text.encode()
    headers = [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))]
    start_response(status, headers)
    return [body]
