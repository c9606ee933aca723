"""How WeCom (企业微信) itself encrypts and signs the callbacks it sends to an app, written from
WeCom's documentation (回调和回复的加解密方案) with `cryptography` directly and without
wechatpy, so tests check the bot's use of wechatpy against an independent implementation.

- msg_signature = sha1 of the sorted, concatenated [token, timestamp, nonce, encrypt];
- AES-256-CBC, key = base64decode(EncodingAESKey + "="), IV = the key's first 16 bytes;
- plaintext = 16 random bytes + 4-byte big-endian length of the message + message + receive_id
  (the corp id), PKCS#7-padded to a multiple of 32 bytes; Encrypt = base64 of the ciphertext.

    body, signature = encrypt_callback(text_message_xml("wang", "6205 库存 45", "1", T, CORP),
                                       token=TOKEN, aes_key=AES_KEY, corp_id=CORP,
                                       timestamp="1700000000", nonce="n1")
    POST /wecom/callback?msg_signature={signature}&timestamp=1700000000&nonce=n1  (body)
"""

from __future__ import annotations

import base64
import hashlib
import os
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 32  # WeCom pads to 32 bytes, not AES's 16
DEFAULT_AGENT_ID = "1000002"


def aes_key_bytes(aes_key: str) -> bytes:
    """The 32-byte AES key from a 43-character EncodingAESKey."""
    if len(aes_key) != 43:
        raise ValueError("an EncodingAESKey has 43 characters")
    key = base64.b64decode(aes_key + "=", validate=True)
    if len(key) != 32:
        raise ValueError("an EncodingAESKey decodes to 32 bytes")
    return key


def signature(token: str, timestamp: str, nonce: str, encrypt: str) -> str:
    """msg_signature: sha1 (hex) of the four strings sorted and concatenated."""
    joined = "".join(sorted([token, timestamp, nonce, encrypt]))
    return hashlib.sha1(joined.encode("utf-8")).hexdigest()


def encrypt(
    message: str, *, aes_key: str, receive_id: str, random_prefix: bytes | None = None
) -> str:
    """The base64 Encrypt value for `message` from `receive_id` (the corp id)."""
    prefix = os.urandom(16) if random_prefix is None else random_prefix
    if len(prefix) != 16:
        raise ValueError("the random prefix has 16 bytes")
    body = message.encode("utf-8")
    plaintext = prefix + struct.pack(">I", len(body)) + body + receive_id.encode("utf-8")
    pad = BLOCK - len(plaintext) % BLOCK  # 1..32; a full block when already aligned
    plaintext += bytes([pad]) * pad
    key = aes_key_bytes(aes_key)
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(plaintext) + encryptor.finalize()).decode("ascii")


def decrypt(encrypted: str, *, aes_key: str) -> tuple[str, str]:
    """(message, receive_id) from a base64 Encrypt value; ValueError when it is not one."""
    key = aes_key_bytes(aes_key)
    data = base64.b64decode(encrypted, validate=True)
    if not data or len(data) % 16:
        raise ValueError("ciphertext is not whole AES blocks")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    plaintext = decryptor.update(data) + decryptor.finalize()
    pad = plaintext[-1]
    if not 1 <= pad <= BLOCK or plaintext[-pad:] != bytes([pad]) * pad:
        raise ValueError("bad PKCS#7 padding")
    content = plaintext[16:-pad]
    if len(content) < 4:
        raise ValueError("plaintext too short")
    (length,) = struct.unpack(">I", content[:4])
    if length > len(content) - 4:
        raise ValueError("message length beyond the plaintext")
    message = content[4 : 4 + length].decode("utf-8")
    receive_id = content[4 + length :].decode("utf-8")
    return message, receive_id


def encrypt_callback(
    xml: str,
    *,
    token: str,
    aes_key: str,
    corp_id: str,
    timestamp: str,
    nonce: str,
    agent_id: str = DEFAULT_AGENT_ID,
) -> tuple[str, str]:
    """(body, msg_signature) of the POST WeCom sends to the callback URL for the plaintext
    message `xml`; timestamp and nonce go in the query string with the signature."""
    encrypted = encrypt(xml, aes_key=aes_key, receive_id=corp_id)
    body = (
        f"<xml><ToUserName>{cdata(corp_id)}</ToUserName>"
        f"<Encrypt>{cdata(encrypted)}</Encrypt>"
        f"<AgentID>{cdata(agent_id)}</AgentID></xml>"
    )
    return body, signature(token, timestamp, nonce, encrypted)


def encrypt_echostr(echo: str, *, aes_key: str, corp_id: str) -> str:
    """The echostr of WeCom's URL check (GET …?msg_signature&timestamp&nonce&echostr); the app
    answers with `echo`. Sign it with signature(token, timestamp, nonce, <this value>)."""
    return encrypt(echo, aes_key=aes_key, receive_id=corp_id)


def cdata(text: str) -> str:
    """`text` as CDATA, safe even when it holds "]]>"."""
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def text_message_xml(
    from_user: str,
    content: str,
    msg_id: str,
    create_time: int,
    corp_id: str,
    agent_id: str = DEFAULT_AGENT_ID,
) -> str:
    """The plaintext of a member's text message to the app (接收消息: 文本消息)."""
    return (
        "<xml>"
        f"<ToUserName>{cdata(corp_id)}</ToUserName>"
        f"<FromUserName>{cdata(from_user)}</FromUserName>"
        f"<CreateTime>{int(create_time)}</CreateTime>"
        f"<MsgType>{cdata('text')}</MsgType>"
        f"<Content>{cdata(content)}</Content>"
        f"<MsgId>{msg_id}</MsgId>"
        f"<AgentID>{agent_id}</AgentID>"
        "</xml>"
    )


def card_event_xml(
    from_user: str,
    event_key: str,
    task_id: str,
    response_code: str,
    create_time: int,
    corp_id: str,
    agent_id: str = DEFAULT_AGENT_ID,
    card_type: str = "button_interaction",
) -> str:
    """The plaintext of a template-card button click (模板卡片事件推送, template_card_event):
    EventKey is the pressed button's key, ResponseCode may be used once with
    message/update_template_card."""
    return (
        "<xml>"
        f"<ToUserName>{cdata(corp_id)}</ToUserName>"
        f"<FromUserName>{cdata(from_user)}</FromUserName>"
        f"<CreateTime>{int(create_time)}</CreateTime>"
        f"<MsgType>{cdata('event')}</MsgType>"
        f"<Event>{cdata('template_card_event')}</Event>"
        f"<EventKey>{cdata(event_key)}</EventKey>"
        f"<TaskId>{cdata(task_id)}</TaskId>"
        f"<CardType>{cdata(card_type)}</CardType>"
        f"<ResponseCode>{cdata(response_code)}</ResponseCode>"
        f"<AgentID>{agent_id}</AgentID>"
        "</xml>"
    )
