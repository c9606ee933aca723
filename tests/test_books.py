"""Books both sides can trust, through the conversation on a real SQLite file, in Chinese and
English: undo of receipts, plans and proposal steps, a receipt corrected, a decline the review
remembers, and a buyer told how to turn a proposal down."""

from __future__ import annotations

import itertools
import re
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from bot.app.bootstrap import start
from bot.runtime.context import Runtime
from bot.services.status import status
from bot.storage.db import transaction
from bot.storage.tables import LedgerRow, ProposalRow
from handlers.conversation import handle
from handlers.incoming import Incoming
from tests.group_chat import T0, message_ids, posted, say, text_of
from tests.support import EXAMPLE, shanghai


def proposals(rt: Runtime) -> list[tuple[int, int, str, int, int]]:
    """Each stored proposal: id, qty, state, shipped, received."""
    with transaction(rt.engine, read_only=True) as s:
        return [
            (p.id or 0, p.qty, p.state, p.shipped_qty, p.received_qty)
            for p in s.scalars(select(ProposalRow).order_by(ProposalRow.id))
        ]


def item_status(rt: Runtime, at: datetime = T0) -> dict[str, Any]:
    with transaction(rt.engine, read_only=True) as s:
        return status(s, rt.config, at)["agreements"][0]["items"][0]  # type: ignore[no-any-return]


def ledger(rt: Runtime) -> list[tuple[str, int, int | None]]:
    """Every ledger row: kind, quantity, the row it reverses."""
    with transaction(rt.engine, read_only=True) as s:
        return [
            (r.kind, r.qty, r.reverses_id)
            for r in s.scalars(select(LedgerRow).order_by(LedgerRow.id))
        ]


def minute(n: int) -> datetime:
    return shanghai(2026, 11, 21, 10, n)


def confirmed_80(rt: Runtime) -> None:
    """On hand 20: the review proposes 80 (to max 100), and the buyer confirms it."""
    say(rt, "keeper", "6205 库存 20", at=minute(0))
    say(rt, "supplier", "检查", at=minute(1))
    say(rt, "buyer", "确认 P1", at=minute(2))


# --- a buyer who types "decline" ------------------------------------------------------------


def test_a_buyer_typing_decline_is_told_to_reject_or_cancel_with_the_real_id(rt: Runtime) -> None:
    say(rt, "keeper", "6205 库存 20", at=minute(0))
    say(rt, "supplier", "检查", at=minute(1))
    told = say(rt, "buyer", "无法供货 P1 库存够用", at=minute(2))
    assert told.title == "无法供货是供应商说的"
    assert "P1 还没确认，请写「拒绝 P1 原因」" in told.lines[0]
    assert "可以这样写：拒绝 P1 库存够用" in told.lines
    assert proposals(rt)[0][2] == "proposed"
    say(rt, "buyer", "确认 P1", at=minute(3))
    told = say(rt, "buyer", "无法供货 P1", at=minute(4))
    assert "P1 已确认，请写「取消 P1 原因」" in told.lines[0]
    assert "可以这样写：取消 P1 产线停了" in told.lines
    assert proposals(rt)[0][2] == "confirmed"


def test_a_buyer_typing_decline_in_english(rt_en: Runtime) -> None:
    confirmed_80(rt_en)
    told = say(rt_en, "buyer", "decline P1 line stopped", at=minute(5))
    assert told.title == "Only the supplier declines"
    assert 'P1 is confirmed, so cancel it with "cancel P1 reason"' in told.lines[0]
    assert "cancel P1 line stopped" in text_of(told)
    assert proposals(rt_en)[0][2] == "confirmed"
    assert say(rt_en, "keeper", "decline P1 x", at=minute(6)).title == "Your role cannot do this"


# --- a decline is remembered by the review --------------------------------------------------


def test_after_a_decline_the_review_waits_for_a_change_then_says_it_was_declined(
    rt: Runtime,
) -> None:
    confirmed_80(rt)
    say(rt, "supplier", "无法供货 P1 原材料缺货", at=minute(3))
    review = say(rt, "supplier", "检查", at=minute(4))
    assert "6205：P1 供应商刚说无法供货（原材料缺货），库存位置没有变化" in text_of(review)
    assert len(proposals(rt)) == 1
    say(rt, "keeper", "领用 6205 5", at=minute(5))  # the position changes
    cards = posted(rt, "supplier", "检查", at=minute(6))
    [card] = [c for _, c in cards if c.title.startswith("补货建议 P2")]
    assert "上次 P1 供应商无法供货：原材料缺货" in card.lines


