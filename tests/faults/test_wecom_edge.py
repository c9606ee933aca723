"""WeCom's callback at the edge: the query is checked before the body is parsed, the signature
before anything is decrypted; junk gets 400, a bad signature 403, never a 500; a message's
CreateTime far from our clock is doubted, not trusted."""

from __future__ import annotations

import json
import urllib.parse
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.storage.db import transaction
from bot.storage.tables import InboxRow, LedgerRow
from tests.faults.edge import AES_KEY, CORP, TOKEN, Edge
from tests.wecom_crypto import encrypt, signature, text_message_xml

KEEPER = "wangcg"


def signed_post(edge: Edge, encrypted: str, *, timestamp: str = "1763690400") -> int:
    """POST an Encrypt value in WeCom's envelope, signed with the right token."""
    query = urllib.parse.urlencode(
        {
            "msg_signature": signature(TOKEN, timestamp, "n1", encrypted),
            "timestamp": timestamp,
            "nonce": "n1",
        }
    )
    body = f"<xml><ToUserName><![CDATA[{CORP}]]></ToUserName><Encrypt><![CDATA[{encrypted}]]>"
    body += "</Encrypt><AgentID><![CDATA[1000002]]></AgentID></xml>"
    status, _ = edge.post(f"/wecom/callback?{query}", body.encode())
    return status


def last_incoming(edge: Edge) -> dict[str, object]:
    """The stored message's JSON, as the inbox keeps it."""
    with transaction(edge.runtime.engine, read_only=True) as session:
        raw = session.scalar(select(InboxRow.incoming).order_by(InboxRow.id.desc()))
    assert raw
    return dict(json.loads(raw))


@pytest.mark.probe("a WeCom text with CreateTime=99999999999999999")
def test_a_createtime_out_of_range_is_doubted_and_the_message_handled(edge: Edge) -> None:
    xml = text_message_xml(KEEPER, "6205 库存 45", "t1", 99999999999999999, CORP)
    before = datetime.now(UTC)
    status, _ = edge.wecom_post(xml)
    assert status == 200
    assert edge.count(LedgerRow) == 1  # the count was taken, at our time
    message = last_incoming(edge)
    assert message["time_doubted"] is True
    at = datetime.fromisoformat(str(message["at"]))
    assert before - timedelta(minutes=1) <= at <= datetime.now(UTC) + timedelta(minutes=1)


@pytest.mark.probe("WeCom texts dated 1970, next year, and not a number")
def test_createtimes_far_from_our_clock_are_doubted(edge: Edge) -> None:
    soon = int(datetime.now(UTC).timestamp()) + 365 * 86400
    for n, created in enumerate([1, soon]):
        status, _ = edge.wecom_post(text_message_xml(KEEPER, "状态", f"d{n}", created, CORP))
        assert status == 200 and last_incoming(edge)["time_doubted"] is True
    junk_time = text_message_xml(KEEPER, "状态", "d3", 0, CORP).replace(
        "<CreateTime>0</CreateTime>", "<CreateTime>soon</CreateTime>"
    )
    assert edge.wecom_post(junk_time)[0] == 200
    assert last_incoming(edge)["time_doubted"] is True
    now = int(datetime.now(UTC).timestamp())
    assert edge.wecom_post(text_message_xml(KEEPER, "状态", "d4", now, CORP))[0] == 200
    message = last_incoming(edge)
    assert message["time_doubted"] is False
    assert datetime.fromisoformat(str(message["at"])).timestamp() == now


@pytest.mark.probe("WeCom callbacks with missing or ill-formed msg_signature, timestamp, nonce")
def test_an_ill_formed_query_is_400_before_the_body_is_read(edge: Edge) -> None:
    good = {"msg_signature": "a" * 40, "timestamp": "1763690400", "nonce": "n1"}
    bad_queries = [
        {},
        {**good, "msg_signature": ""},
        {**good, "msg_signature": "x" * 40},
        {**good, "msg_signature": "a" * 41},
        {**good, "timestamp": "soon"},
        {**good, "timestamp": "9" * 30},
        {**good, "nonce": ""},
        {**good, "nonce": "<n1>"},
    ]
    body = b"<xml><Encrypt><![CDATA[" + b"A" * 4000 + b"]]></Encrypt></xml>"
    for query in bad_queries:
        status, _ = edge.post(f"/wecom/callback?{urllib.parse.urlencode(query)}", body)
        assert status == 400, query
        verify = {**query, "echostr": "QUJD"}
        assert edge.get(f"/wecom/callback?{urllib.parse.urlencode(verify)}")[0] == 400, query
    assert edge.count(InboxRow) == 0


@pytest.mark.probe("WeCom callbacks with a well-formed but wrong signature")
def test_a_wrong_signature_is_403(edge: Edge) -> None:
    xml = text_message_xml(KEEPER, "6205 库存 45", "s1", int(datetime.now(UTC).timestamp()), CORP)
    assert edge.wecom_post(xml, token="another-token")[0] == 403
    assert edge.wecom_post(xml, corp="ww-another-corp")[0] == 403
    query = {"msg_signature": "0" * 40, "timestamp": "1", "nonce": "n", "echostr": "QUJD"}
    assert edge.get(f"/wecom/callback?{urllib.parse.urlencode(query)}")[0] == 403
    assert edge.count(InboxRow) == 0


@pytest.mark.probe("WeCom bodies that are junk: not XML, no Encrypt, entities, junk signed")
def test_junk_bodies_are_400_never_500(edge: Edge) -> None:
    query = urllib.parse.urlencode({"msg_signature": "a" * 40, "timestamp": "1", "nonce": "n"})
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><xml><Encrypt>&b;</Encrypt></xml>'
    )
    unsigned = [
        b"",
        b"not xml at all",
        b"\xff\xfe\x00<",
        b"<other><Encrypt>QUJD</Encrypt></other>",
        b"<xml>just text</xml>",
        b"<xml><Encrypt><a>nested</a></Encrypt></xml>",
        b"<xml><Encrypt>not base64!</Encrypt></xml>",
        laughs,
    ]
    for body in unsigned:
        assert edge.post(f"/wecom/callback?{query}", body)[0] == 400, body
    # signed by the right token, yet no message of ours: junk in, 400 out
    assert signed_post(edge, "QUJD") == 400  # too short to decrypt
    assert signed_post(edge, "A" * 64) == 400  # decrypts to noise
    for plaintext in ["no xml", "<xml>just text</xml>", "<other/>", "<xml><a>"]:
        assert signed_post(edge, encrypt(plaintext, aes_key=AES_KEY, receive_id=CORP)) == 400
    assert edge.count(InboxRow) == 0


@pytest.mark.probe("WeCom messages with odd fields: nested Content, no sender, unknown kinds")
def test_odd_fields_are_taken_or_ignored_never_500(edge: Edge) -> None:
    now = int(datetime.now(UTC).timestamp())
    nested = text_message_xml(KEEPER, "x", "o1", now, CORP).replace(
        "<Content><![CDATA[x]]></Content>", "<Content><b>6205</b><b>45</b></Content>"
    )
    no_sender = text_message_xml("", "6205 库存 45", "o2", now, CORP)
    image = text_message_xml(KEEPER, "x", "o3", now, CORP).replace(
        "<![CDATA[text]]>", "<![CDATA[image]]>"
    )
    for xml in (nested, no_sender, image):
        assert edge.wecom_post(xml)[0] == 200
    assert edge.count(LedgerRow) == 0
    assert edge.get("/healthz")[0] == 200
