"""WeCom end to end: callbacks encrypted as WeCom encrypts them (tests/wecom_crypto.py, written
without wechatpy) are posted over HTTP to `vmi-bot serve`'s app, and a fake WeCom API
(tests/fake_wecom.py) answers the bot's calls as WeCom documents."""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select
from waitress.server import create_server

from bot.adapters.wecom.client import WeComClient
from bot.adapters.wecom.sender import WeComSender
from bot.app.bootstrap import start
from bot.app.demo import MONTH, Press, Say, Scheduled
from bot.app.server import Service, build_service
from bot.runtime import delivery as delivery_module
from bot.runtime.context import Runtime
from bot.runtime.delivery import DeliveryWorker
from bot.services.review import review
from bot.services.settlement import post_statements
from bot.settings import Settings
from bot.storage.db import transaction
from bot.storage.outbox import Destination, enqueue
from bot.storage.stock import record_count, record_withdrawal, stock_levels
from bot.storage.tables import InboxRow, LedgerRow, ProposalRow, StatementRow
from messages.cards import Card
from tests.fake_wecom import FakeWeCom
from tests.support import EXAMPLE, SHANGHAI, in_thread, shanghai
from tests.wecom_crypto import card_event_xml, encrypt_callback, encrypt_echostr, signature
from tests.wecom_crypto import text_message_xml as text_xml

CORP, SECRET, AGENT = "ww-test-corp", "test-secret", "1000002"
TOKEN, AES_KEY = "callback-token", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
KEEPER, BUYER, SUPPLIER = "wangcg", "wangcaigou", "ligy"
WECOM_IDS = {"keeper": KEEPER, "buyer": BUYER, "supplier": SUPPLIER}
WECOM = frozenset({"wecom"})


@dataclass
class Scene:
    """The clock the bot reads: the scene's time, which a test moves on as its story goes."""

    at: datetime

    def __call__(self) -> datetime:
        return self.at


@dataclass
class Bot:
    url: str
    runtime: Runtime
    service: Service
    wecom: FakeWeCom
    clock: Scene


@pytest.fixture
def wecom() -> Iterator[FakeWeCom]:
    fake = FakeWeCom()
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


def settings_for(fake: FakeWeCom) -> Settings:
    return Settings(
        wecom_corp_id=CORP,
        wecom_corp_secret=SECRET,
        wecom_agent_id=AGENT,
        wecom_token=TOKEN,
        wecom_encoding_aes_key=AES_KEY,
        wecom_api_base_url=fake.base_url,
    )


@pytest.fixture
def bot(tmp_path: Path, wecom: FakeWeCom, monkeypatch: pytest.MonkeyPatch) -> Iterator[Bot]:
    monkeypatch.setattr(delivery_module, "BACKOFF_FIRST_SECONDS", 0.05)
    clock = Scene(T0)  # WeCom's CreateTime is trusted near the bot's clock: the scene's time
    runtime = start(str(EXAMPLE), f"sqlite:///{tmp_path / 'vmi.sqlite'}", settings_for(wecom))
    runtime = replace(runtime, clock=clock)
    service = build_service(runtime)
    server = create_server(service.app, host="127.0.0.1", port=0, threads=4)
    in_thread(server)
    service.delivery.idle_seconds = 0.05
    service.delivery.start()
    service.inbox.start()
    try:
        yield Bot(f"http://127.0.0.1:{server.effective_port}", runtime, service, wecom, clock)
    finally:
        service.inbox.stop()
        service.delivery.stop()
        server.close()
        runtime.engine.dispose()


