"""DingTalk end to end: robot messages pushed as DingTalk's Stream frames by a fake websocket
(tests/fake_dingtalk.py) to the SDK's client the bot runs, and the bot's replies sent to a fake
DingTalk open API over HTTP, both on loopback."""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from urllib.parse import unquote

import pytest
from sqlalchemy import func, select

from bot.adapters.dingtalk.cards import CARD_ACTIONS
from bot.adapters.dingtalk.client import DingTalkApi
from bot.adapters.dingtalk.render import SEND_BACK
from bot.adapters.dingtalk.sender import DingTalkSender
from bot.adapters.dingtalk.stream import DingTalkStream, RobotMessages, StreamClient
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
from bot.storage.stock import stock_levels
from bot.storage.tables import InboxRow, LedgerRow, OutboxRow, ProposalRow, StatementRow
from messages.cards import Card
from tests.fake_dingtalk import (
    CLIENT_ID,
    CLIENT_SECRET,
    TEMPLATE_ID,
    WEBHOOK_SECRET,
    Call,
    FakeCard,
    FakeDingTalk,
    robot_message,
)
from tests.support import EXAMPLE, SHANGHAI, serve, shanghai

KEEPER, BUYER, SUPPLIER, ADMIN = "dt-keeper", "dt-buyer", "dt-supplier", "dt-admin"
DINGTALK_IDS = {"keeper": KEEPER, "buyer": BUYER, "supplier": SUPPLIER, "admin": ADMIN}
GROUP = "cidVMI01=="
GROUP_CHAT = f"group:{GROUP}"  # how the outbox names it
DINGTALK = frozenset({"dingtalk"})
T0 = shanghai(2026, 11, 21, 10)


def dingtalk_config(tmp_path: Path, agreement_keys: str = f'dingtalk_chat = "{GROUP}"') -> Path:
    """The example agreement with each member's DingTalk staffId and the agreement's group."""
    text = EXAMPLE.read_text(encoding="utf-8")
    for member, staff_id in DINGTALK_IDS.items():
        text = text.replace(f'id = "{member}"\n', f'id = "{member}"\ndingtalk = "{staff_id}"\n', 1)
    text = text.replace('id = "plant-6205"\n', f'id = "plant-6205"\n{agreement_keys}\n', 1)
    path = tmp_path / "dingtalk.toml"
    path.write_text(text, encoding="utf-8")
    return path


@dataclass
class Scene:
    """The clock the bot reads: the scene's time, moved on as the story goes."""

    at: datetime

    def __call__(self) -> datetime:
        return self.at


@dataclass
class Bot:
    runtime: Runtime
    service: Service
    fake: FakeDingTalk
    clock: Scene
    stream: DingTalkStream


@pytest.fixture
def fake() -> Iterator[FakeDingTalk]:
    api = FakeDingTalk(people=set(DINGTALK_IDS.values()), groups={GROUP})
    api.start()
    try:
        yield api
    finally:
        api.stop()


def settings_for(
    fake: FakeDingTalk, secret: str = CLIENT_SECRET, template: str | None = None
) -> Settings:
    return Settings(
        dingtalk_client_id=CLIENT_ID,
        dingtalk_client_secret=secret,
        dingtalk_api_base_url=fake.base_url,
        dingtalk_card_template_id=template,
    )