def test_a_review_cycle_after_a_decline_it_is_proposed_again_in_english(rt_en: Runtime) -> None:
    confirmed_80(rt_en)
    say(rt_en, "supplier", "decline P1 no raw material", at=minute(3))
    held = say(rt_en, "supplier", "check", at=shanghai(2026, 11, 23, 10))
    assert "P1 was just declined by the supplier (no raw material)" in text_of(held)
    cards = posted(rt_en, "supplier", "check", at=shanghai(2026, 11, 24, 11))
    [card] = [c for _, c in cards if c.title.startswith("Replenishment proposal P2")]
    assert "P1 was declined by the supplier before: no raw material" in card.lines


# --- undo covers receipts, plans and proposal steps -----------------------------------------


def test_the_keeper_undoes_a_part_receipt_and_the_proposal_is_on_its_way_again(
    rt: Runtime,
) -> None:
    confirmed_80(rt)
    say(rt, "supplier", "发货 P1", at=minute(3))
    say(rt, "keeper", "入库 P1 30", at=minute(4))
    assert proposals(rt) == [(1, 80, "shipped", 80, 30)]
    undone = say(rt, "keeper", "撤销", at=minute(5))
    assert undone.title == "已撤销"
    assert "6205 深沟球轴承：撤销了 P1 入库 30 件" in undone.lines
    assert (
        "P1 回到「已发货」：已收 0 / 80 件，还有 80 件在途。现有 20 件，库存位置 100 件。"
        "原记录还在台账里，标为已撤销。"
    ) in undone.lines
    assert proposals(rt) == [(1, 80, "shipped", 80, 0)]
    assert (item_status(rt)["on_hand"], item_status(rt)["in_transit"]) == (20, 80)
    assert ledger(rt) == [("count", 20, None), ("receipt", 30, None), ("reversal", 30, 2)]
    say(rt, "keeper", "入库 P1", at=minute(6))  # all 80 came after all
    assert proposals(rt) == [(1, 80, "received", 80, 80)]
    say(rt, "keeper", "撤销", at=minute(7))  # a whole receipt: back to shipped
    assert proposals(rt) == [(1, 80, "shipped", 80, 0)]
    again = say(rt, "keeper", "撤销", at=minute(8))  # then the count before it, of today
    assert "撤销了盘点 20 件" in text_of(again)


def test_the_buyer_undoes_a_confirmation_until_the_supplier_ships(rt: Runtime) -> None:
    confirmed_80(rt)
    undone = say(rt, "buyer", "撤销", at=minute(3))
    assert "6205 深沟球轴承：撤销了确认 P1" in undone.lines
    assert undone.lines[1].startswith("P1 回到「待确认」：80 件。")
    assert proposals(rt) == [(1, 80, "proposed", 0, 0)]
    assert say(rt, "buyer", "撤销", at=minute(4)).title == "没有可以撤销的"
    say(rt, "buyer", "调整 P1 60", at=minute(5))
    say(rt, "supplier", "发货 P1 20", at=minute(6))
    late = say(rt, "buyer", "撤销", at=minute(7))
    assert late.title == "对方已经处理了"
    assert "P1 之后 李供应 已经发货（现在是「已发货」）" in late.lines[0]
    assert proposals(rt) == [(1, 60, "shipped", 20, 0)]
    back = say(rt, "supplier", "撤销", at=minute(8))  # the supplier's own shipment, not received
    assert "6205 深沟球轴承：撤销了发货 P1 20 件" in back.lines
    assert back.lines[1].startswith("P1 回到「已确认」：60 件，已发 0 件，还有 60 件待发。")
    assert proposals(rt) == [(1, 60, "confirmed", 0, 0)]
    undo_adjust = say(rt, "buyer", "撤销", at=minute(9))  # now nobody acted on the adjustment
    assert "撤销了调整 P1（80 → 60 件）" in text_of(undo_adjust)
    assert proposals(rt) == [(1, 80, "proposed", 0, 0)]
    history = text_of(say(rt, "buyer", "P1", at=minute(10)))
    assert "11-21 10:03 王采购 撤销了确认" in history
    assert "11-21 10:08 李供应 撤销了发货 20 件" in history


