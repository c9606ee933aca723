"""DingTalk's interactive cards (互动卡片) end to end, when a card template id is set: proposal
cards made with createAndDeliver on the fake open API, clicks pushed as DingTalk's CALLBACK
frames on the card topic by the fake Stream websocket, and the clicked card updated in place
(PUT instances)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlmodel import col

from bot.adapters.dingtalk.client import DingTalkApi
from bot.adapters.dingtalk.sender import DingTalkSender
from bot.app.bootstrap import start
from bot.runtime.delivery import DeliveryWorker
from bot.services.review import review
from bot.storage.db import transaction
from bot.storage.outbox import Destination, enqueue
from bot.storage.tables import InboxRow, OutboxRow, ProposalRow
from messages.cards import Button, Card
from tests.fake_dingtalk import CLIENT_ID, CLIENT_SECRET, TEMPLATE_ID, Call, FakeDingTalk
from tests.support import shanghai
from tests.test_dingtalk import (  # noqa: F401  (bot and fake: the fixtures)
    ADMIN,
    BUYER,
    DINGTALK,
    GROUP,
    KEEPER,
    T0,
    Bot,
    bot,
    card_of,
    click,
    dingtalk_config,
    fake,
    say,
    to_person,
)

# the bot with the card template's id set (DINGTALK_CARD_TEMPLATE_ID)
carded = pytest.mark.parametrize("bot", [TEMPLATE_ID], indirect=True)


def propose(running: Bot) -> None:
    """The keeper counts 45 and the review proposes P1 of 55, to the group and the deciders;
    the cards are sent and written down as sent (what a click or a resize later changes)."""
    say(running, KEEPER, "6205 库存 45", "count-45")
    with transaction(running.runtime.engine) as s:
        review(s, running.runtime.config, T0, platforms=DINGTALK)
    running.service.delivery.wake()
    sent_all(running)


def sent_all(running: Bot, timeout: float = 30) -> None:
    """Until nothing in the outbox waits: DingTalk may have a card before the bot has written
    down its reference."""
    unsent = select(func.count()).where(col(OutboxRow.state).in_(("pending", "sending")))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with transaction(running.runtime.engine, read_only=True) as s:
            if not s.scalar(unsent):
                return
        time.sleep(0.02)
    raise TimeoutError("the outbox still has messages to send")


def proposal(running: Bot) -> tuple[str, int, str]:
    """P1's state, quantity and who decided it."""
    with transaction(running.runtime.engine) as s:
        state, qty, by = s.execute(
            select(ProposalRow.state, ProposalRow.qty, ProposalRow.decided_by)
        ).one()
    return state, qty, by


def card_updates(api: FakeDingTalk) -> list[Call]:
    """The PUT instances calls, in order."""
    return [c for c in api.calls_to("/v1.0/card/instances") if c.method == "PUT"]


@carded
def test_a_proposal_is_one_interactive_card_per_chat_even_when_its_delivery_is_retried(
    bot: Bot,  # noqa: F811
) -> None:
    # the first card delivered (chats are delivered side by side: any of the three) is made,
    # and its answer lost
    bot.fake.lose_answer_next("createAndDeliver")
    propose(bot)
    group, buyer, admin = (card_of(bot.fake, who, "P1") for who in (GROUP, BUYER, ADMIN))
    calls = bot.fake.wait_for("card/instances/createAndDeliver", 4)
    lost = next(c.body["outTrackId"] for c in calls if c.status == 503)
    tries = [c.status for c in calls if c.body["outTrackId"] == lost]
    assert tries == [503, 200] and len(calls) == 4
    assert len(bot.fake.cards) == 3  # tried twice, made once
    to_group = next(c for c in calls if c.body["outTrackId"] == group.out_track_id)
    assert to_group.body["imGroupOpenDeliverModel"] == {"robotCode": CLIENT_ID}
    assert buyer.space == f"dtv1.card//IM_ROBOT.{BUYER}" and admin.template == TEMPLATE_ID
    shown = group.params
    assert (shown["proposal"], shown["status"], shown["outcome"]) == ("P1@55", "open", "")
    assert (shown["confirm_label"], shown["adjust_label"], shown["reject_label"]) == (
        "确认", "调整", "拒绝",
    )  # fmt: skip
    assert "P1" in shown["title"] and "55" in shown["body"]
    # the buyer's ActionCard is not sent as well
    assert not [c for c in bot.fake.calls_to("batchSend") if "P1" in c.body["msgParam"]]


@carded
def test_a_confirm_click_confirms_and_the_card_shows_it_and_a_second_click_is_already(
    bot: Bot,  # noqa: F811
) -> None:
    propose(bot)
    group, admin = card_of(bot.fake, GROUP, "P1"), card_of(bot.fake, ADMIN, "P1")
    frame = click(bot, group, BUYER, "confirm")
    assert proposal(bot) == ("confirmed", 55, "王采购")
    bot.fake.wait_updated(group)
    assert not group.buttons_shown and "P1" in group.params["outcome"]
    [put] = card_updates(bot.fake)
    assert put.body["outTrackId"] == group.out_track_id
    assert put.body["cardUpdateOptions"] == {"updateCardDataByKey": True}
    # DingTalk missed the ack and sends the same click again: it is stored once
    bot.fake.stream.repeat(frame)
    assert bot.fake.stream.wait_acked(frame, n=2)["code"] == 200
    with transaction(bot.runtime.engine) as s:
        clicks = s.scalar(
            select(func.count())
            .select_from(InboxRow)
            .where(InboxRow.platform_message_id.like("card:%"))  # type: ignore[attr-defined]
        )
    assert clicks == 1
    # the admin presses Confirm on their own card afterwards: answered "already", one to one
    click(bot, admin, ADMIN, "confirm")
    [already] = to_person(bot.fake, ADMIN)
    assert "P1" in already.param["text"] and "不用再操作" in already.param["text"]
    assert proposal(bot) == ("confirmed", 55, "王采购")
    assert len(card_updates(bot.fake)) == 1 and admin.buttons_shown


