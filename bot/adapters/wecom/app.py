"""WeCom's adapter: the encrypted callback (`/wecom/callback`) turned into `Incoming`.

wechatpy checks the signature and decrypts; the message is stored in the inbox and WeCom gets
an empty 200 at once; the inbox worker handles it right after, and replies go out through the
outbox as app messages.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime

import xmltodict
from flask import Flask, Response, request
from wechatpy.enterprise.crypto import WeChatCrypto
from wechatpy.enterprise.exceptions import InvalidCorpIdException
from wechatpy.exceptions import InvalidSignatureException

from bot.adapters.wecom.render import parse_button_key
from bot.runtime.context import Runtime
from bot.settings import WECOM
from handlers.conversation import accept
from handlers.incoming import ButtonPress, Incoming, said_at

log = logging.getLogger(__name__)

CARD_EVENT = "template_card_event"


# WeCom's query arguments as it sends them: a sha1 in hex, Unix seconds, a short nonce. Anything
# else is not WeCom and is refused before the body is parsed at all.
_SIGNATURE_RE = re.compile(r"[0-9a-fA-F]{40}")
_TIMESTAMP_RE = re.compile(r"[0-9]{1,20}")
_NONCE_RE = re.compile(r"[0-9A-Za-z_-]{1,64}")
_BASE64_RE = re.compile(r"[A-Za-z0-9+/]+={0,2}")


def callback_to_incoming(fields: dict[str, str], now: datetime) -> Incoming | None:
    """A decrypted callback as an `Incoming`: a text message, a file (its bytes still to be
    fetched, from `MediaId`) or a card button; else None.

    WeCom's CreateTime is used when it is near `now` (see `said_at`); else `now`, marked doubted.
    """
    sender = fields.get("FromUserName") or ""
    created = fields.get("CreateTime") or ""
    at, doubted = said_at(created, now)
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
            time_doubted=doubted,
        )
    if kind == "file" and sender:  # a sheet sent: its bytes are fetched by `receive`
        return Incoming(
            platform=WECOM,
            chat=sender,
            sender=sender,
            message_id=f"msg:{fields.get('MsgId') or f'{sender}:{created}'}",
            at=at,
            direct=True,
            file_name=fields.get("FileName") or fields.get("Title") or "",
            time_doubted=doubted,
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
            time_doubted=doubted,
        )
    return None


def signed_query(args: Mapping[str, str]) -> tuple[str, str, str] | None:
    """msg_signature, timestamp and nonce when each is shaped as WeCom sends it; else None."""
    signature = args.get("msg_signature", "")
    timestamp = args.get("timestamp", "")
    nonce = args.get("nonce", "")
    if not (
        _SIGNATURE_RE.fullmatch(signature)
        and _TIMESTAMP_RE.fullmatch(timestamp)
        and _NONCE_RE.fullmatch(nonce)
    ):
        return None
    return signature.lower(), timestamp, nonce


def xml_fields(document: bytes | str) -> dict[str, str] | None:
    """The text fields of a flat `<xml>` document, as WeCom sends them; None for anything else
    (not XML, another root, declared entities)."""
    try:
        # WeCom's XML declares no entities: one that does is an attack on the parser
        root = xmltodict.parse(document, disable_entities=True)
    except Exception:  # expat's errors, a wrong encoding: not WeCom's XML either way
        return None
    fields = root.get("xml") if isinstance(root, dict) else None
    if not isinstance(fields, dict):
        return None
    # nested or repeated elements (lists, dicts) are none of the fields read here
    return {key: value for key, value in fields.items() if isinstance(value, str)}


def _signature_of(token: str, timestamp: str, nonce: str, encrypt: str) -> str:
    joined = "".join(sorted([token, timestamp, nonce, encrypt]))
    return hashlib.sha1(joined.encode()).hexdigest()


def register_wecom(
    app: Flask,
    runtime: Runtime,
    crypto: WeChatCrypto,
    on_accepted: Callable[[], None] = lambda: None,
    fetch_media: Callable[[str], tuple[str, bytes]] | None = None,
) -> None:
    """Add GET (URL verification) and POST (messages and events) `/wecom/callback`.

    The body is bounded before it gets here (bot/app/limits.py); the query is checked before the
    body is parsed, and the signature before anything is decrypted.
    """
    token: str = crypto.token

    @app.get("/wecom/callback")
    def verify() -> Response:
        query = signed_query(request.args)
        echostr = request.args.get("echostr", "")
        if query is None or not _BASE64_RE.fullmatch(echostr):
            return _bad_request()
        signature, timestamp, nonce = query
        if not hmac.compare_digest(_signature_of(token, timestamp, nonce, echostr), signature):
            return _forbidden()
        try:
            echo = crypto.check_signature(signature, timestamp, nonce, echostr)
        except (InvalidSignatureException, InvalidCorpIdException):
            return _forbidden()
        except Exception:  # not even shaped like WeCom's: base64, padding, lengths
            return _bad_request()
        text = echo.decode() if isinstance(echo, bytes) else str(echo)
        return Response(text, mimetype="text/plain")

    @app.post("/wecom/callback")
    def receive() -> Response:
        query = signed_query(request.args)
        if query is None:
            return _bad_request()
        signature, timestamp, nonce = query
        envelope = xml_fields(request.get_data(cache=False))
        encrypt = (envelope or {}).get("Encrypt", "")
        if not _BASE64_RE.fullmatch(encrypt):
            return _bad_request()
        if not hmac.compare_digest(_signature_of(token, timestamp, nonce, encrypt), signature):
            log.warning("WeCom callback refused: bad signature")
            return _forbidden()
        try:
            xml = crypto.decrypt_message({"Encrypt": encrypt}, signature, timestamp, nonce)
        except (InvalidSignatureException, InvalidCorpIdException):
            log.warning("WeCom callback refused: bad signature or another corp's message")
            return _forbidden()
        except Exception:  # a signed body that does not decrypt: padding, lengths, encoding
            return _bad_request()
        fields = xml_fields(xml)
        if fields is None:
            return _bad_request()
        incoming = callback_to_incoming(fields, runtime.clock())
        if incoming is not None and fields.get("MsgType") == "file":
            incoming = _with_file(incoming, fields.get("MediaId") or "", fetch_media)
        # stored at once and answered: WeCom retries what is not answered within 5 seconds
        if incoming is not None and accept(runtime.engine, incoming) is not None:
            on_accepted()
        return Response("", mimetype="text/plain")


def _with_file(
    incoming: Incoming, media_id: str, fetch: Callable[[str], tuple[str, bytes]] | None
) -> Incoming | None:
    """The file message with its bytes; None (not stored, so WeCom's retry tries again) when
    they cannot be fetched now."""
    if fetch is None or not media_id:
        return None
    try:
        name, data = fetch(media_id)
    except Exception as err:  # the network, an expired media_id: WeCom sends it again
        log.warning("WeCom file %s not fetched: %s", media_id, err)
        return None
    return replace(incoming, file_name=incoming.file_name or name or "sheet.xlsx",
                   file_data=base64.b64encode(data).decode("ascii"))  # fmt: skip


def _bad_request() -> Response:
    return Response("bad request", status=400, mimetype="text/plain")


def _forbidden() -> Response:
    return Response("forbidden", status=403, mimetype="text/plain")
