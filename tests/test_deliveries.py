"""Deliveries as they really happen, through the conversation on a real SQLite file, in Chinese
and English: shipped in parts, a new ETA, declined, cancelled, rejected with a reason, and a
review that does not ask the buyer the same question again."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.app.bootstrap import start
from bot.runtime.context import Runtime
from bot.services.status import status
from bot.storage.db import transaction
from bot.storage.tables import ProposalRow
from tests.group_chat import T0, posted, say, text_of
from tests.support import DATA, EXAMPLE, shanghai


def proposals(rt: Runtime) -> list[tuple[int, int, str, int, int, str | None, str]]:
    """Each stored proposal: id, qty, state, shipped, received, ETA, reason."""
    with transaction(rt.engine, read_only=True) as s:
        return [
            (p.id or 0, p.qty, p.state, p.shipped_qty, p.received_qty,
             p.eta.isoformat() if p.eta else None, p.reject_reason)
            for p in s.scalars(select(ProposalRow).order_by(ProposalRow.id))
        ]  # fmt: skip


def item_status(rt: Runtime, at: datetime = T0) -> dict[str, Any]:
    with transaction(rt.engine, read_only=True) as s:
        return status(s, rt.config, at)["agreements"][0]["items"][0]  # type: ignore[no-any-return]


def confirmed_80(rt: Runtime) -> None:
    """On hand 20: the review proposes 80 (to max 100), and the buyer confirms it."""
    say(rt, "keeper", "6205 库存 20")
    say(rt, "supplier", "检查")
    say(rt, "buyer", "确认 P1")


# --- 1. part shipments ----------------------------------------------------------------------


def test_a_part_shipment_is_recorded_and_shown_everywhere_and_the_rest_follows(
    rt: Runtime,
) -> None:
    confirmed_80(rt)
    part = say(rt, "supplier", "发货 P1 40")
    assert part.title == "已发货 P1 · 李供应"
    assert "本次发货 40 件，已发 40 / 80 件，还有 40 件待发" in part.lines
    assert "已发 40 件，还有 40 件待发" in text_of(say(rt, "buyer", "状态"))
    history = say(rt, "keeper", "P1")
    assert history.title == "P1 · 已发货"
    assert history.lines[0] == "6205 深沟球轴承 80 件，已发 40 件，还有 40 件待发"
    assert history.lines[-1].endswith("李供应 发货 40 件")
    [p1] = item_status(rt)["open_proposals"]
    assert (p1["state"], p1["shipped_qty"], p1["received_qty"]) == ("shipped", 40, 0)
    assert (item_status(rt)["position"], item_status(rt)["in_transit"]) == (100, 80)
    assert "P1 待发货：6205 深沟球轴承 80 件（已发 40，还有 40 待发）" in text_of(
        say(rt, "supplier", "待办")
    )  # the rest is still theirs
    assert "P1 待入库" in text_of(say(rt, "keeper", "待办"))  # and the first part the keeper's

    got = say(rt, "keeper", "入库 P1")  # what was shipped, not all 80
    assert "本次入库 40 件，现有 60 件，还有 40 件在途" in got.lines
    too_much = say(rt, "supplier", "发货 P1 50")
    assert too_much.title == "发货数量超过待发"
    assert "P1 还有 40 件待发，不能发 50 件。什么都没有改变。" in too_much.lines[0]
    rest = say(rt, "supplier", "发货 P1 40")
    assert "本次发货 40 件，80 件已全部发出" in rest.lines
    assert say(rt, "supplier", "发货 P1").title == "已经处理过了"
    say(rt, "keeper", "入库 P1")
    assert proposals(rt) == [(1, 80, "received", 80, 80, None, "")]
    assert item_status(rt)["on_hand"] == 100


def test_a_part_shipment_in_english(rt_en: Runtime) -> None:
    confirmed_80(rt_en)
    part = say(rt_en, "supplier", "shipped P1 30")
    assert part.title == "Shipped P1 · 李供应"
    assert "Shipped 30 pcs now, 30 of 80 pcs so far, 50 pcs still to ship" in part.lines
    assert "30 pcs shipped, 50 pcs still to ship" in text_of(say(rt_en, "buyer", "status"))
    assert item_status(rt_en)["open_proposals"][0]["shipped_qty"] == 30


# --- 2. a new ETA ---------------------------------------------------------------------------


def test_the_supplier_moves_the_eta_and_a_past_day_is_refused(rt: Runtime) -> None:
    confirmed_80(rt)
    say(rt, "supplier", "发货 P1 预计 11-24")
    moved = say(rt, "supplier", "P1 预计 11-26")
    assert moved.title == "到货日期已更新 P1 · 李供应"
    assert "预计到货改为 2026-11-26（原 2026-11-24）" in moved.lines
    past = say(rt, "supplier", "P1 预计 11-20")
    assert past.title == "这个日期已经过去了"
    assert past.lines[0].startswith("2026-11-20 已经过去了")
    assert "可以这样写：P1 预计 12-05" in past.lines
    assert proposals(rt)[0][5] == "2026-11-26"  # nothing changed
    again = say(rt, "supplier", "发货 P1 明天")  # all shipped: a new ETA, not "already"
    assert "预计到货改为 2026-11-22（原 2026-11-26）" in again.lines
    steps = say(rt, "keeper", "P1").lines
    assert steps[-2:] == (
        "11-21 10:00 李供应 改预计到货 11-26",
        "11-21 10:00 李供应 改预计到货 11-22",
    )
    assert item_status(rt)["open_proposals"][0]["eta"] == "2026-11-22"
    assert say(rt, "buyer", "P1 预计 11-30").title == "你的角色不能做这一步"


def test_a_new_eta_in_english(rt_en: Runtime) -> None:
    confirmed_80(rt_en)
    say(rt_en, "supplier", "shipped P1")
    moved = say(rt_en, "supplier", "P1 eta 12-05")
    assert moved.title == "New ETA for P1 · 李供应"
    assert "Now expected 2026-12-05" in moved.lines
    past = say(rt_en, "supplier", "P1 eta 11-01", at=shanghai(2026, 11, 21, 23, 59))
    assert past.title == "That day has passed"
    assert proposals(rt_en)[0][5] == "2026-12-05"


# --- 3. the supplier declines ---------------------------------------------------------------


def test_the_supplier_declines_with_a_reason_and_both_sides_are_told(rt: Runtime) -> None:
    say(rt, "keeper", "6205 库存 20")
    say(rt, "supplier", "检查")
    asked = posted(rt, "supplier", "无法供货 P1", chat="supplier")
    assert [card.title for _, card in asked] == ["请写上原因"]
    assert "可以这样写：无法供货 P1 原材料缺货" in asked[0][1].lines
    cards = posted(rt, "supplier", "无法供货 P1 原材料缺货", chat="supplier")
    assert {(chat, card.title) for chat, card in cards} == {
        ("supplier", "无法供货 P1 · 李供应"),
        ("plant-6205", "无法供货 P1 · 李供应"),  # the buyer hears of it in the group
    }
    assert all("供应商无法供货，原因：原材料缺货" in card.lines for _, card in cards)
    assert proposals(rt) == [(1, 80, "declined", 0, 0, None, "原材料缺货")]
    assert item_status(rt)["open_proposals"] == []
    assert "无法供货（原材料缺货）" in say(rt, "buyer", "P1").lines[-1]


def test_a_confirmed_proposal_may_be_declined_but_not_once_part_is_shipped(
    rt_en: Runtime,
) -> None:
    confirmed_80(rt_en)
    say(rt_en, "supplier", "shipped P1 10")
    late = say(rt_en, "supplier", "decline P1 no raw material")
    assert late.title == "Not possible now"
    assert proposals(rt_en)[0][2] == "shipped"


def test_the_supplier_declines_in_english(rt_en: Runtime) -> None:
    confirmed_80(rt_en)
    declined = say(rt_en, "supplier", "decline P1 no raw material")
    assert declined.title == "Declined P1 · 李供应"
    assert "The supplier cannot supply it. Reason: no raw material" in declined.lines
    assert proposals(rt_en)[0][2:] == ("declined", 0, 0, None, "no raw material")


# --- 4. the buyer cancels -------------------------------------------------------------------


def test_the_buyer_cancels_a_confirmed_proposal_and_取消_still_rejects_a_proposed_one(
    rt: Runtime,
) -> None:
    confirmed_80(rt)
    cancelled = posted(rt, "buyer", "取消 P1 产线停了", chat="buyer")
    assert {(chat, card.title) for chat, card in cancelled} == {
        ("buyer", "已取消 P1 · 王采购"),
        ("plant-6205", "已取消 P1 · 王采购"),  # the supplier hears of it in the group
    }
    assert "采购取消了这次补货，原因：产线停了" in cancelled[0][1].lines
    assert proposals(rt) == [(1, 80, "cancelled", 0, 0, None, "产线停了")]
    say(rt, "supplier", "检查", at=shanghai(2026, 11, 21, 11))
    rejected = say(rt, "buyer", "取消 P2 库存够用")  # P2 is only proposed: 取消 rejects it
    assert rejected.title == "已拒绝 P2 · 王采购"
    assert proposals(rt)[1][2] == "rejected"


def test_a_shipped_proposal_cannot_be_cancelled(rt_en: Runtime) -> None:
    confirmed_80(rt_en)
    say(rt_en, "supplier", "shipped P1 40")
    refused = say(rt_en, "buyer", "cancel P1 line stopped")
    assert refused.title == "Not possible now"
    assert "P1 is shipped now, so you cannot cancel it." in text_of(refused)
    assert say(rt_en, "buyer", "cancel P1").title == "Not possible now"  # state first
    assert proposals(rt_en)[0][2] == "shipped"


def test_the_buyer_cancels_in_english(rt_en: Runtime) -> None:
    confirmed_80(rt_en)
    assert say(rt_en, "buyer", "cancel P1").title == "Please give a reason"
    done = say(rt_en, "buyer", "cancel P1 line stopped")
    assert done.title == "Cancelled P1 · 王采购"
    assert "The buyer cancelled it. Reason: line stopped" in done.lines
    assert proposals(rt_en)[0][2] == "cancelled"


# --- 5 and 6. a rejection needs a reason, and is remembered ---------------------------------


def test_a_rejection_without_a_reason_is_asked_for_one(rt: Runtime) -> None:
    say(rt, "keeper", "6205 库存 45")
    say(rt, "supplier", "检查")
    asked = say(rt, "buyer", "拒绝 P1")
    assert asked.title == "请写上原因"
    assert asked.lines == (
        "拒绝 P1 要写原因，对方才知道为什么、下次怎么改。什么都没有改变。",
        "可以这样写：拒绝 P1 库存够用，下月减产",
    )
    assert proposals(rt)[0][2] == "proposed"


def test_after_a_rejection_the_review_waits_for_a_change_then_says_why_it_asks_again(
    rt: Runtime,
) -> None:
    say(rt, "keeper", "6205 库存 45")
    say(rt, "supplier", "检查")  # P1: 55, the seed's case
    say(rt, "buyer", "拒绝 P1 下月减产")
    review = say(rt, "supplier", "检查", at=shanghai(2026, 11, 21, 10, 5))
    assert (
        "6205：P1 刚被拒绝（下月减产），库存位置没有变化，3 天内不再提出同样的补货" in review.lines
    )
    say(rt, "keeper", "6205 库存 45", at=shanghai(2026, 11, 22, 9))  # the same count again
    say(rt, "supplier", "检查", at=shanghai(2026, 11, 22, 10))
    assert len(proposals(rt)) == 1
    say(rt, "keeper", "领用 6205 5", at=shanghai(2026, 11, 22, 11))  # the position changes
    cards = posted(rt, "supplier", "检查", at=shanghai(2026, 11, 22, 12))
    [card] = [c for _, c in cards if c.title.startswith("补货建议 P2")]
    assert "建议补货 60 件，补到安全线 100 件" in card.lines
    assert "上次 P1 被拒绝：下月减产" in card.lines


def test_a_review_cycle_after_a_rejection_the_same_is_proposed_again_in_english(
    rt_en: Runtime,
) -> None:
    say(rt_en, "keeper", "stock 6205 45")
    say(rt_en, "supplier", "check")
    assert say(rt_en, "buyer", "reject P1").title == "Please give a reason"
    say(rt_en, "buyer", "reject P1 output cut next month")
    held = say(rt_en, "supplier", "check", at=shanghai(2026, 11, 23, 10))
    assert "P1 was just rejected (output cut next month)" in text_of(held)
    cards = posted(rt_en, "supplier", "check", at=shanghai(2026, 11, 24, 10))
    [card] = [c for _, c in cards if c.title.startswith("Replenishment proposal P2")]
    assert "P1 was rejected before: output cut next month" in card.lines
    assert proposals(rt_en)[1][1:3] == (55, "proposed")


# --- the upgrade ----------------------------------------------------------------------------


def test_a_proposal_shipped_before_the_upgrade_counts_as_shipped_whole(tmp_path: Path) -> None:
    """tests/data/db_before_layout.sql holds P1 55 proposed; ship it in the old schema."""
    path = tmp_path / "vmi.sqlite"
    with sqlite3.connect(path) as old:
        old.executescript((DATA / "db_before_layout.sql").read_text(encoding="utf-8"))
        old.execute("UPDATE proposal SET state = 'shipped'")
    rt = start(str(EXAMPLE), f"sqlite:///{path}")
    try:
        [p1] = item_status(rt)["open_proposals"]
        assert (p1["state"], p1["qty"], p1["shipped_qty"]) == ("shipped", 55, 55)
        assert say(rt, "supplier", "发货 P1 5").title == "已经处理过了"
        got = say(rt, "keeper", "入库 P1")
        assert "本次入库 55 件，现有 100 件" in got.lines
    finally:
        rt.engine.dispose()
