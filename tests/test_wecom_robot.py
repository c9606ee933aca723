"""The WeCom intelligent robot end to end: callbacks pushed by a fake long-connection server
(tests/fake_wecom_robot.py, written from WeCom's documented frames) to the connection the bot
holds, and the bot's answers, pushes and card updates sent back over it, all on loopback."""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.adapters.wecom_robot.callbacks import RobotCallbacks
from bot.adapters.wecom_robot.connection import RobotConnection
from bot.adapters.wecom_robot.translate import click_to_incoming, message_to_incoming
from bot.app.bootstrap import start
from bot.app.demo import MONTH, Press, Say, Scheduled
from bot.app.server import Service, build_service
from bot.runtime import delivery as delivery_module
from bot.runtime.context import Runtime
from bot.services.review import review
from bot.services.settlement import post_statements
from bot.settings import Settings
from bot.storage.db import transaction
from bot.storage.stock import stock_levels
from bot.storage.tables import InboxRow, LedgerRow, OutboxRow, ProposalRow, StatementRow
from tests.fake_wecom_robot import BOT_ID, BOT_SECRET, FakeWeComRobot, Shown
from tests.support import EXAMPLE, SHANGHAI, serve, shanghai

KEEPER, BUYER, SUPPLIER = "wangcg", "wangcaigou", "ligy"  # the example's wecom ids
WECOM_IDS = {"keeper": KEEPER, "buyer": BUYER, "supplier": SUPPLIER, "admin": "admin"}
GROUP = "wrROBOT01"
GROUP_CHAT = f"group:{GROUP}"
ROBOT = frozenset({"wecom_robot"})
T0 = shanghai(2026, 11, 21, 10)


def robot_config(tmp_path: Path, group: str = GROUP) -> Path:
    """The example agreement, its group the robot's (members keep their wecom ids)."""
    text = EXAMPLE.read_text(encoding="utf-8").replace(
        'id = "plant-6205"\n', f'id = "plant-6205"\nwecom_robot_chat = "{group}"\n', 1
    )
    path = tmp_path / "robot.toml"
    path.write_text(text, encoding="utf-8")
    return path


def settings_for(fake: FakeWeComRobot, secret: str = BOT_SECRET) -> Settings:
    return Settings(wecom_bot_id=BOT_ID, wecom_bot_secret=secret, wecom_bot_ws_url=fake.url)


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
    fake: FakeWeComRobot
    clock: Scene
    connection: RobotConnection


@pytest.fixture
def fake() -> Iterator[FakeWeComRobot]:
    server = FakeWeComRobot().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def bot(tmp_path: Path, fake: FakeWeComRobot, monkeypatch: pytest.MonkeyPatch) -> Iterator[Bot]:
    monkeypatch.setattr(delivery_module, "BACKOFF_FIRST_SECONDS", 0.05)
    clock = Scene(T0)  # WeCom's create_time is trusted near the bot's clock: the scene's time
    runtime = start(str(robot_config(tmp_path)), f"sqlite:///{tmp_path / 'vmi.sqlite'}",
                    settings_for(fake))  # fmt: skip
    runtime = replace(runtime, clock=clock)
    service = build_service(runtime)
    [connection] = service.long_connections
    assert isinstance(connection, RobotConnection)
    connection.may_connect = lambda: True  # the scheduler's leader is not started here
    connection.backoff_max = 0.2
    service.delivery.idle_seconds = 0.05
    service.delivery.start()
    service.inbox.start()
    connection.start()
    fake.wait_connected()
    try:
        yield Bot(runtime, service, fake, clock, connection)
    finally:
        connection.stop()
        service.inbox.stop()
        service.delivery.stop()
        runtime.engine.dispose()