def test_a_shipment_received_can_no_longer_be_undone_in_english(rt_en: Runtime) -> None:
    confirmed_80(rt_en)
    say(rt_en, "supplier", "shipped P1", at=minute(3))
    say(rt_en, "keeper", "received P1 50", at=minute(4))
    late = say(rt_en, "supplier", "undo", at=minute(5))
    assert late.title == "The other side acted on it"
    assert "王仓管 has acted on P1 since your step (receive; it is shipped now)" in text_of(late)
    undone = say(rt_en, "keeper", "undo", at=minute(6))
    assert "6205 deep groove ball bearing: took back the receipt of 50 pcs for P1" in undone.lines
    assert "P1 is shipped again: 0 of 80 pcs received, 80 pcs on the way." in text_of(undone)
    back = say(rt_en, "supplier", "undo", at=minute(7))
    assert "took back the shipment of P1 (80 pcs)" in text_of(back)
    assert proposals(rt_en) == [(1, 80, "confirmed", 0, 0)]


def test_a_rejection_is_undone_and_the_proposal_waits_for_an_answer_again(rt_en: Runtime) -> None:
    say(rt_en, "keeper", "stock 6205 45", at=minute(0))
    say(rt_en, "supplier", "check", at=minute(1))
    say(rt_en, "buyer", "reject P1 output cut", at=minute(2))
    undone = say(rt_en, "buyer", "undo", at=minute(3))
    assert "6205 deep groove ball bearing: took back the rejection of P1" in undone.lines
    assert proposals(rt_en) == [(1, 55, "proposed", 0, 0)]
    assert item_status(rt_en)["position"] == 100


def test_the_buyer_undoes_a_plan_and_the_one_before_comes_back(rt: Runtime) -> None:
    say(rt, "buyer", "下月 6205 需求 90", at=minute(0))
    say(rt, "buyer", "下月 6205 需求 120", at=minute(1))
    undone = say(rt, "buyer", "撤销", at=minute(2))
    assert "6205 深沟球轴承：撤销了 2026-12 的需求计划 120 件，恢复为 90 件" in undone.lines
    assert item_status(rt)["demand_plans"] == [{"period": "2026-12", "qty": 90}]
    undone = say(rt, "buyer", "撤销", at=minute(3))
    assert "撤销了 2026-12 的需求计划 90 件，2026-12 现在没有计划" in undone.lines[0]
    assert item_status(rt)["demand_plans"] == []
    assert say(rt, "buyer", "撤销", at=minute(4)).title == "没有可以撤销的"


def test_a_plan_undone_in_english_and_only_the_latest_entry_across_kinds(rt_en: Runtime) -> None:
    say(rt_en, "buyer", "plan next month 6205 90", at=minute(0))
    say(rt_en, "keeper", "stock 6205 45", at=minute(1))
    say(rt_en, "supplier", "check", at=minute(2))
    say(rt_en, "buyer", "confirm P1", at=minute(3))
    first = say(rt_en, "buyer", "undo", at=minute(4))  # the confirmation was said last
    assert "took back the confirmation of P1" in text_of(first)
    second = say(rt_en, "buyer", "undo", at=minute(5))
    assert "took back the demand plan of 90 pcs for 2026-12; 2026-12 has no plan now" in text_of(
        second
    )
    assert item_status(rt_en)["demand_plans"] == []
    next_day = say(rt_en, "buyer", "undo", at=shanghai(2026, 11, 22, 9))
    assert next_day.title == "Nothing to undo"


# --- a receipt typed wrong, corrected -------------------------------------------------------