def callback(bot: Bot, xml: str, *, token: str = TOKEN, corp: str = CORP) -> int:
    """POST one message as WeCom does: encrypted, signed, with the signature in the query."""
    body, msg_signature = encrypt_callback(
        xml, token=token, aes_key=AES_KEY, corp_id=corp, timestamp="1763690400", nonce="n1"
    )
    query = urllib.parse.urlencode(
        {"msg_signature": msg_signature, "timestamp": "1763690400", "nonce": "n1"}
    )
    request = urllib.request.Request(
        f"{bot.url}/wecom/callback?{query}", data=body.encode(), method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            status = answer.status
    except urllib.error.HTTPError as err:
        status = err.code
    assert bot.service.inbox.wait_until_idle(timeout=60)  # handled just after WeCom's answer
    return status


def said(who: str, text: str, at: datetime, msg_id: str) -> str:
    return text_xml(who, text, msg_id, int(at.timestamp()), CORP, AGENT)


T0 = shanghai(2026, 11, 21, 10)


def test_url_verification_answers_the_decrypted_echostr(bot: Bot) -> None:
    echo = encrypt_echostr("4242424242", aes_key=AES_KEY, corp_id=CORP)
    query = urllib.parse.urlencode({"msg_signature": signature(TOKEN, "1", "n", echo),
                                    "timestamp": "1", "nonce": "n", "echostr": echo})  # fmt: skip
    with urllib.request.urlopen(f"{bot.url}/wecom/callback?{query}", timeout=5) as answer:
        assert answer.read().decode() == "4242424242"
    bad = urllib.parse.urlencode({"msg_signature": "0" * 40, "timestamp": "1", "nonce": "n",
                                  "echostr": echo})  # fmt: skip
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{bot.url}/wecom/callback?{bad}", timeout=5)
    assert refused.value.code == 403


def test_count_review_card_click_and_update(bot: Bot) -> None:
    assert callback(bot, said(KEEPER, "6205 库存 45", T0, "m1")) == 200
    [reply] = bot.wecom.wait_for("message/send")
    assert reply.body["touser"] == KEEPER and "现有 45 件" in reply.body["text"]["content"]

    with transaction(bot.runtime.engine) as s:
        review(s, bot.runtime.config, T0, platforms=WECOM)
    bot.service.delivery.wake()
    sent = bot.wecom.wait_for("message/send", 3)  # the reply, then the buyer's and admin's cards
    cards = [c.body for c in sent if c.body.get("msgtype") == "template_card"]
    assert {c["touser"] for c in cards} == {BUYER, "admin"}
    card = next(c for c in cards if c["touser"] == BUYER)["template_card"]
    assert card["card_type"] == "button_interaction"
    # no box to type in: only Confirm is a button; adjust and reject are typed, as the card says
    assert [b["key"] for b in card["button_list"]] == ["confirm:P1@55"]
    assert "调整 P1" in card["sub_title_text"] and "拒绝 P1" in card["sub_title_text"]
    [group] = bot.wecom.wait_for("appchat/send")
    assert group.body["chatid"] == "wrVMI01" and "P1" in group.body["markdown"]["content"]

    pressed_at = int(T0.timestamp())
    click = card_event_xml(BUYER, "confirm:P1@55", card["task_id"], "RC-1", pressed_at + 60,
                           CORP, AGENT)  # fmt: skip
    for _ in range(3):  # WeCom retries a callback it thinks went unanswered
        assert callback(bot, click) == 200
    [updated] = bot.wecom.wait_for("message/update_template_card")
    assert updated.body["response_code"] == "RC-1" and updated.body["userids"] == [BUYER]
    assert updated.body["button"]["replace_name"].startswith("已确认 P1 · 王采购")
    with transaction(bot.runtime.engine) as s:
        assert s.scalar(select(ProposalRow.state)) == "confirmed"
        assert s.scalar(select(func.count()).select_from(InboxRow)) == 2

    again = card_event_xml(BUYER, "confirm:P1@55", card["task_id"], "RC-2", pressed_at + 90,
                           CORP, AGENT)  # fmt: skip
    callback(bot, again)
    answer = bot.wecom.wait_for("message/send", 4)[-1].body
    assert answer["touser"] == BUYER and "王采购" in answer["text"]["content"]


def test_the_same_message_three_times_is_one_count(bot: Bot) -> None:
    message = said(KEEPER, "6205 库存 45", T0, "m-repeat")
    assert [callback(bot, message) for _ in range(3)] == [200, 200, 200]
    with transaction(bot.runtime.engine) as s:
        assert s.scalar(select(func.count()).select_from(LedgerRow)) == 1


def test_a_bad_signature_or_another_corp_is_refused_and_nothing_stored(bot: Bot) -> None:
    assert callback(bot, said(KEEPER, "6205 库存 45", T0, "m2"), token="wrong") == 403
    assert callback(bot, said(KEEPER, "6205 库存 45", T0, "m3"), corp="ww-other") == 403
    with transaction(bot.runtime.engine) as s:
        assert s.scalar(select(func.count()).select_from(InboxRow)) == 0


def with_a_group_robot(tmp_path: Path) -> Runtime:
    """The example agreement posting to its group through a robot instead of an app chat."""
    robot = tmp_path / "robot.toml"
    robot.write_text(
        EXAMPLE.read_text(encoding="utf-8")
        .replace('wecom_chat = "wrVMI01"', 'wecom_chat = ""')
        .replace('wecom_webhook_key = ""', 'wecom_webhook_key = "robot-key"'),
        encoding="utf-8",
    )
    return start(str(robot), f"sqlite:///{tmp_path / 'vmi.sqlite'}")


def test_the_robot_at_its_limit_is_tried_again_not_dropped(
    tmp_path: Path, wecom: FakeWeCom
) -> None:
    runtime = with_a_group_robot(tmp_path)
    with transaction(runtime.engine) as s:
        enqueue(s, Destination("wecom", "webhook:plant-6205"), Card("结算单"), T0)
    wecom.fail_next(1, status=200, errcode=45009, path_suffix="webhook/send")
    client = WeComClient(CORP, SECRET, wecom.base_url)
    sender = WeComSender(client, int(AGENT), runtime.config, limit_wait_seconds=0.2)
    worker = DeliveryWorker(runtime.engine, {"wecom": sender}, idle_seconds=0.05)
    worker.start()
    try:
        posts = wecom.wait_for("webhook/send", 2)
    finally:
        worker.stop()
    assert [p.response.get("errcode") for p in posts] == [45009, 0]
    assert posts[1].query["key"] == "robot-key" and "结算单" in posts[1].body["markdown"]["content"]
    runtime.engine.dispose()


def test_an_expired_token_is_fetched_again(bot: Bot) -> None:
    callback(bot, said(KEEPER, "6205 库存 45", T0, "m4"))
    bot.wecom.wait_for("message/send")
    bot.wecom.expire_tokens()
    callback(bot, said(KEEPER, "6205 库存 40", T0, "m5"))
    replies = bot.wecom.wait_for("message/send", 3)
    assert replies[-1].response["errcode"] == 0 and bot.wecom.tokens_issued == 2


def test_a_month_of_the_seed_through_wecom_alone(bot: Bot) -> None:
    button_codes = iter(f"RC-{i}" for i in range(100))
    after_receipt = 0
    statement = None
    for n, step in enumerate(MONTH):
        at = datetime(2026, step.month, step.day, step.hour, tzinfo=SHANGHAI)
        bot.clock.at = at
        if isinstance(step, Scheduled):
            with transaction(bot.runtime.engine) as s:
                if step.job == "review":
                    review(s, bot.runtime.config, at, platforms=WECOM)
                else:
                    [statement] = post_statements(s, bot.runtime.config, at, platforms=WECOM)
            continue
        who = WECOM_IDS[step.speaker]
        if isinstance(step, Press):
            xml = card_event_xml(who, f"{step.action}:{step.proposal}", f"task-{n}",
                                 next(button_codes), int(at.timestamp()), CORP, AGENT)  # fmt: skip
        else:
            assert isinstance(step, Say)
            xml = said(who, step.text, at, f"month-{n}")
        assert callback(bot, xml) == 200
        if isinstance(step, Say) and step.text.startswith("入库"):
            with transaction(bot.runtime.engine) as s:
                after_receipt = stock_levels(s)[("plant-6205", "6205")].on_hand
    with transaction(bot.runtime.engine) as s:
        proposals = s.execute(select(ProposalRow.qty, ProposalRow.urgent).order_by(ProposalRow.id))
        qtys = [(q, u) for q, u in proposals]
    assert qtys[0] == (55, False) and (20, True) in qtys
    assert after_receipt == 100
    assert statement is not None
    [line] = statement.statement.lines
    assert (line.settlement.qty, line.settlement.amount, line.month.aged) == (
        85,
        Decimal("1062.50"),
        5,
    )
    # and people heard about it on WeCom: the settlement reached the group chat
    posts = bot.wecom.wait_for("appchat/send", 4)
    assert any("1,062.50" in p.body["markdown"]["content"] for p in posts)
    # the buyer pressed the card's button, the supplier typed it: S1 is locked
    with transaction(bot.runtime.engine) as s:
        signed = s.execute(select(StatementRow.state, StatementRow.buyer_by,
                                  StatementRow.supplier_by)).one()  # fmt: skip
    assert tuple(signed) == ("locked", "王采购", "李供应")


def test_adjust_and_reject_are_typed_on_wecom(bot: Bot) -> None:
    callback(bot, said(KEEPER, "6205 库存 45", T0, "a1"))
    with transaction(bot.runtime.engine) as s:
        review(s, bot.runtime.config, T0, platforms=WECOM)
    callback(bot, said(BUYER, "调整 P1 60", T0, "a2"))
    with transaction(bot.runtime.engine) as s:
        assert s.execute(select(ProposalRow.state, ProposalRow.qty)).one() == ("confirmed", 60)
    bot.service.delivery.wake()
    replies = [c.body for c in bot.wecom.wait_for("message/send", 4) if c.body["touser"] == BUYER]
    assert any("已调整并确认 P1" in r.get("text", {}).get("content", "") for r in replies)


def test_the_robot_gets_at_most_20_posts_a_minute(tmp_path: Path, wecom: FakeWeCom) -> None:
    runtime = with_a_group_robot(tmp_path)
    with transaction(runtime.engine) as s:
        for n in range(25):
            enqueue(s, Destination("wecom", "webhook:plant-6205"), Card(f"post {n}"), T0)
    minute = [1000.0]
    sender = WeComSender(WeComClient(CORP, SECRET, wecom.base_url), int(AGENT), runtime.config,
                         clock=lambda: minute[0])  # fmt: skip
    worker = DeliveryWorker(runtime.engine, {"wecom": sender})
    while worker.run_once():
        pass
    assert len(wecom.calls_to("webhook/send")) == 20  # the 21st waits: no 45009 was needed
    assert all(c.response["errcode"] == 0 for c in wecom.calls_to("webhook/send"))
    runtime.engine.dispose()


def test_each_side_gets_the_statement_card_and_signs_with_its_button(bot: Bot) -> None:
    with transaction(bot.runtime.engine) as s:
        record_count(s, "plant-6205", "6205", 100, shanghai(2026, 11, 1, 10), member_id="keeper")
        record_withdrawal(s, "plant-6205", "6205", 85, shanghai(2026, 11, 10, 10))
        post_statements(s, bot.runtime.config, shanghai(2026, 11, 25, 9), platforms=WECOM)
    bot.service.delivery.wake()
    sent = bot.wecom.wait_for("message/send", 3)  # the buyer's, the supplier's, the admin's
    cards = {c.body["touser"]: c.body["template_card"] for c in sent}
    assert set(cards) == {BUYER, SUPPLIER, "admin"}
    keys = [b["key"] for b in cards[SUPPLIER]["button_list"]]
    # a dispute needs a reason, which a WeCom card has no box for: it is typed, as it says
    assert keys == ["confirm_statement:S1@1~buyer", "confirm_statement:S1@1~supplier"]
    assert "对账有误 S1 原因" in cards[SUPPLIER]["sub_title_text"]
    [group] = bot.wecom.wait_for("appchat/send")
    assert "1,062.50" in group.body["markdown"]["content"]

    press = card_event_xml(SUPPLIER, keys[1], cards[SUPPLIER]["task_id"], "RC-S1",
                           int(T0.timestamp()) + 60, CORP, AGENT)  # fmt: skip
    assert callback(bot, press) == 200
    [updated] = bot.wecom.wait_for("message/update_template_card")
    assert updated.body["userids"] == [SUPPLIER]
    with transaction(bot.runtime.engine) as s:
        signed = s.execute(select(StatementRow.buyer_by, StatementRow.supplier_by)).one()
    assert tuple(signed) == ("", "李供应")
    assert callback(bot, said(BUYER, "确认对账 S1", T0 + timedelta(minutes=5), "sign-2")) == 200
    with transaction(bot.runtime.engine) as s:
        assert s.scalar(select(StatementRow.state)) == "locked"