def handled(bot: Bot, message_id: str) -> None:
    """Until the message is stored in the inbox and handled, and delivery is woken."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with transaction(bot.runtime.engine, read_only=True) as s:
            found = s.scalar(select(func.count()).select_from(InboxRow)
                             .where(InboxRow.platform_message_id == message_id))  # fmt: skip
        if found:
            break
        time.sleep(0.02)
    else:
        raise TimeoutError(f"{message_id} never stored")
    assert bot.service.inbox.wait_until_idle(timeout=60)
    bot.service.delivery.wake()


def say(bot: Bot, who: str, text: str, msgid: str, *, group: bool = False) -> str:
    """`who` says `text` to the robot (in the group, @mentioning it) at the scene's time; it is
    stored and handled. The callback's req_id."""
    req_id = bot.fake.say(who, text, msgid, bot.clock.at.timestamp(), group=GROUP if group else "")
    handled(bot, f"msg:{msgid}")
    return req_id


def click(bot: Bot, who: str, key: str, task_id: str, msgid: str) -> None:
    """`who` presses the button `key` of the group's card `task_id`."""
    bot.fake.click(who, key, task_id, msgid, bot.clock.at.timestamp(), group=GROUP)
    handled(bot, f"evt:{msgid}")


def cards(shown: list[Shown]) -> list[dict[str, Any]]:
    """The template cards among what a chat saw."""
    return [s.body["template_card"] for s in shown if s.body.get("msgtype") == "template_card"]


def card_with(bot: Bot, key_start: str, variant: str = "") -> tuple[dict[str, Any], str]:
    """The last card in the group with a button whose key starts so: the card and the key."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for card in reversed(cards([s for s in bot.fake.shown if s.chat == GROUP_CHAT])):
            for button in card.get("button_list", []):
                if button["key"].startswith(key_start) and button["key"].endswith(variant):
                    return card, button["key"]
        time.sleep(0.05)
    raise TimeoutError(f"no card with a {key_start} button")


def all_sent(bot: Bot) -> None:
    """Until every row for the robot in the outbox is sent (its answer came back)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with transaction(bot.runtime.engine, read_only=True) as s:
            states = set(s.scalars(select(OutboxRow.state)
                                   .where(OutboxRow.platform == "wecom_robot")))  # fmt: skip
        if states <= {"sent"}:
            return
        time.sleep(0.05)
    raise TimeoutError(f"outbox rows still {states}")


def on_hand(bot: Bot) -> int:
    with transaction(bot.runtime.engine) as s:
        return stock_levels(s)[("plant-6205", "6205")].on_hand


def test_a_count_one_to_one_is_answered_through_the_connection(bot: Bot) -> None:
    req_id = say(bot, KEEPER, "6205 库存 45", "m1")
    [reply] = bot.fake.wait_shown(KEEPER)
    assert "现有 45 件" in reply.text
    # answered within WeCom's 5 s: as the callback's own answer, a finished stream
    assert reply.how == "respond" and reply.body["stream"]["finish"] is True
    assert bot.fake.wait_frames("aibot_respond_msg")[0]["headers"]["req_id"] == req_id