def test_the_keeper_corrects_a_receipt_and_received_and_outstanding_follow(rt: Runtime) -> None:
    confirmed_80(rt)
    say(rt, "supplier", "发货 P1", at=minute(3))
    say(rt, "keeper", "入库 P1 30", at=minute(4))
    say(rt, "keeper", "领用 6205 5", at=minute(5))  # a withdrawal since does not stop it
    fixed = say(rt, "keeper", "更正入库 P1 25", at=minute(6))
    assert fixed.title == "已更正入库 P1 · 王仓管"
    assert "入库更正：30 → 25 件（原记录还在台账里，标为已更正）" in fixed.lines
    assert "P1 已收 25 / 80 件，还有 55 件在途，现在「已发货」" in fixed.lines
    assert proposals(rt) == [(1, 80, "shipped", 80, 25)]
    assert (item_status(rt)["on_hand"], item_status(rt)["position"]) == (40, 95)
    assert ledger(rt)[-2:] == [("reversal", 30, 2), ("receipt", 25, None)]
    assert "更正入库 30 -> 25 件" in text_of(say(rt, "keeper", "P1", at=minute(7)))
    too_many = say(rt, "keeper", "更正入库 P1 90", at=minute(8))
    assert too_many.title == "入库数量超过订购"
    assert (
        "P1 订购 80 件，其他入库已有 0 件，更正为 90 件会超过订购数（最多 80 件）"
        in (too_many.lines[0])
    )
    assert proposals(rt) == [(1, 80, "shipped", 80, 25)]
    say(rt, "keeper", "入库 P1", at=minute(9))  # the rest: 55
    whole = say(rt, "keeper", "更正入库 P1 50", at=minute(10))  # that last one was 50
    assert "P1 已收 75 / 80 件，还有 5 件在途，现在「已发货」" in whole.lines
    assert proposals(rt) == [(1, 80, "shipped", 80, 75)]


def test_a_receipt_correction_is_refused_with_nothing_received_a_count_since_or_another_agreement(
    rt: Runtime,
) -> None:
    confirmed_80(rt)
    nothing = say(rt, "keeper", "更正入库 P1 25", at=minute(3))
    assert nothing.title == "还没有入库"
    assert "可以这样写：入库 P1" in nothing.lines
    say(rt, "keeper", "入库 P1 30", at=minute(4))
    say(rt, "keeper", "6205 库存 48", at=minute(5))
    counted = say(rt, "keeper", "更正入库 P1 25", at=minute(6))
    assert counted.title == "入库之后已盘点"
    assert proposals(rt) == [(1, 80, "confirmed", 0, 30)]
    assert say(rt, "keeper", "更正入库 P9 25", at=minute(7)).title == "没有这个补货建议"
    assert say(rt, "buyer", "更正入库 P1 25", at=minute(8)).title == "你的角色不能做这一步"
    assert say(rt, "keeper", "更正入库 P1", at=minute(9)).title == "还差一点信息"


def test_a_receipt_corrected_in_english_and_the_proposal_reopens(rt_en: Runtime) -> None:
    confirmed_80(rt_en)
    say(rt_en, "keeper", "received P1", at=minute(3))  # typed when only 60 came
    assert proposals(rt_en)[0][2] == "received"
    fixed = say(rt_en, "keeper", "correct receipt P1 60", at=minute(4))
    assert fixed.title == "Receipt corrected for P1 · 王仓管"
    assert "Receipt corrected: 80 → 60 pcs (the wrong entry stays in the ledger" in text_of(fixed)
    # received whole counted as shipped whole (suppliers forget to click): the rest is on its way
    assert "P1: 60 of 80 pcs received, 20 pcs still in transit; it is shipped now" in fixed.lines
    assert proposals(rt_en) == [(1, 80, "shipped", 80, 60)]
    assert (item_status(rt_en)["on_hand"], item_status(rt_en)["in_transit"]) == (80, 20)
    undone = say(rt_en, "keeper", "undo", at=minute(5))  # the corrected receipt goes whole
    assert "took back the receipt of 60 pcs for P1" in text_of(undone)
    assert proposals(rt_en) == [(1, 80, "shipped", 80, 0)]


# --- through `vmi-bot chat` -----------------------------------------------------------------

VMI_BOT = str(Path(sys.executable).with_name("vmi-bot"))


