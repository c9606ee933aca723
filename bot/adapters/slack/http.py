"""`POST /slack/events` before bolt: the signature is checked on the raw bytes first, and only a
signed body that reads as the payload Slack sends reaches bolt and our listeners.

What is refused gets a short answer and one short log line, never the body: an unsigned
request 401, a signed one that is not a Slack payload 400. A message event goes straight to its
listener, read once (`SlackApp.message`); everything else is bolt's. Either way the answer is
2xx only once the message is stored (see `app.py`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from flask import Request, Response
from slack_bolt.adapter.flask import SlackRequestHandler

from bot.adapters.slack.app import SlackApp

log = logging.getLogger(__name__)

# Slack's own rule: a request older or newer than five minutes may be a replay.
SIGNATURE_WINDOW_SECONDS = 60 * 5
TIMESTAMP_DIGITS = 12  # Unix seconds have 10 digits until the year 5138
SIGNATURE_PREFIX = "v0="
SSL_CHECK_MAX_BYTES = 1024  # "ssl_check=1&token=…": a certificate check is a few dozen bytes


class NotSlacks(Exception):
    """A signed body that is not a payload Slack sends: the request is answered 400."""


def signed_by_slack(
    body: bytes, stamp: str, signature: str, signing_secret: str, now: float
) -> str | None:
    """None when `signature` (X-Slack-Signature) is Slack's of exactly these bytes at `stamp`
    (X-Slack-Request-Timestamp), made within five minutes of `now` (Unix seconds); else why
    not, in a few words for the log."""
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= TIMESTAMP_DIGITS):
        return "no timestamp"
    if abs(now - int(stamp)) > SIGNATURE_WINDOW_SECONDS:
        return "stale timestamp"
    if not signature.startswith(SIGNATURE_PREFIX):
        return "no signature"
    basestring = b"v0:" + stamp.encode() + b":" + body
    expected = hmac.new(signing_secret.encode(), basestring, hashlib.sha256).hexdigest()
    # constant time: how much of a guess matched must not show in how long the answer takes
    if not hmac.compare_digest(SIGNATURE_PREFIX + expected, signature):
        return "bad signature"
    return None


def slack_payload(body: bytes, content_type: str | None) -> dict[str, Any]:
    """The payload as bolt will read it (JSON, a form, or a form's `payload` field of JSON),
    checked for the shape bolt and our listeners lean on. Raises `NotSlacks` otherwise."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise NotSlacks("not UTF-8") from None
    if not text:
        return {}
    # bolt's own rule for telling JSON from a form (slack_bolt.request.internals.parse_body)
    if content_type == "application/json" or text.startswith("{"):
        payload = _json_object(text)
    else:
        form = dict(parse_qsl(text, keep_blank_values=True))
        payload = _json_object(form["payload"]) if "payload" in form else dict(form)
    check_shape(payload)
    return payload


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than the stack
        raise NotSlacks("not JSON") from None
    if not isinstance(value, dict):
        raise NotSlacks("not a JSON object")
    return value


def check_shape(payload: dict[str, Any]) -> None:
    """What bolt reads before any listener of ours can refuse it: the person, the event, the
    pressed button and the submitted form, each of the type Slack sends."""
    user = payload.get("user")
    if user is not None and not isinstance(user, str | dict):
        raise NotSlacks("user is neither an id nor an object")
    for key in ("event", "view", "channel", "container", "team", "enterprise"):
        if key in payload and payload[key] is not None and not isinstance(payload[key], dict):
            if key in ("team", "enterprise", "channel") and isinstance(payload[key], str):
                continue  # slash commands and old events name them as plain ids
            raise NotSlacks(f"{key} is not an object")
    event = payload.get("event")
    if isinstance(event, dict) and not isinstance(event.get("user", ""), str | dict):
        raise NotSlacks("the event's user is neither an id nor an object")
    authorizations = payload.get("authorizations")
    if authorizations is not None and not (
        isinstance(authorizations, list) and all(isinstance(a, dict) for a in authorizations)
    ):
        raise NotSlacks("authorizations is not a list of objects")
    kind = payload.get("type")
    if kind == "event_callback" and not isinstance(payload.get("event"), dict):
        raise NotSlacks("an event callback without its event")
    if kind == "block_actions":
        actions = payload.get("actions")
        if not (isinstance(actions, list) and actions and isinstance(actions[0], dict)):
            raise NotSlacks("a button press without the button")
    if kind in ("view_submission", "view_closed"):
        view = payload.get("view")
        if not (isinstance(view, dict) and isinstance(view.get("callback_id"), str)):
            raise NotSlacks("a form submission without its form")


def slack_events_endpoint(
    slack_app: SlackApp, signing_secret: str, now: Callable[[], float] = time.time
) -> Callable[[Request], Response]:
    """The view for `POST /slack/events`: refuse what Slack did not sign (401) or could not
    have sent (400) without reading further, store a message, and hand the rest to bolt.
    `now` is the real clock: Slack signs with its own, not with a demo's `--now`."""
    handler = SlackRequestHandler(slack_app.bolt)

    def slack_events(request: Request) -> Response:
        body = request.get_data(cache=True)
        stamp = request.headers.get("X-Slack-Request-Timestamp", "")
        signature = request.headers.get("X-Slack-Signature", "")
        why = signed_by_slack(body, stamp, signature, signing_secret, now())
        if why is not None and _ssl_check(body):
            return Response("", 200)  # Slack checking the certificate: nothing to read or store
        if why is not None:
            log.warning("Slack request refused (%s): %d bytes from %s", why, len(body),
                        request.remote_addr)  # fmt: skip
            return _short(401, "invalid request")
        try:
            payload = slack_payload(body, request.mimetype or None)
        except NotSlacks as err:
            log.warning("signed Slack request refused: %s (%d bytes)", err, len(body))
            return _short(400, "bad request")
        if not slack_app.message_of(payload):
            return handler.handle(request)
        answer = slack_app.answer_message(payload)
        return Response(answer.body, answer.status, headers=answer.first_headers())

    return slack_events


def _ssl_check(body: bytes) -> bool:
    """Slack's certificate check of a slash command's URL (`ssl_check=1`), which may come
    unsigned; answered 200 and nothing else, as bolt would."""
    if len(body) > SSL_CHECK_MAX_BYTES:
        return False
    form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    return form.get("ssl_check") == "1"


def _short(status: int, text: str) -> Response:
    return Response(json.dumps({"error": text}), status, mimetype="application/json")
