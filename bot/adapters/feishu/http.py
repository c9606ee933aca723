"""`POST /feishu/events`: Feishu's event and card-action callbacks, when the app is not on the
long connection (`FEISHU_MODE=http`).

Checked before the SDK's dispatcher reads anything: the body is a JSON object; an encrypted one
(`{"encrypt": …}`, with the app's Encrypt Key) decrypts, and its signature (X-Lark-Signature:
sha256 of timestamp, nonce, key and the raw body) is Feishu's; the verification token inside
is the app's. A forged request gets 403, a broken one 400, neither reaches the inbox. The URL
check (`url_verification`) is answered with its challenge. Everything else goes to the SDK's
dispatcher, whose listeners store the event before it answers 200 (a failure: 500, and Feishu
sends it again).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from typing import Any

import lark_oapi as lark
from flask import Request, Response
from lark_oapi.core.const import LARK_REQUEST_NONCE, LARK_REQUEST_SIGNATURE, LARK_REQUEST_TIMESTAMP
from lark_oapi.core.model import RawRequest
from lark_oapi.core.utils.decryptor import AESCipher

log = logging.getLogger(__name__)

URL_VERIFICATION = "url_verification"
HEARD = frozenset({"im.message.receive_v1", "card.action.trigger"})  # the rest: 200, unread


class Refused(Exception):
    """A callback that is not Feishu's: `status` says how it is answered."""

    def __init__(self, status: int, why: str) -> None:
        super().__init__(why)
        self.status = status


def signature_of(timestamp: str, nonce: str, encrypt_key: str, body: bytes) -> str:
    """Feishu's signature of a callback: sha256 over timestamp + nonce + key + the raw body."""
    return hashlib.sha256((timestamp + nonce + encrypt_key).encode() + body).hexdigest()


def _object(text: str | bytes) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        raise Refused(400, "not JSON") from None
    if not isinstance(value, dict):
        raise Refused(400, "not a JSON object")
    return value


def _token_of(payload: dict[str, Any]) -> str:
    header = payload.get("header")
    token = header.get("token") if isinstance(header, dict) else payload.get("token")
    return token if isinstance(token, str) else ""


def opened(
    body: bytes, headers: dict[str, str], encrypt_key: str, verification_token: str
) -> dict[str, Any]:
    """The callback's plain payload once it is shown to be Feishu's; raises `Refused`."""
    outer = _object(body)
    encrypted = outer.get("encrypt")
    if encrypted is not None:
        if not encrypt_key or not isinstance(encrypted, str):
            raise Refused(400, "an encrypted body, and no FEISHU_ENCRYPT_KEY to open it")
        try:
            payload = _object(AESCipher(encrypt_key).decrypt_str(encrypted))
        except (ValueError, UnicodeDecodeError):
            raise Refused(403, "does not decrypt with the encrypt key") from None
    elif encrypt_key:
        raise Refused(403, "not encrypted, but the app encrypts its callbacks")
    else:
        payload = outer
    if payload.get("type") != URL_VERIFICATION and encrypt_key:
        # Feishu signs its events when there is an encrypt key (the URL check it does not)
        expected = signature_of(
            headers.get(LARK_REQUEST_TIMESTAMP, ""),
            headers.get(LARK_REQUEST_NONCE, ""),
            encrypt_key,
            body,
        )
        if not hmac.compare_digest(expected, headers.get(LARK_REQUEST_SIGNATURE, "")):
            raise Refused(403, "bad signature")
    if not hmac.compare_digest(_token_of(payload).encode(), verification_token.encode()):
        raise Refused(403, "bad verification token")
    return payload


def feishu_events_endpoint(
    dispatcher: lark.EventDispatcherHandler, encrypt_key: str, verification_token: str
) -> Callable[[Request], Response]:
    """The view for `POST /feishu/events`."""

    def feishu_events(request: Request) -> Response:
        body = request.get_data(cache=False)
        headers = {
            name: request.headers.get(name, "")
            for name in (LARK_REQUEST_TIMESTAMP, LARK_REQUEST_NONCE, LARK_REQUEST_SIGNATURE)
        }
        try:
            payload = opened(body, headers, encrypt_key, verification_token)
        except Refused as err:
            log.warning("Feishu callback refused (%s): %d bytes from %s", err, len(body),
                        request.remote_addr)  # fmt: skip
            return _json(err.status, {"msg": "refused"})
        if payload.get("type") == URL_VERIFICATION:
            return _json(200, {"challenge": str(payload.get("challenge", ""))})
        header = payload.get("header")
        kind = header.get("event_type") if isinstance(header, dict) else None
        if kind not in HEARD:
            return _json(200, {"msg": "success"})  # an event the app was subscribed to in vain
        raw = RawRequest()
        raw.uri = request.path
        raw.body = body
        raw.headers = headers
        answer = dispatcher.do(raw)
        if answer.status_code != 200:
            log.warning("Feishu event not stored (%s): Feishu sends it again", answer.status_code)
        return Response(
            answer.content or b"{}",
            status=answer.status_code or 200,
            mimetype="application/json",
        )

    return feishu_events


def _json(status: int, answer: dict[str, Any]) -> Response:
    return Response(json.dumps(answer), status, mimetype="application/json")