def chat(tmp_path: Path, lines: list[str], config: Path = EXAMPLE) -> str:
    """The console chat through a pipe, as a user types, at a fixed time."""
    done = subprocess.run(
        [VMI_BOT, "--config", str(config), "--db", f"sqlite:///{tmp_path / 'chat.sqlite'}",
         "chat", "--as", "keeper", "--now", "2026-11-21T10:00:00+08:00"],
        input="\n".join(lines) + "\n", capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_undo_and_a_receipt_correction_through_the_console(tmp_path: Path) -> None:
    out = chat(
        tmp_path,
        [
            "6205 库存 20",
            "/as supplier", "检查",
            "/as buyer", "确认 P1", "下月 6205 需求 90", "撤销", "撤销",
            "无法供货 P1", "确认 P1",
            "/as supplier", "发货 P1",
            "/as keeper", "入库 P1 30", "更正入库 P1 25", "撤销", "状态",
        ],
    )  # fmt: skip
    assert "撤销了 2026-12 的需求计划 90 件，2026-12 现在没有计划" in out
    assert "撤销了确认 P1" in out
    assert "P1 回到「待确认」：80 件。" in out
    assert "P1 还没确认，请写「拒绝 P1 原因」" in out
    assert "入库更正：30 → 25 件" in out
    assert "撤销了 P1 入库 25 件" in out
    assert "P1 回到「已发货」：已收 0 / 80 件，还有 80 件在途。现有 20 件" in out


def test_undo_and_a_receipt_correction_in_english_through_the_console(tmp_path: Path) -> None:
    english = tmp_path / "en.toml"
    english.write_text(
        EXAMPLE.read_text(encoding="utf-8").replace('locale = "zh"', 'locale = "en"', 1),
        encoding="utf-8",
    )
    out = chat(
        tmp_path,
        [
            "stock 6205 20",
            "/as supplier", "check",
            "/as buyer", "decline P1", "adjust P1 60", "undo",
            "/as keeper", "correct receipt P1 10",
        ],
        config=english,
    )  # fmt: skip
    assert 'P1 is not confirmed yet, so reject it with "reject P1 reason"' in out
    assert "took back the adjustment of P1 (80 → 60 pcs)" in out
    assert "Nothing received yet" in out


# --- English replies are English ------------------------------------------------------------

PEOPLE = ("王仓管", "王采购", "李供应", "管理员", "某汽车零部件厂", "轴承供应商")
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")


def test_english_replies_name_the_item_in_english_with_english_units(rt_en: Runtime) -> None:
    cards = []
    steps = [
        ("keeper", "stock 6205 20"), ("supplier", "check"), ("buyer", "pending"),
        ("buyer", "confirm P1"), ("supplier", "shipped P1 30"), ("keeper", "received P1 20"),
        ("keeper", "used 6205 5"), ("buyer", "plan next month 6205 90"),
        ("buyer", "urgent 6205 next month 200"), ("keeper", "status"), ("keeper", "pending"),
        ("buyer", "P1 status"), ("keeper", "used 6205 500"), ("keeper", "stock 6209 4"),
        ("supplier", "decline P1 x"), ("keeper", "undo"), ("keeper", "correct receipt P1 90"),
    ]  # fmt: skip
    for n, (who, text) in enumerate(steps):
        cards += [card for _, card in posted(rt_en, who, text, at=minute(n))]
    said = "\n".join(text_of(card) for card in cards)
    for name in PEOPLE:
        said = said.replace(name, "")
    assert CJK.findall(said) == []
    assert "6205 deep groove ball bearing" in said and "80 pcs" in said
    with transaction(rt_en.engine, read_only=True) as s:
        document = status(s, rt_en.config, minute(30))
    item = document["agreements"][0]["items"][0]
    assert (item["name"], item["name_en"]) == ("6205 深沟球轴承", "6205 deep groove ball bearing")


def test_a_unit_in_english_words_and_an_item_without_an_english_name(tmp_path: Path) -> None:
    config = tmp_path / "boxes.toml"
    config.write_text(
        EXAMPLE.read_text(encoding="utf-8")
        .replace('locale = "zh"', 'locale = "en"', 1)
        .replace('unit = "件"', 'unit = "箱"', 1)
        .replace('name_en = "6205 deep groove ball bearing"', "", 1),
        encoding="utf-8",
    )
    rt = start(str(config), f"sqlite:///{tmp_path / 'boxes.sqlite'}")
    counted = say(rt, "keeper", "stock 6205 20", at=minute(0))
    assert "6205 深沟球轴承: counted 20 boxes, on hand 20 boxes (min 50 / max 100)" in counted.lines
    assert "counted 20 个" not in text_of(counted)
    zh = say(rt, "keeper", "6205 库存 21", at=minute(1))  # written in Chinese: answered so
    assert "21 箱" in text_of(zh)


# --- a property: whatever is typed and put right, the book bills what truly left -------------

BOOK_STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("use"), st.integers(1, 15)),  # posted: 领用 6205 n
        st.tuples(st.just("unposted"), st.integers(1, 15)),  # taken, found by the next count
        st.tuples(st.just("count"), st.just(0)),
        st.tuples(st.just("typo_corrected"), st.integers(0, 2_000)),
        st.tuples(st.just("typo_undone"), st.integers(0, 2_000)),
        st.tuples(st.just("receive"), st.integers(1, 30)),  # 入库 P1 n, as it came
        st.tuples(st.just("receipt_corrected"), st.integers(1, 30)),  # typed wrong, 更正入库
        st.tuples(st.just("receipt_undone"), st.integers(1, 30)),  # nothing came: 撤销
        st.tuples(st.just("use_undone"), st.integers(1, 15)),  # 领用 typed for nothing: 撤销
    ),
    max_size=12,
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=BOOK_STEPS)
def test_counts_receipts_corrections_and_undos_leave_exactly_the_true_withdrawals_billed(
    tmp_path_factory: pytest.TempPathFactory, steps: list[tuple[str, int]]
) -> None:
    folder = tmp_path_factory.mktemp("books")
    books = start(str(EXAMPLE), f"sqlite:///{folder / 'vmi.sqlite'}")
    clock = itertools.count()

    def typed(who: str, text: str) -> None:
        at = T0 + timedelta(minutes=next(clock))
        said = Incoming("console", "plant-6205", who, f"p{next(message_ids)}", at, text)
        handle(books.engine, books.config, said)

    shelf, taken, received = 20, 0, 0
    typed("keeper", f"6205 库存 {shelf}")
    typed("supplier", "检查")  # P1: 80, to max 100
    typed("buyer", "确认 P1")
    typed("supplier", "发货 P1")
    for step, n in steps:
        room = 80 - received  # what P1 may still take in
        if step == "use" and n <= shelf:
            shelf, taken = shelf - n, taken + n
            typed("keeper", f"领用 6205 {n}")
        elif step == "unposted" and n <= shelf:
            shelf, taken = shelf - n, taken + n
        elif step == "count":
            typed("keeper", f"6205 库存 {shelf}")
            typed("keeper", "是")  # a true count held as unusual is confirmed
        elif step == "typo_corrected":
            typed("keeper", f"6205 库存 {n}")
            typed("keeper", f"更正 6205 {shelf}")
        elif step == "typo_undone":
            typed("keeper", f"6205 库存 {n}")
            typed("keeper", "撤销")
        elif step == "receive" and n <= room:
            shelf, received = shelf + n, received + n
            typed("keeper", f"入库 P1 {n}")
        elif step == "receipt_corrected" and n < room:
            shelf, received = shelf + n, received + n
            typed("keeper", f"入库 P1 {n + 1}")  # one more than came
            typed("keeper", f"更正入库 P1 {n}")
        elif step == "receipt_undone" and n <= room:
            typed("keeper", f"入库 P1 {n}")
            typed("keeper", "撤销")
        elif step == "use_undone" and n <= shelf:
            typed("keeper", f"领用 6205 {n}")
            typed("keeper", "撤销")
    typed("keeper", f"6205 库存 {shelf}")  # the day ends with a true count
    typed("keeper", "是")
    with transaction(books.engine, read_only=True) as s:
        later = T0 + timedelta(minutes=next(clock))
        document = status(s, books.config, later)
        p1 = s.get(ProposalRow, 1)
        assert p1 is not None and p1.received_qty == received
    books.engine.dispose()
    [item] = document["agreements"][0]["items"]
    assert (item["on_hand"], item["billable_qty"]) == (shelf, taken)


