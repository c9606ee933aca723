"""WeCom's adapter: the encrypted callback (`/wecom/callback`) turned into `Incoming`.

wechatpy checks the signature and decrypts; the message is stored in the inbox and WeCom gets
an empty 200 at once; the inbox worker handles it right after, and replies go out through the
outbox as app messages.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import xmltodict
from flask import Flask, Response, request
from wechatpy.enterprise.crypto import WeChatCrypto
from wechatpy.enterprise.exceptions import InvalidCorpIdException
from wechatpy.exceptions import InvalidSignatureException

from bot.adapters.wecom.render import parse_button_key
from bot.runtime.context import Runtime
from bot.settings import WECOM
from handlers.conversation import accept
from handlers.incoming import ButtonPress, Incoming

log = logging.getLogger(__name__)

CARD_EVENT = "template_card_event"


def callback_to_incoming(fields: dict[str, Any]) -> Incoming | None:
    """A decrypted callback as an `Incoming`: a text message or a card button; else None."""
    sender = fields.get("FromUserName") or ""
    created = int(fields.get("CreateTime") or 0)
    at = datetime.fromtimestamp(created, UTC) if created else datetime.now(UTC)
    kind = fields.get("MsgType")
    if kind == "text" and sender:
        return Incoming(
            platform=WECOM,
            chat=sender,  # a self-built app hears people one to one: the answer goes to them
            sender=sender,
            message_id=f"msg:{fields.get('MsgId') or f'{sender}:{created}'}",
            at=at,
            text=fields.get("Content") or "",
            direct=True,
        )
    if kind == "event" and fields.get("Event") == CARD_EVENT and sender:
        key = fields.get("EventKey") or ""
        pressed = parse_button_key(key)
        if pressed is None:
            return None
        return Incoming(
            platform=WECOM,
            chat=sender,
            sender=sender,
            # WeCom gives a click no id of its own: who, when and which button make one
            message_id=f"evt:{sender}:{created}:{key}",
            at=at,
            button=ButtonPress(*pressed),
            via="button",
            origin_ref=fields.get("ResponseCode") or "",
        )
    return None


def register_wecom(
    app: Flask,
    runtime: Runtime,
    crypto: WeChatCrypto,
    on_accepted: Callable[[], None] = lambda: None,
) -> None:
    """Add GET (URL verification) and POST (messages and events) `/wecom/callback`."""

    @app.get("/wecom/callback")
    def verify() -> Response:
        args = request.args
        try:
            echo = crypto.check_signature(
                args.get("msg_signature", ""),
                args.get("timestamp", ""),
                args.get("nonce", ""),
                args.get("echostr", ""),
            )
        except (InvalidSignatureException, InvalidCorpIdException):
            return Response("invalid signature", status=403, mimetype="text/plain")
        except Exception:  # not even shaped like WeCom's: base64, padding, lengths
            return Response("bad request", status=400, mimetype="text/plain")
        text = echo.decode() if isinstance(echo, bytes) else str(echo)
        return Response(text, mimetype="text/plain")

    @app.post("/wecom/callback")
    def receive() -> Response:
        args = request.args
        try:
            xml = crypto.decrypt_message(
                request.get_data(),
                args.get("msg_signature", ""),
                args.get("timestamp", ""),
                args.get("nonce", ""),
            )
            fields = xmltodict.parse(xml)["xml"]
        except (InvalidSignatureException, InvalidCorpIdException):
            log.warning("WeCom callback refused: bad signature or another corp's message")
            return Response("forbidden", status=403, mimetype="text/plain")
        except Exception:
            return Response("bad request", status=400, mimetype="text/plain")
        incoming = callback_to_incoming(fields)
        # stored at once and answered: WeCom retries what is not answered within 5 seconds
        if incoming is not None and accept(runtime.engine, incoming) is not None:
            on_accepted()
        return Response("", mimetype="text/plain")