@pytest.fixture
def bot(
    tmp_path: Path,
    fake: FakeDingTalk,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> Iterator[Bot]:
    """The bot on the fakes; `indirect` parametrization gives it a card template id."""
    monkeypatch.setattr(delivery_module, "BACKOFF_FIRST_SECONDS", 0.05)
    clock = Scene(T0)  # DingTalk's createAt is trusted near the bot's clock: the scene's time
    config = dingtalk_config(tmp_path)
    settings = settings_for(fake, template=getattr(request, "param", None))
    runtime = start(str(config), f"sqlite:///{tmp_path / 'vmi.sqlite'}", settings)
    runtime = replace(runtime, clock=clock)
    service = build_service(runtime)
    stream = service.dingtalk_stream
    assert isinstance(stream, DingTalkStream)
    stream.may_connect = lambda: True  # the scheduler's leader is not started here
    service.delivery.idle_seconds = 0.05
    service.delivery.start()
    service.inbox.start()
    stream.start()
    fake.stream.wait_connected()
    try:
        yield Bot(runtime, service, fake, clock, stream)
    finally:
        stream.stop()
        service.inbox.stop()
        service.delivery.stop()
        runtime.engine.dispose()


def say(bot: Bot, who: str, text: str, msg_id: str, *, group: bool = False) -> None:
    """`who` says `text` to the robot (in the group, @mentioning it), at the scene's time; it
    is acknowledged and handled."""
    at_ms = int(bot.clock.at.timestamp() * 1000)
    frame = bot.fake.stream.push(
        robot_message(who, text, msg_id, at_ms, group=GROUP if group else None)
    )
    assert bot.fake.stream.wait_acked(frame)["code"] == 200
    assert bot.service.inbox.wait_until_idle(timeout=60)
    bot.service.delivery.wake()


def card_of(fake: FakeDingTalk, who: str, proposal: str) -> FakeCard:
    """The interactive card about `proposal` (P1) in `who`'s chat with the robot, or in the
    group when `who` is GROUP."""

    def mine(card: FakeCard) -> bool:
        here = card.group == GROUP if who == GROUP else card.person == who
        return here and card.params["proposal"].partition("@")[0] == proposal

    return fake.card(mine)


def click(bot: Bot, card: FakeCard, who: str, action: str, **params: str) -> str:
    """`who` presses `action` on the interactive `card`; it is acknowledged and handled.
    The frame's id."""
    frame = bot.fake.stream.click(card, who, action, params)
    assert bot.fake.stream.wait_acked(frame)["code"] == 200
    assert bot.service.inbox.wait_until_idle(timeout=60)
    bot.service.delivery.wake()
    return frame


def to_person(fake: FakeDingTalk, who: str, n: int = 1) -> list[Call]:
    """The robot's messages to `who` one to one, once there are `n` of them."""
    fake._wait(lambda c: c.path.endswith("batchSend") and c.body["userIds"] == [who], n, 10, who)
    return [c for c in fake.calls_to("oToMessages/batchSend") if c.body["userIds"] == [who]]


def action_card(fake: FakeDingTalk, who: str, about: str) -> Call:
    """The last ActionCard sent to `who` about `about` (a proposal or statement id)."""

    def is_card(c: Call) -> bool:
        return (
            c.path.endswith("batchSend")
            and c.body["userIds"] == [who]
            and c.body["msgKey"].startswith("sampleActionCard")
            and about in c.body["msgParam"]
        )

    return fake._wait(is_card, 1, 10, about)[-1]


def buttons(call: Call) -> list[tuple[str, str]]:
    """An ActionCard's buttons: each title and the text it sends back."""
    param = call.param
    if call.body["msgKey"] == "sampleActionCard":
        return [(param["singleTitle"], unquote(param["singleURL"].removeprefix(SEND_BACK)))]
    count = int(call.body["msgKey"].removeprefix("sampleActionCard"))
    return [(param[f"actionTitle{n}"], unquote(param[f"actionURL{n}"].removeprefix(SEND_BACK)))
            for n in range(1, count + 1)]  # fmt: skip


def test_a_count_one_to_one_is_answered_one_to_one(bot: Bot) -> None:
    say(bot, KEEPER, "6205 库存 45", "m1")
    [reply] = to_person(bot.fake, KEEPER)
    assert reply.body["robotCode"] == CLIENT_ID and reply.body["msgKey"] == "sampleMarkdown"
    assert "现有 45 件" in reply.param["text"]


def test_in_the_group_the_mention_is_stripped_and_the_group_answered(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    say(bot, KEEPER, "@VMI助手 6205 库存 45", "g1", group=True)
    assert "is no agreement's dingtalk_chat" not in caplog.text
    [post] = bot.fake.wait_for("groupMessages/send")
    assert post.body["openConversationId"] == GROUP and "现有 45 件" in post.param["text"]
    with transaction(bot.runtime.engine) as s:
        assert stock_levels(s)[("plant-6205", "6205")].on_hand == 45


def test_a_proposal_goes_to_the_group_and_an_action_card_to_each_decider(bot: Bot) -> None:
    say(bot, KEEPER, "6205 库存 45", "p1")
    with transaction(bot.runtime.engine) as s:
        review(s, bot.runtime.config, T0, platforms=DINGTALK)
    bot.service.delivery.wake()
    [group] = bot.fake.wait_for("groupMessages/send")
    # the group's robot hears only what @mentions it: no buttons there, what to type instead
    assert group.body["msgKey"] == "sampleMarkdown" and "确认 P1" in group.param["text"]
    assert "@机器人" in group.param["text"]
    [card] = to_person(bot.fake, BUYER)
    assert card.body["msgKey"].startswith("sampleActionCard")
    pressed = buttons(card)
    assert pressed[0][1] == "确认 P1" and any(text.startswith("拒绝 P1") for _, text in pressed)
    assert to_person(bot.fake, ADMIN)[0].body["msgKey"] == card.body["msgKey"]
    # pressing a button sends its text from the buyer, one to one, as if typed
    say(bot, BUYER, pressed[0][1], "p2")
    with transaction(bot.runtime.engine) as s:
        assert s.scalar(select(ProposalRow.state)) == "confirmed"
    answer = to_person(bot.fake, BUYER, 2)[-1]
    assert "P1" in answer.param["text"]


def test_a_picture_is_answered_with_what_to_type_and_records_nothing(bot: Bot) -> None:
    at_ms = int(T0.timestamp() * 1000)
    picture = robot_message(KEEPER, "", "pic1", at_ms)
    del picture["text"]
    picture.update(msgtype="picture", content={"downloadCode": "dc-1", "pictureDownloadCode": "x"})
    assert bot.fake.stream.wait_acked(bot.fake.stream.push(picture))["code"] == 200
    assert bot.service.inbox.wait_until_idle(timeout=60)
    bot.service.delivery.wake()
    [reply] = to_person(bot.fake, KEEPER)
    assert "6205 库存" in reply.param["text"]  # how to type a count
    with transaction(bot.runtime.engine) as s:
        assert s.scalar(select(func.count()).select_from(LedgerRow)) == 0


def test_the_same_message_delivered_twice_changes_once(bot: Bot) -> None:
    for _ in range(2):  # DingTalk sends again what it thinks was not acknowledged
        say(bot, KEEPER, "6205 库存 45", "m-repeat")
    with transaction(bot.runtime.engine) as s:
        assert s.scalar(select(func.count()).select_from(LedgerRow)) == 1
        assert s.scalar(select(func.count()).select_from(InboxRow)) == 1
    assert len(to_person(bot.fake, KEEPER)) == 1


def test_a_dropped_connection_is_made_again_and_nothing_is_lost_or_doubled(bot: Bot) -> None:
    say(bot, KEEPER, "6205 库存 45", "d1")
    bot.fake.stream.drop()
    # said while the bot is away: DingTalk keeps it and pushes it on the next connection
    frame = bot.fake.stream.push(robot_message(KEEPER, "6205 库存 40", "d2",
                                               int(T0.timestamp() * 1000)))  # fmt: skip
    bot.fake.stream.wait_connected(2)
    assert bot.fake.stream.wait_acked(frame)["code"] == 200
    bot.fake.stream.ask_to_reconnect()  # DingTalk's own restarts
    bot.fake.stream.wait_connected(3)
    say(bot, KEEPER, "6205 库存 38", "d3")
    say(bot, KEEPER, "6205 库存 40", "d2")  # pushed once more: still once
    with transaction(bot.runtime.engine) as s:
        assert s.scalar(select(func.count()).select_from(InboxRow)) == 3
        assert stock_levels(s)[("plant-6205", "6205")].on_hand == 38
    replies = to_person(bot.fake, KEEPER, 3)
    assert [("现有 40 件" in r.param["text"]) for r in replies] == [False, True, False]


def test_a_group_no_agreement_names_is_logged_with_its_id(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    at_ms = int(T0.timestamp() * 1000)
    with caplog.at_level(logging.WARNING, logger="bot.adapters.dingtalk.stream"):
        frame = bot.fake.stream.push(robot_message(KEEPER, "帮助", "u1", at_ms, group="cidNEW"))
        bot.fake.stream.wait_acked(frame)
    assert 'dingtalk_chat = "cidNEW"' in caplog.text


def test_a_ping_is_answered_with_its_own_data(bot: Bot) -> None:
    ack = bot.fake.stream.wait_acked(bot.fake.stream.ping())
    assert ack["code"] == 200 and '"opaque": "opaque-1"' in ack["data"]


def test_an_expired_token_is_fetched_again(bot: Bot) -> None:
    say(bot, KEEPER, "6205 库存 45", "t1")
    to_person(bot.fake, KEEPER)
    bot.fake.expire_tokens()
    say(bot, KEEPER, "6205 库存 40", "t2")
    replies = to_person(bot.fake, KEEPER, 3)
    assert [r.status for r in replies] == [200, 401, 200] and bot.fake.tokens_issued == 2


def test_wrong_credentials_are_said_plainly(
    fake: FakeDingTalk, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    runtime = start(str(dingtalk_config(tmp_path)), f"sqlite:///{tmp_path / 'vmi.sqlite'}")
    client = StreamClient(CLIENT_ID, "not-the-secret", fake.base_url)
    client.register_callback_handler("/v1.0/im/bot/messages/get", RobotMessages(runtime, print))
    stream = DingTalkStream(client, backoff_max=0.1)
    with caplog.at_level(logging.ERROR, logger="bot.adapters.dingtalk.stream"):
        stream.start()
        fake.wait_for("gateway/connections/open", 2)
        stream.stop()
    assert "DINGTALK_CLIENT_SECRET" in caplog.text and fake.stream.connections == 0
    runtime.engine.dispose()


def test_the_custom_robot_signs_its_posts(fake: FakeDingTalk, tmp_path: Path) -> None:
    keys = (
        f'dingtalk_webhook = "{fake.webhook_url()}"\ndingtalk_webhook_secret = "{WEBHOOK_SECRET}"'
    )
    runtime = start(str(dingtalk_config(tmp_path, keys)), f"sqlite:///{tmp_path / 'vmi.sqlite'}")
    with transaction(runtime.engine) as s:
        enqueue(s, Destination("dingtalk", "webhook:plant-6205"), Card("结算单 S1"), T0)
    api = DingTalkApi(CLIENT_ID, CLIENT_SECRET, fake.base_url)
    sender = DingTalkSender(api, CLIENT_ID, runtime.config, fake.base_url)
    DeliveryWorker(runtime.engine, {"dingtalk": sender}).run_once()
    [post] = fake.wait_for("robot/send")
    assert post.response["errcode"] == 0 and "结算单 S1" in post.body["markdown"]["text"]
    assert post.query["sign"] and post.query["timestamp"]
    # a wrong secret is refused by DingTalk, and the row failed with the reason
    wrong = replace(runtime.config.agreements[0], dingtalk_webhook_secret="SEC-wrong")
    sender.config = replace(runtime.config, agreements=(wrong,))
    with transaction(runtime.engine) as s:
        enqueue(s, Destination("dingtalk", "webhook:plant-6205"), Card("结算单 S2"), T0)
    DeliveryWorker(runtime.engine, {"dingtalk": sender}).run_once()
    assert fake.wait_for("robot/send", 2)[1].response["errcode"] == 310000
    with transaction(runtime.engine) as s:
        failed = s.scalars(select(OutboxRow.last_error).where(OutboxRow.state == "failed")).all()
    assert len(failed) == 1 and "310000" in failed[0]
    runtime.engine.dispose()


@pytest.mark.parametrize("bot", [None, TEMPLATE_ID], ids=["action-cards", "interactive-cards"],
                         indirect=True)  # fmt: skip
def test_a_month_of_the_seed_through_dingtalk_alone(bot: Bot) -> None:
    interactive = bot.runtime.settings.dingtalk_card_template_id is not None
    after_receipt = 0
    statement = None
    for n, step in enumerate(MONTH):
        at = datetime(2026, step.month, step.day, step.hour, tzinfo=SHANGHAI)
        bot.clock.at = at
        if isinstance(step, Scheduled):
            with transaction(bot.runtime.engine) as s:
                if step.job == "review":
                    review(s, bot.runtime.config, at, platforms=DINGTALK)
                else:
                    [statement] = post_statements(s, bot.runtime.config, at, platforms=DINGTALK)
            bot.service.delivery.wake()
            continue
        who = DINGTALK_IDS[step.speaker]
        if isinstance(step, Press) and interactive and step.action in CARD_ACTIONS:
            # the button on the person's own interactive card: a click on the card callback
            click(bot, card_of(bot.fake, who, step.proposal), who, step.action)
        elif isinstance(step, Press):
            # the button on the person's own ActionCard: its text comes back from them
            card = action_card(bot.fake, who, step.proposal.partition("~")[0])
            say(bot, who, buttons(card)[0][1], f"month-{n}")
        else:
            assert isinstance(step, Say)
            say(bot, who, step.text, f"month-{n}", group=n % 2 == 0)
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
    figures = (line.settlement.qty, line.settlement.amount, line.month.aged)
    assert figures == (85, Decimal("1062.50"), 5)
    # and the group heard the statement
    posts = bot.fake.wait_for("groupMessages/send", 1)
    bot.fake._wait(lambda c: "1,062.50" in c.body.get("msgParam", ""), 1, 10, "the statement")
    assert posts
    with transaction(bot.runtime.engine) as s:
        signed = s.execute(select(StatementRow.state, StatementRow.buyer_by,
                                  StatementRow.supplier_by)).one()  # fmt: skip
    assert tuple(signed) == ("locked", "王采购", "李供应")


def test_dingtalk_is_on_with_its_client_id_and_secret() -> None:
    on = Settings(dingtalk_client_id=CLIENT_ID, dingtalk_client_secret=CLIENT_SECRET)
    assert on.platforms_on == {"console", "dingtalk"}
    assert not Settings(dingtalk_client_id=CLIENT_ID).dingtalk_on


def test_serve_holds_the_stream_while_leading_and_sigterm_closes_it(
    fake: FakeDingTalk, tmp_path: Path
) -> None:
    kept = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "WECOM_", "DING"))}
    env = {**kept, "DINGTALK_CLIENT_ID": CLIENT_ID, "DINGTALK_CLIENT_SECRET": CLIENT_SECRET,
           "DINGTALK_API_BASE_URL": fake.base_url}  # fmt: skip
    process, said = serve(f"sqlite:///{tmp_path / 'vmi.sqlite'}", env)
    try:
        fake.stream.wait_connected(1, timeout=30)  # on SQLite the one process leads at once
        frame = fake.stream.push(robot_message("stranger", "6205 库存 45", "s1", 0))
        assert fake.stream.wait_acked(frame)["code"] == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        process.kill()
    assert fake.stream.wait_disconnected() and fake.stream.connections == 1
    assert "no platform" not in "".join(said)


def deliver_once(fake: FakeDingTalk, runtime: Runtime, card: Card, chat: str) -> OutboxRow:
    """`card` queued for `chat` and one delivery pass: the row as it is after it."""
    with transaction(runtime.engine) as s:
        enqueue(s, Destination("dingtalk", chat), card, T0)
    sender = DingTalkSender(DingTalkApi(CLIENT_ID, CLIENT_SECRET, fake.base_url), CLIENT_ID,
                            runtime.config, fake.base_url)  # fmt: skip
    DeliveryWorker(runtime.engine, {"dingtalk": sender}).run_once()
    with transaction(runtime.engine) as s:
        row = s.scalars(select(OutboxRow).order_by(OutboxRow.id.desc())).first()  # type: ignore[union-attr]
        assert row is not None
        s.expunge(row)
        return row


def test_a_picture_follows_its_card_as_an_image_message(fake: FakeDingTalk, tmp_path: Path) -> None:
    runtime = start(str(dingtalk_config(tmp_path)), f"sqlite:///{tmp_path / 'vmi.sqlite'}")
    chart = Card("月度回顾", image=Card.png(b"\x89PNG\r\n\x1a\n-chart-"), image_name="review.png")
    assert deliver_once(fake, runtime, chart, GROUP_CHAT).state == "sent"
    [card, picture] = fake.calls_to("groupMessages/send")
    assert card.body["msgKey"] == "sampleMarkdown" and picture.body["msgKey"] == "sampleImageMsg"
    [upload] = fake.calls_to("/media/upload")
    assert picture.param["photoURL"] == upload.response["media_id"]
    runtime.engine.dispose()


def test_what_dingtalk_refuses_fails_and_what_it_throttles_waits(
    fake: FakeDingTalk, tmp_path: Path
) -> None:
    runtime = start(str(dingtalk_config(tmp_path)), f"sqlite:///{tmp_path / 'vmi.sqlite'}")
    # a group the robot is not in: DingTalk will never take it
    row = deliver_once(fake, runtime, Card("提醒"), "group:cid-not-ours")
    assert row.state == "failed" and "resource.not.found" in row.last_error
    # a person not in the organisation
    row = deliver_once(fake, runtime, Card("提醒"), "dt-nobody")
    assert row.state == "failed" and "dt-nobody" in row.last_error
    # throttled: tried again later, not dropped
    fake.fail_next("groupMessages/send", 429, "Throttling.Api")
    row = deliver_once(fake, runtime, Card("提醒"), GROUP_CHAT)
    assert row.state == "pending" and row.next_attempt_at is not None
    runtime.engine.dispose()


def test_only_the_leading_process_holds_the_connection(bot: Bot) -> None:
    leading = threading.Event()
    leading.set()
    bot.stream.may_connect = leading.is_set
    leading.clear()  # another process took the lead: this one lets go
    assert bot.fake.stream.wait_disconnected()
    leading.set()
    bot.fake.stream.wait_connected(2)
    say(bot, KEEPER, "6205 库存 45", "l1")
    assert "现有 45 件" in to_person(bot.fake, KEEPER)[0].param["text"]


def test_without_a_card_template_a_resized_proposal_is_sent_anew(bot: Bot) -> None:
    say(bot, KEEPER, "6205 库存 45", "r1")
    with transaction(bot.runtime.engine) as s:
        review(s, bot.runtime.config, T0, platforms=DINGTALK)
    bot.service.delivery.wake()
    action_card(bot.fake, BUYER, "P1")
    bot.fake.wait_for("groupMessages/send", 1)
    bot.clock.at = shanghai(2026, 11, 24, 8)
    say(bot, KEEPER, "6205 库存 30", "r2")
    with transaction(bot.runtime.engine) as s:
        review(s, bot.runtime.config, bot.clock.at, platforms=DINGTALK)
    bot.service.delivery.wake()
    cards = to_person(bot.fake, BUYER, 2)  # an ActionCard cannot change: a second one
    assert all(c.body["msgKey"].startswith("sampleActionCard") for c in cards)
    assert "70" in cards[-1].param["text"] and "70" not in cards[0].param["text"]
    group = bot.fake._wait(lambda c: c.path.endswith("groupMessages/send")
                           and "70" in c.param.get("text", ""), 1, 10, "the group's")  # fmt: skip
    assert group and not bot.fake.cards