def test_an_urgent_change_is_not_undone_by_undo(rt: Runtime) -> None:
    say(rt, "keeper", "6205 库存 45", at=minute(0))
    say(rt, "buyer", "下月 6205 需求 90", at=minute(1))
    say(rt, "buyer", "紧急 6205 下月需求改为 120", at=minute(2))
    refused = say(rt, "buyer", "撤销", at=minute(3))
    assert refused.title == "紧急变更不能撤销"
    assert item_status(rt)["demand_plans"] == [{"period": "2026-12", "qty": 120}]


def test_undo_and_a_receipt_correction_on_both_databases(runtime: Runtime) -> None:
    """The same steps on SQLite and on PostgreSQL (with TEST_DATABASE_URL)."""
    confirmed_80(runtime)
    say(runtime, "buyer", "下月 6205 需求 90", at=minute(3))
    say(runtime, "buyer", "下月 6205 需求 100", at=minute(4))
    assert "恢复为 90 件" in text_of(say(runtime, "buyer", "撤销", at=minute(5)))
    say(runtime, "supplier", "发货 P1", at=minute(6))
    say(runtime, "keeper", "入库 P1 30", at=minute(7))
    assert "入库更正：30 → 25 件" in text_of(say(runtime, "keeper", "更正入库 P1 25", at=minute(8)))
    assert "撤销了 P1 入库 25 件" in text_of(say(runtime, "keeper", "撤销", at=minute(9)))
    assert "撤销了发货 P1 80 件" in text_of(say(runtime, "supplier", "撤销", at=minute(10)))
    assert proposals(runtime) == [(1, 80, "confirmed", 0, 0)]
    assert item_status(runtime)["demand_plans"] == [{"period": "2026-12", "qty": 90}]


