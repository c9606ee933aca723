"""Feishu end to end: events and card actions posted over HTTP to `vmi-bot serve`'s app as
Feishu posts them (encrypted with the app's Encrypt Key, signed, with its verification token),
replies sent through the SDK to a fake Feishu open API (tests/fake_feishu.py); and the same
through the long connection: `serve`'s SDK websocket client against a fake server speaking its
protobuf frames (tests/fake_feishu_ws.py)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from sqlalchemy import func, select
from waitress.server import create_server

from bot.adapters.feishu.render import interactive_card, message_content, parse_value
from bot.adapters.feishu.sender import FeishuSender, feishu_client
from bot.app.bootstrap import start
from bot.app.server import Service, build_service
from bot.runtime import delivery as delivery_module
from bot.runtime.context import Runtime
from bot.runtime.delivery import NeverDeliverable, Outgoing, RetryLater
from bot.services.review import review
from bot.settings import Settings
from bot.storage.db import transaction
from bot.storage.stock import stock_levels
from bot.storage.tables import InboxRow, LedgerRow, ProposalRow
from messages.cards import Button, Card
from tests.fake_feishu import APP_ID, APP_SECRET, FakeFeishu
from tests.fake_feishu_ws import FakeFeishuWs
from tests.support import EXAMPLE, in_thread, shanghai

TOKEN, ENCRYPT_KEY = "verification-token", "encrypt-key-of-the-app"
KEEPER, BUYER, SUPPLIER = "ou_keeper", "ou_buyer", "ou_supplier"
GROUP = "oc_vmi"
FEISHU = frozenset({"feishu"})
T0 = shanghai(2026, 11, 21, 10)


@dataclass
class Scene:
    at: datetime

    def __call__(self) -> datetime:
        return self.at


@dataclass
class Bot:
    url: str
    runtime: Runtime
    service: Service
    feishu: FakeFeishu
    clock: Scene


def feishu_config(tmp_path: Path) -> Path:
    """The example agreement with everyone's open_id and the group's chat_id."""
    text = EXAMPLE.read_text(encoding="utf-8")
    for wecom, open_id in (("wangcg", KEEPER), ("wangcaigou", BUYER), ("ligy", SUPPLIER),
                           ("admin", "ou_admin")):  # fmt: skip
        text = text.replace(f'wecom = "{wecom}"', f'wecom = "{wecom}"\nfeishu = "{open_id}"')
    text = text.replace(
        'wecom_chat = "wrVMI01"', f'feishu_chat = "{GROUP}"\nwecom_chat = "wrVMI01"'
    )
    path = tmp_path / "feishu.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def feishu() -> Iterator[FakeFeishu]:
    with FakeFeishu() as fake:
        yield fake


@pytest.fixture
def bot(tmp_path: Path, feishu: FakeFeishu, monkeypatch: pytest.MonkeyPatch) -> Iterator[Bot]:
    monkeypatch.setattr(delivery_module, "BACKOFF_FIRST_SECONDS", 0.05)
    settings = Settings(
        feishu_app_id=APP_ID,
        feishu_app_secret=APP_SECRET,
        feishu_verification_token=TOKEN,
        feishu_encrypt_key=ENCRYPT_KEY,
        feishu_api_base_url=feishu.base_url,
        feishu_mode="http",
    )
    clock = Scene(T0)
    runtime = start(str(feishu_config(tmp_path)), f"sqlite:///{tmp_path / 'vmi.sqlite'}", settings)
    runtime = replace(runtime, clock=clock)
    service = build_service(runtime)
    server = create_server(service.app, host="127.0.0.1", port=0, threads=4)
    in_thread(server)
    service.delivery.idle_seconds = 0.05
    service.delivery.start()
    service.inbox.start()
    try:
        yield Bot(f"http://127.0.0.1:{server.effective_port}", runtime, service, feishu, clock)
    finally:
        service.inbox.stop()
        service.delivery.stop()
        server.close()
        runtime.engine.dispose()


# -- Feishu's side: payloads as documented, encrypted and signed as Feishu does --------------


def encrypt(plain: str, key: str = ENCRYPT_KEY) -> str:
    """AES-256-CBC with sha256(key), a random IV before the ciphertext, PKCS7, base64."""
    iv = os.urandom(16)
    padder = padding.PKCS7(128).padder()
    data = padder.update(plain.encode()) + padder.finalize()
    encryptor = Cipher(
        algorithms.AES(hashlib.sha256(key.encode()).digest()), modes.CBC(iv)
    ).encryptor()
    return base64.b64encode(iv + encryptor.update(data) + encryptor.finalize()).decode()


def envelope(event_type: str, event: dict[str, Any], event_id: str, at: datetime,
             token: str = TOKEN) -> dict[str, Any]:  # fmt: skip
    ms = str(int(at.timestamp() * 1000))
    header = {"event_id": event_id, "token": token, "create_time": ms, "event_type": event_type,
              "tenant_key": "tenant", "app_id": APP_ID}  # fmt: skip
    return {"schema": "2.0", "header": header, "event": event}


def message_event(who: str, text: str, at: datetime, message_id: str, *, chat: str = GROUP,
                  mention: bool = True, token: str = TOKEN) -> dict[str, Any]:  # fmt: skip
    ms = str(int(at.timestamp() * 1000))
    mentions = [{"key": "@_user_1", "id": {"open_id": "ou_bot"}, "name": "VMI", "tenant_key": "t"}]
    message = {
        "message_id": message_id, "root_id": "", "parent_id": "", "create_time": ms,
        "chat_id": chat, "chat_type": "group" if chat == GROUP else "p2p",
        "message_type": "text",
        "content": json.dumps({"text": f"@_user_1 {text}" if mention else text}),
        "mentions": mentions if mention else [],
    }  # fmt: skip
    sender = {"sender_id": {"open_id": who, "union_id": "on_x", "user_id": "u"},
              "sender_type": "user", "tenant_key": "t"}  # fmt: skip
    return envelope("im.message.receive_v1", {"sender": sender, "message": message},
                    f"ev-{message_id}", at, token)  # fmt: skip


def action_event(who: str, value: dict[str, Any], card_id: str, at: datetime, event_id: str,
                 form: dict[str, str] | None = None) -> dict[str, Any]:  # fmt: skip
    action: dict[str, Any] = {"value": value, "tag": "button"}
    if form is not None:
        action["form_value"] = form
    event = {"operator": {"open_id": who, "tenant_key": "t"}, "token": "c-token",
             "action": action, "host": "im_message",
             "context": {"open_message_id": card_id, "open_chat_id": GROUP}}  # fmt: skip
    return envelope("card.action.trigger", event, event_id, at)


def post(bot: Bot, payload: dict[str, Any], *, key: str = ENCRYPT_KEY, sign_key: str = ENCRYPT_KEY,
         wait: bool = True) -> tuple[int, dict[str, Any]]:  # fmt: skip
    """POST one callback as Feishu does: encrypted, signed over timestamp, nonce, key, body."""
    body = json.dumps({"encrypt": encrypt(json.dumps(payload), key)}).encode()
    stamp, nonce = "1763690400", "nonce-1"
    signature = hashlib.sha256((stamp + nonce + sign_key).encode() + body).hexdigest()
    request = urllib.request.Request(
        f"{bot.url}/feishu/events", data=body, method="POST",
        headers={"Content-Type": "application/json", "X-Lark-Request-Timestamp": stamp,
                 "X-Lark-Request-Nonce": nonce, "X-Lark-Signature": signature},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            status, text = answer.status, answer.read()
    except urllib.error.HTTPError as err:
        status, text = err.code, err.read()
    if wait:
        assert bot.service.inbox.wait_until_idle(timeout=60)
    return status, json.loads(text or b"{}")


def inbox_count(bot: Bot) -> int:
    with transaction(bot.runtime.engine) as s:
        return int(s.scalar(select(func.count()).select_from(InboxRow)) or 0)


def buttons_of(card: dict[str, Any]) -> list[dict[str, Any]]:
    """Every button in a card JSON 2.0, in forms and column sets too."""
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("tag") == "button":
                found.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(card)
    return found


# -- tests -------------------------------------------------------------------------------------


def test_the_url_check_is_answered_with_its_challenge(bot: Bot) -> None:
    status, answer = post(bot, {"challenge": "ch-42", "token": TOKEN, "type": "url_verification"},
                          wait=False)  # fmt: skip
    assert (status, answer) == (200, {"challenge": "ch-42"})
    forged = {"challenge": "ch-42", "token": "guess", "type": "url_verification"}
    assert post(bot, forged, wait=False)[0] == 403


def test_the_seed_through_feishu_count_card_confirm_ship_receive(bot: Bot) -> None:
    assert post(bot, message_event(KEEPER, "6205 库存 45", T0, "om_said_1"))[0] == 200
    [reply] = bot.feishu.wait_for("/reply")  # quoting the keeper's message
    assert reply.path == "/open-apis/im/v1/messages/om_said_1/reply"
    assert "45" in json.dumps(reply.content, ensure_ascii=False)
    with transaction(bot.runtime.engine) as s:
        review(s, bot.runtime.config, T0, platforms=FEISHU)
    bot.service.delivery.wake()
    [proposal] = bot.feishu.wait_for("/im/v1/messages")
    assert proposal.body["msg_type"] == "interactive" and proposal.body["receive_id"] == GROUP
    card = proposal.content
    assert "P1" in json.dumps(card, ensure_ascii=False)
    values = [b["behaviors"][0]["value"] for b in buttons_of(card)]
    assert values == [{"action": "vmi:confirm", "value": "P1@55"},
                      {"action": "vmi:reject", "value": "P1"},
                      {"action": "vmi:adjust", "value": "P1"}]  # fmt: skip
    card_id = proposal.answer["data"]["message_id"]
    press = action_event(BUYER, values[0], card_id, T0, "ev-press-1")
    for _ in range(2):  # Feishu sends a callback again when it did not hear back in time
        assert post(bot, press)[0] == 200
    [patched] = bot.feishu.wait_for("/im/v1/messages/" + card_id)
    assert patched.method == "PATCH" and "王采购" in patched.body["content"]
    with transaction(bot.runtime.engine) as s:
        assert s.scalar(select(ProposalRow.state)) == "confirmed"
    assert inbox_count(bot) == 2
    # a second click, another event: answered "already", nothing changes
    post(bot, action_event(BUYER, values[0], card_id, T0, "ev-press-2"))
    bot.service.delivery.wake()
    already = bot.feishu.wait_for("/im/v1/messages", 2)[-1]
    assert already.query["receive_id_type"] == "open_id" and already.body["receive_id"] == BUYER
    assert "已经处理过了" in already.content["text"] and "王采购" in already.content["text"]
    assert len(bot.feishu.calls_to("/im/v1/messages/" + card_id)) == 1  # the card patched once
    assert post(bot, message_event(SUPPLIER, "发货 P1", T0, "om_said_2"))[0] == 200
    assert post(bot, message_event(KEEPER, "入库 P1", T0, "om_said_3"))[0] == 200
    with transaction(bot.runtime.engine) as s:
        assert s.scalar(select(ProposalRow.state)) == "received"
        assert stock_levels(s)[("plant-6205", "6205")].on_hand == 100


def test_adjust_is_typed_into_the_card(bot: Bot) -> None:
    post(bot, message_event(KEEPER, "6205 库存 45", T0, "om_a1"))
    with transaction(bot.runtime.engine) as s:
        review(s, bot.runtime.config, T0, platforms=FEISHU)
    bot.service.delivery.wake()
    card_id = bot.feishu.wait_for("/im/v1/messages")[0].answer["data"]["message_id"]
    adjust = {"action": "vmi:adjust", "value": "P1"}
    post(bot, action_event(BUYER, adjust, card_id, T0, "ev-adj", form={"qty": "60"}))
    with transaction(bot.runtime.engine) as s:
        assert s.execute(select(ProposalRow.state, ProposalRow.qty)).one() == ("confirmed", 60)


def test_the_same_event_twice_is_one_count(bot: Bot) -> None:
    said = message_event(KEEPER, "6205 库存 45", T0, "om_twice")
    assert [post(bot, said)[0] for _ in range(2)] == [200, 200]
    with transaction(bot.runtime.engine) as s:
        assert s.scalar(select(func.count()).select_from(LedgerRow)) == 1


def test_a_forged_callback_is_refused_and_nothing_stored(bot: Bot) -> None:
    said = message_event(KEEPER, "6205 库存 45", T0, "om_forged")
    assert post(bot, said, sign_key="not-the-key", wait=False)[0] == 403  # bad signature
    assert post(bot, said, key="another-key", sign_key="another-key", wait=False)[0] == 403
    wrong_token = message_event(KEEPER, "6205 库存 45", T0, "om_forged2", token="guess")
    assert post(bot, wrong_token, wait=False)[0] == 403
    assert inbox_count(bot) == 0


def test_a_group_message_without_the_bot_named_is_not_answered(bot: Bot) -> None:
    assert post(bot, message_event(KEEPER, "午饭吃什么", T0, "om_lunch", mention=False))[0] == 200
    assert inbox_count(bot) == 1
    bot.service.delivery.wake()
    assert bot.feishu.calls_to("/im/v1/messages") == []


def test_rendered_text_is_plain_and_buttons_read_back() -> None:
    card = Card("P1 <at id=all></at>", ("**bold** [x](http://e)",),
                buttons=(Button("确认", "confirm", "P1@55", "primary", "确认 P1"),))  # fmt: skip
    kind, content = message_content(card)
    assert kind == "interactive"
    rendered = json.loads(content)
    texts = [n["text"] for n in rendered["body"]["elements"] if n.get("tag") == "div"]
    assert all(t["tag"] == "plain_text" for t in texts)
    assert rendered["header"]["title"] == {"tag": "plain_text", "content": "P1 <at id=all></at>"}
    [button] = buttons_of(interactive_card(card))
    assert parse_value(button["behaviors"][0]["value"]) == ("confirm", "P1@55")
    assert parse_value({"action": "other", "value": "P1"}) is None
    assert message_content(Card("ok", ("现有 45 件",)))[0] == "text"


def test_errors_sorted_and_pictures_uploaded(tmp_path: Path, feishu: FakeFeishu) -> None:
    sender = FeishuSender(feishu_client(APP_ID, APP_SECRET, feishu.base_url))
    card = Card("复盘", ("chart",), image=Card.png(b"\x89PNG fake"), image_name="c.png")
    ref = sender.send(Outgoing(1, GROUP, "post", "", "", card, key="k-1"))
    assert ref.startswith("om_")
    [image] = feishu.wait_for("/im/v1/messages", 2)[1:]
    assert image.body["msg_type"] == "image" and image.content["image_key"].startswith("img_")
    # the same row again (a crash cut it off): Feishu's uuid keeps it to one message
    assert sender.send(Outgoing(1, GROUP, "post", "", "", Card("x"), key="k-1")) == ref
    feishu.fail_next("/im/v1/messages", 99991400, status=429)
    with pytest.raises(RetryLater):
        sender.send(Outgoing(2, GROUP, "post", "", "", Card("y"), key="k-2"))
    with pytest.raises(NeverDeliverable):
        sender.send(Outgoing(3, "oc_elsewhere", "post", "", "", Card("z"), key="k-3"))


def test_serve_holds_the_long_connection_and_sigterm_closes_it(
    tmp_path: Path, feishu: FakeFeishu, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(delivery_module, "BACKOFF_FIRST_SECONDS", 0.05)
    settings = Settings(feishu_app_id=APP_ID, feishu_app_secret=APP_SECRET,
                        feishu_api_base_url=feishu.base_url)  # fmt: skip
    runtime = start(str(feishu_config(tmp_path)), f"sqlite:///{tmp_path / 'vmi.sqlite'}", settings)
    runtime = replace(runtime, clock=Scene(T0))
    with FakeFeishuWs() as ws:
        feishu.ws_url = ws.url
        service = build_service(runtime)
        service.delivery.idle_seconds = 0.05
        assert len(service.long_connections) == 1
        service.start_background()  # as `vmi-bot serve` does; SQLite: this process leads
        try:
            assert ws.wait_connected()
            said = message_event(KEEPER, "6205 库存 45", T0, "om_ws_serve")
            assert ws.push(said)["code"] == 200  # acked once stored
            assert ws.push(said)["code"] == 200  # Feishu sent it again: stored once
            [reply] = feishu.wait_for("/reply")
            assert "om_ws_serve" in reply.path and "45" in reply.content["text"]
            with transaction(runtime.engine) as s:
                review(s, runtime.config, T0, platforms=FEISHU)
            service.delivery.wake()
            [card] = feishu.wait_for("/im/v1/messages")
            card_id = card.answer["data"]["message_id"]
            press = action_event(BUYER, {"action": "vmi:confirm", "value": "P1@55"}, card_id,
                                 T0, "ev-ws-press")  # fmt: skip
            assert ws.push(press)["code"] == 200
            [patched] = feishu.wait_for("/im/v1/messages/" + card_id)
            assert "已确认 P1" in patched.body["content"]
        finally:
            service.stop_background()
        assert ws.closed.wait(5)  # the connection is closed with the service
    with transaction(runtime.engine) as s:
        assert s.scalar(select(func.count()).select_from(LedgerRow)) == 1
        assert s.scalar(select(ProposalRow.state)) == "confirmed"
    runtime.engine.dispose()


def test_one_to_one_the_bot_answers_in_that_chat(bot: Bot) -> None:
    said = message_event(BUYER, "status", T0, "om_p2p", chat="oc_p2p_buyer", mention=False)
    assert post(bot, said)[0] == 200
    [reply] = bot.feishu.wait_for("/im/v1/messages")
    assert (
        reply.body["receive_id"] == "oc_p2p_buyer" and reply.query["receive_id_type"] == "chat_id"
    )
    assert "6205" in json.dumps(reply.content, ensure_ascii=False)


def test_a_wrong_app_secret_fails_the_message_with_feishus_code(feishu: FakeFeishu) -> None:
    sender = FeishuSender(feishu_client("cli_other_app", "wrong", feishu.base_url))
    with pytest.raises(NeverDeliverable, match="10014"):
        sender.send(Outgoing(1, GROUP, "post", "", "", Card("x"), key="k-1"))


def test_an_event_not_listened_to_is_answered_and_not_stored(bot: Bot) -> None:
    read = envelope("im.message.message_read_v1", {"reader": {"reader_id": {"open_id": BUYER}}},
                    "ev-read", T0)  # fmt: skip
    assert post(bot, read) == (200, {"msg": "success"})
    assert inbox_count(bot) == 0


def test_a_body_over_the_limit_is_refused_unread(bot: Bot) -> None:
    request = urllib.request.Request(f"{bot.url}/feishu/events", data=b"{" + b" " * 300_000 + b"}",
                                     method="POST")  # fmt: skip
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 413


def test_an_answer_to_a_withdrawn_message_goes_to_the_chat(feishu: FakeFeishu) -> None:
    sender = FeishuSender(feishu_client(APP_ID, APP_SECRET, feishu.base_url))
    feishu.withdrawn.add("om_gone")
    ref = sender.send(Outgoing(1, GROUP, "thread", "om_gone", "", Card("已记录盘点"), key="k-9"))
    [reply, posted] = feishu.messages()
    assert reply.answer["code"] == 230011
    assert posted.body["receive_id"] == GROUP and ref == posted.answer["data"]["message_id"]