def test_in_the_group_the_mention_is_stripped_and_the_group_answered(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    say(bot, KEEPER, "6205 库存 45", "g1", group=True)
    [reply] = bot.fake.wait_shown(GROUP_CHAT)
    assert "现有 45 件" in reply.text
    assert on_hand(bot) == 45
    assert "is no agreement's wecom_robot_chat" not in caplog.text


def test_a_group_no_agreement_names_is_logged_with_its_chatid(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="bot.adapters.wecom_robot.callbacks"):
        bot.fake.say(KEEPER, "帮助", "u1", T0.timestamp(), group="wrNEW")
        handled(bot, "msg:u1")
    assert 'wecom_robot_chat = "wrNEW"' in caplog.text


def test_the_same_msgid_delivered_twice_changes_once(bot: Bot) -> None:
    for _ in range(2):  # WeCom sends a callback again when it thinks it went unanswered
        say(bot, KEEPER, "6205 库存 45", "m-repeat")
    with transaction(bot.runtime.engine) as s:
        assert s.scalar(select(func.count()).select_from(LedgerRow)) == 1
        assert s.scalar(select(func.count()).select_from(InboxRow)) == 1
    time.sleep(0.3)
    assert len(bot.fake.wait_shown(KEEPER)) == 1


def test_a_proposal_card_in_the_group_clicked_is_updated_and_a_second_click_is_already(
    bot: Bot,
) -> None:
    say(bot, KEEPER, "6205 库存 45", "p1", group=True)
    with transaction(bot.runtime.engine) as s:
        review(s, bot.runtime.config, T0, platforms=ROBOT)
    bot.service.delivery.wake()
    card, key = card_with(bot, "confirm:P1")
    assert key == "confirm:P1@55" and card["card_type"] == "button_interaction"
    # Confirm and Reject are buttons; Adjust needs a number: typed, as the card says
    keys = [b["key"] for b in card["button_list"]]
    assert keys == ["confirm:P1@55", "reject:P1"]
    assert "调整 P1" in card.get("sub_title_text", "")
    pushed = [f for f in bot.fake.frames if f.get("cmd") == "aibot_send_msg"]
    assert pushed[-1]["body"]["chat_type"] == 2 and pushed[-1]["body"]["chatid"] == GROUP

    click(bot, BUYER, key, card["task_id"], "c1")
    with transaction(bot.runtime.engine) as s:
        assert s.scalar(select(ProposalRow.state)) == "confirmed"
    updated = next(s for s in bot.fake.wait_shown(GROUP_CHAT, 3) if s.how == "update")
    assert updated.body["template_card"]["task_id"] == card["task_id"]
    assert "已确认 P1" in updated.text and "button_list" not in updated.body["template_card"]

    click(bot, BUYER, key, card["task_id"], "c2")  # pressed again on a card not yet refreshed
    again = bot.fake.wait_shown(GROUP_CHAT, 4)[-1]
    assert "王采购" in again.text and "P1" in again.text
    with transaction(bot.runtime.engine) as s:
        assert s.scalar(select(ProposalRow.state)) == "confirmed"


def test_a_reject_click_asks_for_the_reason_and_changes_nothing(bot: Bot) -> None:
    say(bot, KEEPER, "6205 库存 45", "r1", group=True)
    with transaction(bot.runtime.engine) as s:
        review(s, bot.runtime.config, T0, platforms=ROBOT)
    bot.service.delivery.wake()
    card, key = card_with(bot, "reject:P1")
    click(bot, BUYER, key, card["task_id"], "r2")
    answer = bot.fake.wait_shown(GROUP_CHAT, 3)[-1]
    assert "拒绝 P1" in answer.text
    with transaction(bot.runtime.engine) as s:
        assert s.scalar(select(ProposalRow.state)) == "proposed"


def test_a_person_opening_the_chat_is_welcomed(bot: Bot) -> None:
    req_id = bot.fake.enter(KEEPER, T0.timestamp())
    [welcome] = bot.fake.wait_shown(KEEPER)
    assert welcome.how == "welcome" and "帮助" in welcome.body["text"]["content"]
    assert bot.fake.wait_frames("aibot_respond_welcome_msg")[0]["headers"]["req_id"] == req_id


def test_a_dropped_connection_is_resumed_and_nothing_lost_or_doubled(bot: Bot) -> None:
    say(bot, KEEPER, "6205 库存 45", "d1", group=True)
    bot.fake.wait_shown(GROUP_CHAT)
    all_sent(bot)  # a drop between WeCom showing it and its answer coming back may double it
    bot.fake.drop()
    # the review runs while the robot is away: its card waits in the outbox
    with transaction(bot.runtime.engine) as s:
        review(s, bot.runtime.config, T0, platforms=ROBOT)
    bot.service.delivery.wake()
    bot.fake.wait_connected(2)
    card_with(bot, "confirm:P1")
    say(bot, KEEPER, "6205 库存 45", "d1", group=True)  # sent again by WeCom: still once
    say(bot, KEEPER, "6205 库存 44", "d2", group=True)
    shown = bot.fake.wait_shown(GROUP_CHAT, 3)
    time.sleep(0.3)
    shown = bot.fake.wait_shown(GROUP_CHAT)
    assert len(cards(shown)) == 1 and len(shown) == 3
    with transaction(bot.runtime.engine) as s:
        assert s.scalar(select(func.count()).select_from(InboxRow)) == 2
        states = s.scalars(select(OutboxRow.state).where(OutboxRow.platform == "wecom_robot"))
        assert set(states) <= {"sent"}
    assert on_hand(bot) == 44


def test_unanswered_pings_mean_a_dead_connection_made_again(bot: Bot) -> None:
    bot.connection.heartbeat_seconds = 0.1
    bot.fake.silent_pings = True
    bot.fake.drop()  # the next connection beats at the new pace
    bot.fake.wait_connected(2)
    bot.fake.wait_connected(3)  # two pings unanswered on the second: it is dropped and made again
    assert len(bot.fake.wait_frames("ping", 2)) >= 2
    bot.fake.silent_pings = False
    say(bot, KEEPER, "6205 库存 45", "h1")
    assert "现有 45 件" in bot.fake.wait_shown(KEEPER)[0].text


def test_wrong_credentials_are_said_plainly_and_the_secret_never(
    fake: FakeWeComRobot, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    runtime = start(str(robot_config(tmp_path)), f"sqlite:///{tmp_path / 'vmi.sqlite'}")
    connection = RobotConnection(BOT_ID, "not-the-secret", fake.url,
                                 RobotCallbacks(runtime, print), credentials_pause=0.1)  # fmt: skip
    with caplog.at_level(logging.ERROR, logger="bot.adapters.wecom_robot.connection"):
        connection.start()
        deadline = time.monotonic() + 10
        while fake.refused < 2 and time.monotonic() < deadline:  # tried again, slowly
            time.sleep(0.05)
        connection.stop()
    assert fake.refused >= 2 and fake.subscriptions == 0
    assert "WECOM_BOT_SECRET" in caplog.text and "853000" in caplog.text
    assert "not-the-secret" not in caplog.text
    runtime.engine.dispose()


def test_a_follower_does_not_connect_and_a_kicked_connection_stands_by(
    fake: FakeWeComRobot, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    runtime = start(str(robot_config(tmp_path)), f"sqlite:///{tmp_path / 'vmi.sqlite'}")
    leading = {"now": False}
    follower = RobotConnection(BOT_ID, BOT_SECRET, fake.url, RobotCallbacks(runtime, print),
                               lambda: leading["now"])  # fmt: skip
    follower.start()
    time.sleep(1.5)
    assert fake.frames == [] and not follower.ready()  # not leading: never connected
    leading["now"] = True  # it leads now
    fake.wait_connected(1)
    # another program subscribes with the same robot: WeCom kicks this one, which stands by
    other = RobotConnection(BOT_ID, BOT_SECRET, fake.url, RobotCallbacks(runtime, print))
    with caplog.at_level(logging.WARNING, logger="bot.adapters.wecom_robot.connection"):
        other.start()
        fake.wait_connected(2)
        time.sleep(1.5)
    assert fake.subscriptions == 2 and other.ready() and not follower.ready()
    assert "another connection took it" in caplog.text
    follower.stop()
    other.stop()
    runtime.engine.dispose()


def test_the_robot_is_on_with_its_bot_id_and_secret_and_its_chat_warned_when_off(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    on = Settings(wecom_bot_id=BOT_ID, wecom_bot_secret=BOT_SECRET)
    assert on.platforms_on == {"console", "wecom_robot"}
    assert not Settings(wecom_bot_id=BOT_ID).wecom_robot_on
    runtime = start(str(robot_config(tmp_path)), f"sqlite:///{tmp_path / 'vmi.sqlite'}")
    with caplog.at_level(logging.WARNING, logger="bot.app.server"):
        build_service(runtime)
    said = [r.getMessage() for r in caplog.records if "WeCom robot group" in r.getMessage()]
    assert len(said) == 1 and "WECOM_BOT_ID" in said[0] and GROUP in said[0]
    runtime.engine.dispose()


def test_serve_holds_the_connection_while_leading_and_sigterm_closes_it(
    fake: FakeWeComRobot, tmp_path: Path
) -> None:
    kept = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "WECOM_", "DING"))}
    env = {**kept, "WECOM_BOT_ID": BOT_ID, "WECOM_BOT_SECRET": BOT_SECRET,
           "WECOM_BOT_WS_URL": fake.url}  # fmt: skip
    process, said = serve(f"sqlite:///{tmp_path / 'vmi.sqlite'}", env)
    try:
        fake.wait_connected(1, timeout=30)  # on SQLite the one process leads at once
        fake.say(KEEPER, "6205 库存 45", "s1", time.time())
        assert "现有 45 件" in fake.wait_shown(KEEPER)[0].text
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        process.kill()
    assert fake.wait_disconnected() and fake.subscriptions == 1
    assert "no platform" not in "".join(said)


def test_a_month_of_the_seed_through_the_robot_alone(bot: Bot) -> None:
    after_receipt = 0
    statement = None
    for n, step in enumerate(MONTH):
        at = datetime(2026, step.month, step.day, step.hour, tzinfo=SHANGHAI)
        bot.clock.at = at
        if isinstance(step, Scheduled):
            with transaction(bot.runtime.engine) as s:
                if step.job == "review":
                    review(s, bot.runtime.config, at, platforms=ROBOT)
                else:
                    [statement] = post_statements(s, bot.runtime.config, at, platforms=ROBOT)
            bot.service.delivery.wake()
            continue
        who = WECOM_IDS[step.speaker]
        if isinstance(step, Press):
            # the button on the group's card
            on, _, variant = step.proposal.partition("~")
            card, key = card_with(bot, f"{step.action}:{on}", variant)
            click(bot, who, key, card["task_id"], f"month-{n}")
        else:
            assert isinstance(step, Say)
            say(bot, who, step.text, f"month-{n}", group=n % 2 == 0)
        if isinstance(step, Say) and step.text.startswith("入库"):
            after_receipt = on_hand(bot)
    with transaction(bot.runtime.engine) as s:
        proposals = s.execute(select(ProposalRow.qty, ProposalRow.urgent).order_by(ProposalRow.id))
        qtys = [(q, u) for q, u in proposals]
    assert qtys[0] == (55, False) and (20, True) in qtys
    assert after_receipt == 100
    assert statement is not None
    [line] = statement.statement.lines
    figures = (line.settlement.qty, line.settlement.amount, line.month.aged)
    assert figures == (85, Decimal("1062.50"), 5)
    deadline = time.monotonic() + 30
    while not any("1,062.50" in s.text for s in bot.fake.shown if s.chat == GROUP_CHAT):
        assert time.monotonic() < deadline, "the group never heard the statement"
        time.sleep(0.05)
    with transaction(bot.runtime.engine) as s:
        signed = s.execute(select(StatementRow.state, StatementRow.buyer_by,
                                  StatementRow.supplier_by)).one()  # fmt: skip
    assert tuple(signed) == ("locked", "王采购", "李供应")


def test_callbacks_read_as_wecom_sends_them() -> None:
    now = T0
    group = {"msgid": "g9", "aibotid": BOT_ID, "chatid": GROUP, "chattype": "group",
             "from": {"userid": KEEPER}, "create_time": int(T0.timestamp() * 1000),
             "msgtype": "text", "text": {"content": " @VMI助手  6205 库存 45"}}  # fmt: skip
    said = message_to_incoming(group, now)
    assert said is not None and said.chat == GROUP_CHAT and not said.direct
    # the mention goes; milliseconds are read as such, not as a far future
    assert said.text == "6205 库存 45"
    assert said.at == T0 and not said.time_doubted and said.message_id == "msg:g9"
    picture = {**group, "chattype": "single", "msgtype": "image", "image": {"url": "u"}}
    pictured = message_to_incoming(picture, now)
    assert pictured is not None and pictured.text == "" and pictured.chat == KEEPER
    assert message_to_incoming({**group, "from": {}}, now) is None
    assert message_to_incoming({**group, "chatid": ""}, now) is None
    foreign = {**group, "msgtype": "event", "event": {"eventtype": "template_card_event",
               "template_card_event": {"event_key": "not-ours", "task_id": "t"}}}  # fmt: skip
    assert click_to_incoming(foreign, "req-1", now) is None