def test_help_tells_every_role_how_to_undo_and_the_keeper_how_to_correct_a_receipt(
    rt: Runtime,
) -> None:
    assert "撤销今天自己的上一条（盘点、领用、入库、计划或补货的一步）：「撤销」" in (
        say(rt, "buyer", "帮助").lines
    )
    assert "数量输错「更正入库 P1 25」" in text_of(say(rt, "keeper", "帮助"))
    assert 'typed wrong "correct receipt P1 25"' in text_of(say(rt, "keeper", "help"))


def test_undo_takes_the_receipt_said_after_a_count_still_held(rt: Runtime) -> None:
    confirmed_80(rt)
    say(rt, "keeper", "6205 库存 2", at=minute(3))  # 20 -> 2: held as mistyped
    say(rt, "keeper", "入库 P1 30", at=minute(4))
    undone = say(rt, "keeper", "撤销", at=minute(5))
    assert "6205 深沟球轴承：撤销了 P1 入库 30 件" in undone.lines
    held = say(rt, "keeper", "撤销", at=minute(6))  # then the held count
    assert "撤销了待确认的盘点 2 件" in text_of(held)


def test_a_step_undone_in_a_private_chat_is_told_to_the_group(rt: Runtime) -> None:
    confirmed_80(rt)
    cards = posted(rt, "buyer", "撤销", at=minute(3), chat="buyer")
    assert {(chat, card.title) for chat, card in cards} == {
        ("buyer", "已撤销"),
        ("plant-6205", "已撤销 · 王采购"),  # the supplier hears the confirmation is taken back
    }
    plan = posted(rt, "buyer", "下月 6205 需求 90", at=minute(4), chat="buyer")
    assert [chat for chat, _ in plan] == ["buyer"]
    assert [chat for chat, _ in posted(rt, "buyer", "撤销", at=minute(5), chat="buyer")] == [
        "buyer"
    ]  # a plan is the buyer's own business


def test_a_rejection_is_not_undone_once_the_review_proposed_again(rt_en: Runtime) -> None:
    say(rt_en, "keeper", "stock 6205 45", at=minute(0))
    say(rt_en, "supplier", "check", at=minute(1))
    say(rt_en, "buyer", "reject P1 output cut", at=minute(2))
    say(rt_en, "keeper", "used 6205 5", at=minute(3))  # the position changes
    say(rt_en, "supplier", "check", at=minute(4))  # P2
    refused = say(rt_en, "buyer", "undo", at=minute(5))
    assert refused.title == "There is a new proposal"
    assert "Since P1 was rejected the review proposed P2" in refused.lines[0]
    assert [p[2] for p in proposals(rt_en)] == ["rejected", "proposed"]