@carded
def test_adjust_takes_the_quantity_from_the_card_or_asks_for_it(
    bot: Bot,  # noqa: F811
) -> None:
    propose(bot)
    card = card_of(bot.fake, BUYER, "P1")
    click(bot, card, BUYER, "adjust")  # the box left empty
    [ask] = to_person(bot.fake, BUYER)
    assert "调整 P1" in ask.param["text"]
    assert proposal(bot)[:2] == ("proposed", 55) and card.buttons_shown
    click(bot, card, BUYER, "adjust", qty="60")
    assert proposal(bot)[1] == 60
    bot.fake.wait_updated(card)
    assert not card.buttons_shown and "60" in card.params["outcome"]


@carded
def test_a_click_by_someone_who_may_not_is_refused_to_them_and_the_card_stays(
    bot: Bot,  # noqa: F811
) -> None:
    propose(bot)
    group = card_of(bot.fake, GROUP, "P1")
    click(bot, group, KEEPER, "reject")
    refusal = to_person(bot.fake, KEEPER, 2)[-1]  # after the answer to the count
    assert "什么都没有改变" in refusal.param["text"]
    assert proposal(bot)[0] == "proposed" and group.buttons_shown and not card_updates(bot.fake)


@carded
def test_an_expired_token_is_fetched_again_for_the_card_update(
    bot: Bot,  # noqa: F811
) -> None:
    propose(bot)
    card = card_of(bot.fake, BUYER, "P1")
    bot.fake.wait_for("createAndDeliver", 3)  # the group's, the buyer's and the admin's
    before = len(bot.fake.calls)
    bot.fake.expire_tokens()
    click(bot, card, BUYER, "confirm")
    bot.fake.wait_updated(card)
    assert bot.fake.calls[before].status == 401 and card_updates(bot.fake)[-1].status == 200
    assert bot.fake.tokens_issued == 2 and not card.buttons_shown


def test_an_unknown_template_fails_the_card_with_dingtalk_s_reason(
    fake: FakeDingTalk,  # noqa: F811
    tmp_path: Path,
) -> None:
    runtime = start(str(dingtalk_config(tmp_path)), f"sqlite:///{tmp_path / 'vmi.sqlite'}")
    buttons = (Button("确认", "confirm", "P1@55", "primary", "确认 P1"),
               Button("拒绝", "reject", "P1", "danger", "拒绝 P1 原因"))  # fmt: skip
    with transaction(runtime.engine) as s:
        enqueue(s, Destination("dingtalk", BUYER), Card("补货建议 P1", buttons=buttons), T0)
    api = DingTalkApi(CLIENT_ID, CLIENT_SECRET, fake.base_url)
    sender = DingTalkSender(api, CLIENT_ID, runtime.config, fake.base_url,
                            card_template_id="never-built.schema")  # fmt: skip
    DeliveryWorker(runtime.engine, {"dingtalk": sender}).run_once()
    [call] = fake.calls_to("createAndDeliver")
    assert call.status == 400 and call.response["code"] == "param.invalid"
    with transaction(runtime.engine) as s:
        row = s.scalars(select(OutboxRow)).one()
    assert row.state == "failed" and "param.invalid" in row.last_error and not fake.cards
    runtime.engine.dispose()


@carded
def test_reject_takes_the_reason_from_the_card_box(
    bot: Bot,  # noqa: F811
) -> None:
    propose(bot)
    card = card_of(bot.fake, BUYER, "P1")
    click(bot, card, BUYER, "reject", reason="库存够用 <b>下月减产")
    with transaction(bot.runtime.engine) as s:
        state, reason = s.execute(select(ProposalRow.state, ProposalRow.reject_reason)).one()
    assert (state, reason) == ("rejected", "库存够用 <b>下月减产")
    bot.fake.wait_updated(card)
    assert not card.buttons_shown and "＜b＞下月减产" in card.params["outcome"]  # shown as typed


@carded
def test_a_resized_proposal_changes_its_cards_in_place(
    bot: Bot,  # noqa: F811
) -> None:
    propose(bot)
    group = card_of(bot.fake, GROUP, "P1")
    bot.fake.wait_for("createAndDeliver", 3)
    bot.clock.at = shanghai(2026, 11, 24, 8)
    say(bot, KEEPER, "6205 库存 30", "count-30")
    with transaction(bot.runtime.engine) as s:
        review(s, bot.runtime.config, bot.clock.at, platforms=DINGTALK)
    bot.service.delivery.wake()
    bot.fake.wait_updated(group)
    assert group.params["proposal"] == "P1@70" and group.buttons_shown
    assert "70" in group.params["body"] and len(bot.fake.cards) == 3  # no second card
    buyer = bot.fake.wait_updated(card_of(bot.fake, BUYER, "P1"))
    assert buyer.params["proposal"] == "P1@70"


@carded
def test_a_card_dingtalk_will_not_change_gets_its_answer_one_to_one(
    bot: Bot,  # noqa: F811
) -> None:
    propose(bot)
    card = card_of(bot.fake, BUYER, "P1")
    bot.fake.fail_next("card/instances", 400, "param.invalid")  # the card is gone
    click(bot, card, BUYER, "confirm")
    [answer] = to_person(bot.fake, BUYER)
    assert "P1" in answer.param["text"] and proposal(bot)[0] == "confirmed"
    assert card_updates(bot.fake)[0].status == 400 and card.buttons_shown