def test_vmi_bot_check_in_english_says_units_in_english(tmp_path: Path) -> None:
    english = tmp_path / "en.toml"
    english.write_text(
        EXAMPLE.read_text(encoding="utf-8").replace('locale = "zh"', 'locale = "en"', 1),
        encoding="utf-8",
    )
    chat(tmp_path, ["stock 6205 45"], config=english)
    done = subprocess.run(
        [VMI_BOT, "--config", str(english), "--db", f"sqlite:///{tmp_path / 'chat.sqlite'}",
         "check", "--now", "2026-11-21T10:05:00+08:00"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "plant-6205 6205: proposed P1 55 pcs (position 45 < min 50)" in done.stdout


def test_a_receipt_of_another_agreements_proposal_is_not_corrected_here(tmp_path: Path) -> None:
    second = tmp_path / "two-agreements.toml"
    second.write_text(
        EXAMPLE.read_text(encoding="utf-8")
        + '\n[[agreements]]\nid = "plant-6301"\ncustomer = "plant"\nsupplier = "bearing-co"\n'
        '\n[[agreements.items]]\nsku = "6301"\nname = "6301 轴承"\nmin = 10\nmax = 40\n'
        "unit_price = 9.8\n",
        encoding="utf-8",
    )
    rt2 = start(str(second), f"sqlite:///{tmp_path / 'two.sqlite'}")
    posted(rt2, "keeper", "6301 库存 5", at=minute(0), chat="plant-6301")
    posted(rt2, "supplier", "检查", at=minute(1), chat="plant-6301")  # P1: 35 of 6301
    posted(rt2, "buyer", "确认 P1", at=minute(2), chat="plant-6301")
    posted(rt2, "keeper", "入库 P1 30", at=minute(3), chat="plant-6301")
    [(_, refused)] = posted(rt2, "keeper", "更正入库 P1 20", at=minute(4), chat="plant-6205")
    assert refused.title == "没有这个补货建议" and refused.refusal
    assert proposals(rt2) == [(1, 35, "confirmed", 0, 30)]


def test_a_stock_out_count_undone_withdraws_the_proposal_it_raised(rt: Runtime) -> None:
    say(rt, "keeper", "6205 库存 100")
    say(rt, "keeper", "6205 库存 0", T0 + timedelta(minutes=1))  # a stock-out reviews at once
    assert [(p[1], p[2]) for p in proposals(rt)] == [(100, "proposed")]
    undone = text_of(say(rt, "keeper", "撤销", T0 + timedelta(minutes=2)))
    assert "由它引起的补货建议 P1（100 件）" in undone and "已一并撤回" in undone
    assert [(p[1], p[2]) for p in proposals(rt)] == [(100, "expired")]
    assert item_status(rt, T0 + timedelta(minutes=3))["position"] == 100
    refused = text_of(say(rt, "buyer", "确认 P1", T0 + timedelta(minutes=4)))
    assert "已过期" in refused  # the card's button confirms nothing now


def test_a_proposal_already_answered_stays_when_the_count_that_raised_it_is_undone(
    rt_en: Runtime,
) -> None:
    say(rt_en, "keeper", "stock 6205 100")
    say(rt_en, "keeper", "stock 6205 0", T0 + timedelta(minutes=1))
    say(rt_en, "buyer", "confirm P1", T0 + timedelta(minutes=2))
    undone = text_of(say(rt_en, "keeper", "undo", T0 + timedelta(minutes=3)))
    assert "is withdrawn" not in undone  # the buyer acted on it: it is theirs to cancel
    assert [(p[1], p[2]) for p in proposals(rt_en)] == [(100, "confirmed")]
    say(rt_en, "keeper", "stock 6205 30", T0 + timedelta(minutes=4))  # below min 50 anyway
    say(rt_en, "keeper", "stock 6205 0", T0 + timedelta(minutes=5))
    assert len(proposals(rt_en)) == 1  # P1 covers it: nothing new raised
