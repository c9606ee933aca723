"""The conversation, platform-neutral, on a real SQLite file: repeats change nothing twice,
roles and unknown people are refused, group chit-chat stays unanswered, and text that does not
parse changes no state."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.app.bootstrap import start
from bot.runtime.context import Runtime
from bot.services.settlement import statement
from bot.storage.db import transaction
from bot.storage.tables import DemandPlanRow, LedgerRow, OutboxRow, ProposalRow
from handlers.conversation import handle
from handlers.incoming import ButtonPress, Incoming
from handlers.parsing import Refusal, parse
from messages.cards import Card
from tests.support import EXAMPLE, SHANGHAI, shanghai

T0 = shanghai(2026, 11, 21, 10, 0)
_ids = itertools.count(1)


@pytest.fixture
def rt(tmp_path: Path) -> Runtime:
    return start(str(EXAMPLE), f"sqlite:///{tmp_path / 'vmi.sqlite'}")


def english(tmp_path: Path) -> Runtime:
    """The example agreement with English as the bot's language, on a database of its own."""
    config = tmp_path / "en.toml"
    text = EXAMPLE.read_text(encoding="utf-8").replace('locale = "zh"', 'locale = "en"', 1)
    config.write_text(text, encoding="utf-8")
    return start(str(config), f"sqlite:///{tmp_path / 'en.sqlite'}")


def say(
    rt: Runtime,
    sender: str,
    text: str = "",
    *,
    button: ButtonPress | None = None,
    message_id: str | None = None,
    direct: bool = True,
    addressed: bool = True,
    platform: str = "console",
    chat: str = "plant-6205",
    at: datetime = T0,
) -> list[Card]:
    """One message; the replies it queued."""
    with transaction(rt.engine) as s:
        before = s.scalar(select(func.max(OutboxRow.id))) or 0
    handle(
        rt.engine,
        rt.config,
        Incoming(
            platform=platform,
            chat=chat,
            sender=sender,
            message_id=message_id or f"m{next(_ids)}",
            at=at,
            text=text,
            button=button,
            direct=direct,
            addressed=addressed,
        ),
    )
    with transaction(rt.engine) as s:
        rows = s.scalars(select(OutboxRow).where(OutboxRow.id > before).order_by(OutboxRow.id))
        return [Card.from_json(r.card) for r in rows]


def state(rt: Runtime) -> tuple[int, int, int]:
    """How many ledger rows, proposals and plans there are."""
    with transaction(rt.engine) as s:
        return tuple(  # type: ignore[return-value]
            s.scalar(select(func.count()).select_from(t))
            for t in (LedgerRow, ProposalRow, DemandPlanRow)
        )


def test_the_same_message_delivered_twice_changes_stock_once(rt: Runtime) -> None:
    first = say(rt, "keeper", "6205 库存 45", message_id="slack-Ev1")
    again = say(rt, "keeper", "6205 库存 45", message_id="slack-Ev1")
    assert len(first) == 1 and again == []
    assert state(rt) == (1, 0, 0)


def test_a_double_click_confirms_once_and_answers_already(rt: Runtime) -> None:
    say(rt, "keeper", "6205 库存 45")
    say(rt, "supplier", "检查")
    [done] = say(rt, "buyer", button=ButtonPress("confirm", "P1"))
    [again] = say(rt, "buyer", button=ButtonPress("confirm", "P1"))
    assert done.title == "已确认 P1 · 王采购"
    assert again.title == "已经处理过了" and "王采购" in again.lines[0]


def test_a_keeper_pressing_confirm_is_told_who_may(rt: Runtime) -> None:
    say(rt, "keeper", "6205 库存 45")
    say(rt, "supplier", "检查")
    [refused] = say(rt, "keeper", button=ButtonPress("confirm", "P1"))
    assert "只有采购、管理员可以做" in refused.lines[0]
    with transaction(rt.engine) as s:
        assert s.scalar(select(ProposalRow.state)) == "proposed"


def test_the_keepers_receive_button_takes_the_goods_in_and_a_buyers_is_refused(
    rt: Runtime,
) -> None:
    say(rt, "keeper", "6205 库存 45")
    say(rt, "supplier", "检查")
    say(rt, "buyer", "确认 P1")
    say(rt, "supplier", "发货 P1")
    [refused] = say(rt, "buyer", button=ButtonPress("receive", "P1"))
    assert refused.refusal and refused.title == "你的角色不能做这一步"
    assert refused.lines[0] == "「入库」只有仓管员、管理员可以做，你是采购。什么都没有改变。"
    [received] = say(rt, "keeper", button=ButtonPress("receive", "P1"))
    assert received.title == "已入库 P1 · 王仓管"
    assert "本次入库 55 件，现有 100 件" in received.lines
    with transaction(rt.engine) as s:
        assert s.scalar(select(ProposalRow.state)) == "received"


def test_an_unknown_person_is_told_to_ask_an_admin_and_nothing_happens(rt: Runtime) -> None:
    [reply] = say(rt, "stranger", "6205 库存 45")
    assert "管理员" in reply.lines[0]
    assert state(rt) == (0, 0, 0)


def test_group_chit_chat_is_not_answered_but_a_count_is(rt: Runtime) -> None:
    group = {"direct": False, "addressed": False}
    assert say(rt, "keeper", "中午吃什么", **group) == []
    assert say(rt, "keeper", "收到", **group) == []
    [reply] = say(rt, "keeper", "6205 库存 45", **group)
    assert reply.title == "已记录盘点"


def test_direct_chit_chat_gets_help(rt: Runtime) -> None:
    [reply] = say(rt, "buyer", "你好")
    assert "能听懂" in reply.title and any("确认 P1" in line for line in reply.lines)
    [english] = say(rt, "buyer", "hello")  # answered in the language it was written in
    assert "understands" in english.title and any("confirm P1" in x for x in english.lines)


def test_replies_follow_the_members_language(rt: Runtime, tmp_path: Path) -> None:
    rt_en = english(tmp_path)
    [reply] = say(rt_en, "keeper", "stock 6205 45")
    assert reply.title == "Count recorded" and "on hand 45" in reply.lines[0]
    assert "below min 50" in reply.lines[1]


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=st.text(max_size=60))
def test_text_that_does_not_parse_changes_no_state(rt: Runtime, text: str) -> None:
    before = state(rt)
    say(rt, "admin", text)  # an admin may do everything: only parsing can stop a change
    items = rt.config.agreements[0].items
    if isinstance(parse(text, items, T0.date()), Refusal):
        assert state(rt) == before


def test_a_later_count_infers_the_withdrawal_and_says_so(rt: Runtime) -> None:
    say(rt, "keeper", "6205 库存 60")
    handle(
        rt.engine,
        rt.config,
        Incoming("console", "plant-6205", "keeper", "late", T0 + timedelta(days=1), "6205 库存 52"),
    )
    with transaction(rt.engine) as s:
        rows = s.execute(select(LedgerRow.kind, LedgerRow.qty).order_by(LedgerRow.id)).all()
    assert rows == [("count", 60), ("withdrawal", 8), ("count", 52)]


def test_lines_pasted_from_excel_are_one_count_of_several_items(tmp_path: Path) -> None:
    two_items = tmp_path / "two.toml"
    two_items.write_text(
        EXAMPLE.read_text(encoding="utf-8")
        + '\n[[agreements.items]]\nsku = "6206"\nname = "6206 深沟球轴承"\nmin = 20\nmax = 60\n'
        + "unit_price = 15\n",
        encoding="utf-8",
    )
    rt2 = start(str(two_items), f"sqlite:///{tmp_path / 'two.sqlite'}")
    [reply] = say(rt2, "keeper", "物料\t库存\n6205\t45\n6206\t１２\n")
    assert reply.title == "已记录盘点"
    assert [line.split("：")[0] for line in reply.lines if "：盘点" in line] == [
        "6205 深沟球轴承",
        "6206 深沟球轴承",
    ]
    assert any("低于补货线 20" in line for line in reply.lines)  # 6206: 12 < 20


def test_an_adjust_button_without_a_number_says_what_to_type(rt: Runtime) -> None:
    say(rt, "keeper", "6205 库存 45")
    say(rt, "supplier", "检查")
    [hint] = say(rt, "buyer", button=ButtonPress("adjust", "P1"))
    assert hint.refusal and any("调整 P1 60" in line for line in hint.lines)
    with transaction(rt.engine) as s:
        assert s.scalar(select(ProposalRow.state)) == "proposed"


def test_a_proposal_of_the_members_second_agreement_is_found_by_its_id(tmp_path: Path) -> None:
    second = tmp_path / "two-agreements.toml"
    second.write_text(
        EXAMPLE.read_text(encoding="utf-8")
        + """
[[agreements]]
id = "plant-6301"
customer = "plant"
supplier = "bearing-co"

[[agreements.items]]
sku = "6301"
name = "6301 轴承"
min = 10
max = 40
unit_price = 9.8
""",
        encoding="utf-8",
    )
    rt2 = start(str(second), f"sqlite:///{tmp_path / 'two.sqlite'}")
    handle(rt2.engine, rt2.config, Incoming("console", "plant-6301", "keeper", "c1", T0,
                                            "6301 库存 5"))  # fmt: skip
    say(rt2, "supplier", "检查", chat="plant-6301")
    # not from the first agreement's chat: that chat is another agreement's business
    [refused] = say(rt2, "buyer", "确认 P1", chat="plant-6205")
    assert refused.title == "没有这个补货建议" and refused.refusal
    # one to one (as WeCom's chats with the app are), the proposal says which agreement
    [done] = say(rt2, "buyer", "确认 P1", chat="wangcaigou")
    assert done.title == "已确认 P1 · 王采购"
    [asked] = say(rt2, "buyer", "状态", chat="wangcaigou")
    assert asked.title == "是哪个协议的？" and "plant-6301" in " ".join(asked.lines)
    [told] = say(rt2, "buyer", "plant-6301：状态", chat="wangcaigou")
    assert "6301" in " ".join(told.lines) and "6205" not in " ".join(told.lines)


def test_a_message_that_breaks_the_handler_is_set_aside_and_its_sender_told(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    from handlers import registry

    def broken(turn: object, intent: object) -> None:
        raise RuntimeError("a bug")

    rows = [replace(r, handler=broken) if r.name == "count" else r for r in registry.INTENTS]
    monkeypatch.setattr(registry, "INTENTS", tuple(rows))
    [sorry] = say(rt, "keeper", "6205 库存 45")
    assert sorry.title == "出了点问题" and sorry.refusal
    [after] = say(rt, "keeper", "状态")  # the next message goes on as usual
    assert after.title.startswith("库存状态")
    assert state(rt) == (0, 0, 0)


def test_a_withdrawal_beyond_the_book_is_refused_and_asks_for_a_count(rt: Runtime) -> None:
    say(rt, "keeper", "6205 库存 45")
    [refused] = say(rt, "keeper", "领用 6205 100")
    assert refused.title == "领用超过现有库存" and "只有 45 件" in refused.lines[0]
    assert state(rt) == (1, 0, 0)  # only the count


def test_a_review_before_any_count_says_what_is_missing(rt: Runtime) -> None:
    [reply] = say(rt, "supplier", "检查")
    assert any("还没有盘点" in line and "6205" in line for line in reply.lines)
    assert not any("都不低于补货线" in line for line in reply.lines)


def test_a_resized_proposal_says_why_without_itself(rt: Runtime) -> None:
    say(rt, "keeper", "6205 库存 45")
    say(rt, "supplier", "检查")
    say(rt, "keeper", "6205 库存 30")
    cards = say(rt, "supplier", "检查")
    [updated] = [c for c in cards if c.title.startswith("补货建议已更新")]
    assert updated.lines[0].startswith("数量 55 → 70")
    assert "库存位置 30 件" in updated.lines[1]


def test_confirm_on_a_card_that_was_resized_since_confirms_nothing(rt: Runtime) -> None:
    say(rt, "keeper", "6205 库存 45")
    [old_card] = [c for c in say(rt, "supplier", "检查") if c.buttons]
    say(rt, "keeper", "6205 库存 30")
    say(rt, "supplier", "检查")  # P1 is now 70
    confirm = next(b for b in old_card.buttons if b.action == "confirm")
    [refused] = say(rt, "buyer", button=ButtonPress(confirm.action, confirm.value))
    assert refused.title == "数量已经变了" and "70" in refused.lines[0] and "55" in refused.lines[0]
    with transaction(rt.engine) as s:
        assert s.execute(select(ProposalRow.state, ProposalRow.qty)).one() == ("proposed", 70)
    [done] = say(rt, "buyer", "确认 P1")  # typed, it confirms what it now is
    assert done.title == "已确认 P1 · 王采购"


def test_a_mistyped_count_is_put_right_without_billing_a_withdrawal(rt: Runtime) -> None:
    say(rt, "keeper", "6205 库存 45")
    [typo] = say(rt, "keeper", "6205 库存 1000")
    assert any("更正 6205" in line for line in typo.lines)
    [fixed] = say(rt, "keeper", "更正 6205 45")
    assert fixed.title == "已更正盘点" and "现有 45 件" in fixed.lines[0]
    with transaction(rt.engine) as s:
        kinds = s.execute(select(LedgerRow.kind).order_by(LedgerRow.id)).scalars().all()
    # the typo was held, never recorded: no withdrawal of 955 was ever there to bill
    assert kinds == ["count", "count"]


def test_a_plan_for_a_past_period_is_refused_as_past(rt: Runtime) -> None:
    [refused] = say(rt, "buyer", "计划 2026-10 6205 90")
    assert refused.title == "这个时间已经过去了" and "2026-10" in refused.lines[0]
    assert state(rt) == (0, 0, 0)


def test_a_count_far_above_max_says_how_to_put_a_typo_right(rt: Runtime) -> None:
    [reply] = say(rt, "keeper", "6205 库存 1000")
    assert reply.title == "盘点待确认"
    assert "安全线 100 件的两倍多" in reply.lines[0] and "更正 6205" in reply.lines[1]
    assert [b.action for b in reply.buttons] == ["confirm_count"]
    assert state(rt) == (0, 0, 0)  # held: nothing recorded until the keeper says it is right


def test_a_count_whose_platform_time_was_doubted_says_so_and_is_marked(rt: Runtime) -> None:
    say(rt, "keeper", "6205 库存 90")
    with transaction(rt.engine) as s:
        before = s.scalar(select(func.max(OutboxRow.id))) or 0
    doubted = Incoming(
        platform="console", chat="plant-6205", sender="keeper", message_id="doubted", at=T0,
        text="6205 库存 80", time_doubted=True,
    )  # fmt: skip
    handle(rt.engine, rt.config, doubted)
    with transaction(rt.engine) as s:
        [reply] = [Card.from_json(r.card) for r in s.scalars(
            select(OutboxRow).where(OutboxRow.id > before))]  # fmt: skip
        notes = list(s.scalars(select(LedgerRow.note).order_by(LedgerRow.id)))
    assert any("不可信" in line and "2026-11-21 10:00" in line for line in reply.lines)
    # the count of 80 and the 10 inferred withdrawn both carry the doubt; the first count not
    assert ["platform time" in note for note in notes] == [False, True, True]


def test_an_english_refusal_of_a_step_reads_as_a_sentence(tmp_path: Path) -> None:
    rt_en = english(tmp_path)
    say(rt_en, "keeper", "6205 stock 20")
    say(rt_en, "supplier", "check")
    [refused] = say(rt_en, "keeper", "confirm P1")
    assert "may confirm; you are warehouse keeper" in " ".join(refused.lines)
    say(rt_en, "buyer", "reject P1 too many")
    [late] = say(rt_en, "buyer", "confirm P1")
    assert "P1 is rejected now, so you cannot confirm it." in " ".join(late.lines)


def test_status_shows_what_the_next_statement_bills_and_where_each_proposal_is(
    rt: Runtime,
) -> None:
    from bot.services.status import status

    def at(moment: datetime, sender: str, text: str) -> None:
        message = Incoming("console", "plant-6205", sender, f"m{next(_ids)}", moment, text)
        handle(rt.engine, rt.config, message)

    at(shanghai(2026, 11, 24, 9), "keeper", "6205 库存 100")
    at(shanghai(2026, 11, 24, 17), "keeper", "6205 库存 90")  # 10 withdrawn before the cutoff
    at(shanghai(2026, 11, 25, 9), "keeper", "6205 库存 45")  # 45 after it: the next statement's
    at(shanghai(2026, 11, 25, 10), "keeper", "领用 6205 5")
    at(shanghai(2026, 11, 25, 10), "supplier", "检查")
    at(shanghai(2026, 11, 25, 11), "buyer", "确认 P1")
    at(shanghai(2026, 11, 25, 12), "supplier", "发货 P1 2026-11-28")

    def item(now: datetime) -> dict[str, Any]:
        with transaction(rt.engine, read_only=True) as s:
            return status(s, rt.config, now)["agreements"][0]["items"][0]  # type: ignore[no-any-return]

    today = item(shanghai(2026, 11, 25, 18))
    assert today["billable_qty"] == 50
    [p1] = today["open_proposals"]
    assert (p1["id"], p1["state"], p1["shipped_qty"], p1["received_qty"], p1["eta"]) == (
        "P1", "shipped", p1["qty"], 0, "2026-11-28",
    )  # fmt: skip
    assert p1["updated_at"] == "2026-11-25T12:00:00+08:00"
    # the next cutoff (12-25) starts a new period: nothing is billable yet
    assert item(shanghai(2026, 12, 25, 1))["billable_qty"] == 0


def test_status_explains_the_position_and_judges_it_as_the_review_does(rt: Runtime) -> None:
    def status_lines() -> str:
        [card] = say(rt, "keeper", "状态")
        return "\n".join(card.lines)

    say(rt, "keeper", "6205 库存 30")
    assert "⚠ 库存位置低于补货线 50，下次检查会提出补货" in status_lines()
    say(rt, "supplier", "检查")
    covered = status_lines()
    assert "库存位置 100 件（= 现有 30 + 待确认 70）" in covered
    assert "现有低于补货线 50，补货 P1 会补上" in covered and "⚠" not in covered
    say(rt, "keeper", "6205 库存 0")
    assert "⚠ 缺货，补货 P1 还没到" in status_lines()


def test_each_role_asks_what_waits_for_it_and_follows_a_proposal(rt: Runtime) -> None:
    say(rt, "keeper", "6205 库存 30")
    say(rt, "supplier", "检查")
    [buyer_todo] = say(rt, "buyer", "有什么要我确认的")
    assert buyer_todo.title == "待办 · 王采购"
    assert buyer_todo.lines[0].startswith("P1 待确认：6205 深沟球轴承 70 件")
    [nothing] = say(rt, "keeper", "待办")
    assert nothing.lines == ("没有等你处理的补货建议。",)
    say(rt, "buyer", "调整 P1 60")
    say(rt, "supplier", "发货 P1 2026-11-20")  # an ETA already past: the keeper's is late
    [keeper_todo] = say(rt, "keeper", "还有哪些没入库")
    assert keeper_todo.lines[0].startswith("⚠ P1 待入库：6205 深沟球轴承 60 件，预计 11-20 到")
    assert keeper_todo.lines[0].endswith("已超时")
    [steps] = say(rt, "keeper", "P1到哪了")
    assert steps.title == "P1 · 已发货"
    assert [line.split(" ", 2)[2] for line in steps.lines[1:]] == [
        "补货检查 提出 70 件", "王采购 调整为 60 件", "李供应 发货 60 件",
    ]  # fmt: skip
    assert state(rt) == (1, 1, 0)  # questions record nothing


def test_pending_and_a_proposals_steps_in_english(tmp_path: Path) -> None:
    rt_en = english(tmp_path)
    say(rt_en, "keeper", "stock 6205 30")
    say(rt_en, "supplier", "check")
    [pending] = say(rt_en, "buyer", "what's pending")
    assert pending.title == "Pending · 王采购"
    assert pending.lines[0].startswith("P1 to confirm: 6205 deep groove ball bearing 70 pcs")
    [steps] = say(rt_en, "buyer", "P1 status")
    assert steps.title == "P1 · proposed" and steps.lines[-1].endswith("the review proposed 70 pcs")


@pytest.mark.parametrize("text", ["谢谢", "好的", "收到", "👍", "thanks!", "ok 👍"])
def test_thanks_get_a_short_answer_one_to_one_and_silence_in_the_group(
    rt: Runtime, text: str
) -> None:
    [welcome] = say(rt, "keeper", text)
    english = any(c.isascii() and c.isalpha() for c in text)
    assert welcome.title == ("You're welcome 🙂" if english else "不客气 🙂")
    assert len(welcome.lines) == 1
    assert say(rt, "keeper", text, direct=False, addressed=False) == []
    assert state(rt) == (0, 0, 0)


def test_a_correction_takes_back_the_withdrawal_its_typo_billed(rt: Runtime) -> None:
    from bot.services.status import status

    def billable() -> int:
        with transaction(rt.engine, read_only=True) as s:
            item = status(s, rt.config, T0 + timedelta(minutes=1))["agreements"][0]["items"][0]
        return int(item["billable_qty"])

    say(rt, "keeper", "6205 库存 90")
    [typo] = say(rt, "keeper", "6205 库存 9")
    assert typo.title == "盘点待确认" and billable() == 0  # held: 81 of 90 looks mistyped
    [yes] = say(rt, "keeper", "是")  # the keeper insists: recorded as counted then
    assert any("比账面少 81 件，记为领用" in line for line in yes.lines) and billable() == 81
    [fixed] = say(rt, "keeper", "更正 6205 90")  # and later finds the typo after all
    assert any("领用 81 件已撤回，不计费" in line for line in fixed.lines)
    assert billable() == 0
    [again] = say(rt, "keeper", "更正 6205 85")  # a second thought: 5 were used after all
    assert any("比账面少 5 件，记为领用" in line for line in again.lines) and billable() == 5
    say(rt, "keeper", "领用 6205 5")
    [late] = say(rt, "keeper", "更正 6205 80")  # the withdrawal came after the count
    assert late.title == "那次盘点之后已有新记录" and billable() == 10
    [english] = say(rt, "keeper", "correction 6205 80")
    assert english.refusal


def test_undo_takes_back_my_last_entry_of_today_and_what_it_billed(rt: Runtime) -> None:
    say(rt, "keeper", "6205 库存 90")
    say(rt, "keeper", "6205 库存 9")  # held: 81 of 90 looks mistyped
    [dropped] = say(rt, "keeper", "撤销")  # a held count goes without a trace in the books
    assert "撤销了待确认的盘点 9 件" in dropped.lines[0]
    say(rt, "keeper", "6205 库存 9")
    say(rt, "keeper", "confirm count")
    [undone] = say(rt, "keeper", "撤销")
    assert undone.title == "已撤销"
    assert "撤销了盘点 9 件，以及由它算出的领用 81 件（不计费）" in undone.lines[0]
    assert "现有 90 件" in undone.lines[1]
    say(rt, "keeper", "领用 6205 10")
    [again] = say(rt, "keeper", "撤回")
    assert "领用 10 件" in again.lines[0] and "现有 90 件" in again.lines[1]
    [first] = say(rt, "keeper", "撤销")  # the first count of the day goes too
    assert "盘点 90 件" in first.lines[0] and "现有 0 件" in first.lines[1]
    [none] = say(rt, "keeper", "撤销")
    assert none.title == "没有可以撤销的" and none.refusal
    [not_mine] = say(rt, "buyer", "撤销")
    assert not_mine.refusal
    with transaction(rt.engine) as s:
        kinds = s.execute(select(LedgerRow.kind).order_by(LedgerRow.id)).scalars().all()
    # every entry is still there, each taken back by a reversal row
    assert kinds.count("reversal") == 4 and len(kinds) == 8


def test_undo_is_refused_once_someone_else_recorded_after_it(rt: Runtime) -> None:
    say(rt, "keeper", "6205 库存 90")
    say(rt, "admin", "领用 6205 5")
    [refused] = say(rt, "keeper", "撤销")
    assert refused.title == "之后已有新记录" and refused.refusal
    assert state(rt) == (2, 0, 0)


# A day at the shelf: what truly happens, and what the keeper types (typos put right by 更正 or
# 撤销 included). Whatever the order, the book bills exactly what truly left the shelf.
STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("use"), st.integers(1, 15)),  # posted: 领用 6205 n
        st.tuples(st.just("unposted"), st.integers(1, 15)),  # taken, found by the next count
        st.tuples(st.just("count"), st.just(0)),
        st.tuples(st.just("typo_corrected"), st.integers(0, 2_000)),
        st.tuples(st.just("typo_undone"), st.integers(0, 2_000)),
    ),
    max_size=12,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=STEPS)
def test_typos_corrections_and_undos_leave_exactly_the_true_withdrawals_billed(
    tmp_path_factory: pytest.TempPathFactory, steps: list[tuple[str, int]]
) -> None:
    from bot.services.status import status

    folder = tmp_path_factory.mktemp("books")
    books = start(str(EXAMPLE), f"sqlite:///{folder / 'vmi.sqlite'}")
    clock = itertools.count()

    def typed(text: str) -> None:
        at = T0 + timedelta(minutes=next(clock))
        handle(books.engine, books.config,
               Incoming("console", "plant-6205", "keeper", f"b{next(_ids)}", at, text))  # fmt: skip

    shelf, taken = 180, 0  # max is 100: a first count over 200 would be held as mistyped
    typed(f"6205 库存 {shelf}")
    for step, n in steps:
        if step == "use" and n <= shelf:
            shelf, taken = shelf - n, taken + n
            typed(f"领用 6205 {n}")
        elif step == "unposted" and n <= shelf:
            shelf, taken = shelf - n, taken + n
        elif step == "count":
            typed(f"6205 库存 {shelf}")
            typed("是")  # a true count held as unusual is confirmed; otherwise 是 is a nod
        elif step == "typo_corrected":
            typed(f"6205 库存 {n}")
            typed(f"更正 6205 {shelf}")
        elif step == "typo_undone":
            typed(f"6205 库存 {n}")
            typed("撤销")
    typed(f"6205 库存 {shelf}")  # the day ends with a true count
    typed("是")
    with transaction(books.engine, read_only=True) as s:
        later = T0 + timedelta(minutes=next(clock))
        [item] = status(s, books.config, later)["agreements"][0]["items"]
    books.engine.dispose()
    assert (item["on_hand"], item["billable_qty"]) == (shelf, taken)


def test_a_count_of_zero_is_a_stock_out_told_at_once_and_reviewed_now(rt: Runtime) -> None:
    say(rt, "keeper", "6205 库存 60")
    with transaction(rt.engine) as s:
        before = s.scalar(select(func.max(OutboxRow.id))) or 0
    zero = Incoming("console", "plant-6205", "keeper", "zero", T0, "6205 库存 0")
    handle(rt.engine, rt.config, zero, platforms=frozenset({"console", "slack"}))
    with transaction(rt.engine) as s:
        rows = list(
            s.scalars(select(OutboxRow).where(OutboxRow.id > before).order_by(OutboxRow.id))
        )
        [proposal] = list(s.scalars(select(ProposalRow)))
    assert (proposal.qty, proposal.state) == (100, "proposed")  # reviewed now, not at 08:00
    cards = [Card.from_json(r.card) for r in rows]
    [reply] = [card for card in cards if card.title == "已记录盘点"]
    assert any("⚠ 缺货：已通知采购和供应商" in line and "P1 100 件" in line for line in reply.lines)
    [alert] = [
        c for r, c in zip(rows, cards, strict=True) if r.platform == "slack" and "缺货" in c.title
    ]
    assert alert.title == "🔴 缺货：6205 深沟球轴承" and "王仓管 盘点为 0" in alert.lines[0]


def test_a_held_count_is_recorded_once_by_its_button_and_only_while_nothing_came_since(
    rt: Runtime,
) -> None:
    say(rt, "keeper", "6205 库存 90")
    [held] = say(rt, "keeper", "6205 库存 9")
    [button] = held.buttons
    assert (button.action, button.value, button.text_equivalent) == (
        "confirm_count", "6205@9", "确认盘点 6205",
    )  # fmt: skip
    press = ButtonPress("confirm_count", "6205@9")
    [done] = say(rt, "keeper", button=press)
    assert done.title == "已记录盘点" and any("记为领用" in line for line in done.lines)
    [again] = say(rt, "keeper", button=press)  # a double click records nothing more
    assert again.title == "没有待确认的盘点" and state(rt) == (3, 0, 0)
    say(rt, "keeper", "6205 库存 1000")  # held again...
    say(rt, "admin", "领用 6205 2")  # ...and the book moves on meanwhile
    [late] = say(rt, "keeper", "是")
    assert late.title == "之后已有新记录" and late.refusal
    [replaced] = say(rt, "keeper", "6205 库存 6")  # a new count replaces the held one
    assert replaced.title == "已记录盘点"
    [gone] = say(rt, "keeper", "确认盘点")
    assert gone.title == "没有待确认的盘点"


# --- questions and guesses change nothing ------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["6205 库存 45?", "6205 库存 45？", "6205 库存是45吗", "6205 还有多少", "领用 6205 10 吗"],
)
def test_a_question_about_an_item_is_answered_with_its_figures_and_records_nothing(
    rt: Runtime, text: str
) -> None:
    say(rt, "keeper", "6205 库存 60")
    before = state(rt)
    [reply] = say(rt, "keeper", text)
    assert reply.title.startswith("库存状态") and not reply.refusal
    assert any("60" in line for line in reply.lines)
    assert state(rt) == before


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("老王说6205还剩40个左右", "说"),
        ("6205 大概 40", "大概"),
        ("6205 约40件", "约"),
        ("6205 库存 40 左右", "左右"),
        ("领用 6205 差不多 10", "差不多"),
    ],
)
def test_a_guess_is_not_recorded_and_the_reply_asks_for_the_exact_count(
    rt: Runtime, text: str, word: str
) -> None:
    say(rt, "keeper", "6205 库存 60")
    before = state(rt)
    [reply] = say(rt, "keeper", text)
    assert reply.refusal and reply.title == "估计的数不记录"
    assert f"这条写了「{word}」，是估计或听别人说的数，没有记录" in reply.lines[0]
    assert any("6205" in line for line in reply.lines if line.startswith("可以这样写"))
    assert "比账面少" not in " ".join(reply.lines)
    assert state(rt) == before


def test_words_after_a_count_are_not_called_an_item_and_nothing_is_recorded(rt: Runtime) -> None:
    [reply] = say(rt, "keeper", "6205 库存 98 其中坏了5个")
    assert reply.refusal and reply.title == "这句话还有别的数"
    assert "「其中坏了5个」没有记录" in reply.lines[0]
    assert "不是本协议的物料" not in " ".join(reply.lines)
    assert any(line == "可以这样写：6205 库存 45" for line in reply.lines)
    assert state(rt) == (0, 0, 0)


def test_questions_and_guesses_in_english(rt: Runtime, tmp_path: Path) -> None:
    english = tmp_path / "en.toml"
    english.write_text(
        EXAMPLE.read_text(encoding="utf-8").replace('locale = "zh"', 'locale = "en"'),
        encoding="utf-8",
    )
    rt_en = start(str(english), f"sqlite:///{tmp_path / 'en.sqlite'}")
    say(rt_en, "keeper", "stock 6205 60")
    before = state(rt_en)
    [asked] = say(rt_en, "keeper", "is it 45 for 6205")
    assert not asked.refusal and "60" in " ".join(asked.lines)
    [guess] = say(rt_en, "keeper", "stock 6205 about 40")
    assert guess.title == "A guess is not recorded"
    assert '"about" makes it a guess' in guess.lines[0]
    assert state(rt_en) == before


# --- back-dated entries -------------------------------------------------------------------------


def ledger(rt: Runtime) -> list[tuple[str, int, str]]:
    """Every ledger row: kind, qty and its Shanghai date and time."""
    with transaction(rt.engine) as s:
        rows = s.execute(select(LedgerRow.kind, LedgerRow.qty, LedgerRow.at).order_by(LedgerRow.id))
        return [(kind, qty, shanghai_time(at)) for kind, qty, at in rows]


def shanghai_time(at: datetime) -> str:
    """A stored time (SQLite hands it back without a zone: it is UTC) in Shanghai."""
    return (
        (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(SHANGHAI).strftime("%m-%d %H:%M")
    )


def test_a_count_of_yesterday_is_booked_at_that_days_end_against_the_book_of_then(
    rt: Runtime,
) -> None:
    say(rt, "keeper", "6205 库存 60", at=T0 - timedelta(days=3))
    [reply] = say(rt, "keeper", "昨天 6205 库存 50")
    assert reply.title == "已记录盘点"
    assert reply.lines[0] == "记在 2026-11-20（那天结束时），按这一天结算"
    assert any("比账面少 10 件，记为领用" in line for line in reply.lines)
    assert ledger(rt)[1:] == [("withdrawal", 10, "11-20 23:59"), ("count", 50, "11-20 23:59")]


def test_a_back_dated_count_with_later_entries_is_refused(rt: Runtime) -> None:
    say(rt, "keeper", "6205 库存 60", at=T0 - timedelta(hours=1))
    before = state(rt)
    [reply] = say(rt, "keeper", "昨天 6205 库存 50")
    assert reply.refusal and reply.title == "那天之后已有新记录"
    assert "6205 在 11-20 之后已经记了盘点（11-21 09:00）" in reply.lines[0]
    assert state(rt) == before


def test_a_back_dated_withdrawal_after_the_latest_count_is_booked_on_its_day(rt: Runtime) -> None:
    say(rt, "keeper", "6205 库存 60", at=T0 - timedelta(days=3))
    [reply] = say(rt, "keeper", "前天 领用 6205 5")
    assert reply.title == "已记录领用"
    assert reply.lines[0] == "记在 2026-11-19（那天结束时），按这一天结算"
    assert "现有 55 件" in reply.lines[1]
    assert ledger(rt)[-1] == ("withdrawal", 5, "11-19 23:59")


def test_a_back_dated_withdrawal_typed_today_can_be_undone(rt: Runtime) -> None:
    say(rt, "keeper", "6205 库存 60", at=T0 - timedelta(days=3))
    say(rt, "keeper", "昨天 领用 6205 50")
    [undone] = say(rt, "keeper", "撤销")
    assert not undone.refusal and "50" in " ".join(undone.lines)
    [status] = say(rt, "keeper", "6205 库存?")
    assert any("60" in line for line in status.lines)


def test_a_back_dated_withdrawal_before_the_latest_count_is_refused(rt: Runtime) -> None:
    say(rt, "keeper", "6205 库存 60", at=T0 - timedelta(hours=1))
    before = state(rt)
    [reply] = say(rt, "keeper", "11-19 领用 6205 5")
    assert reply.refusal and "重复计费" in reply.lines[0]
    assert state(rt) == before


@pytest.mark.parametrize(
    ("text", "title"),
    [
        ("明天 6205 库存 50", "这一天还没到"),
        ("11-30 领用 6205 5", "这一天还没到"),
        ("11-10 6205 库存 50", "补记太早了"),
    ],
)
def test_future_and_too_old_dates_are_refused(rt: Runtime, text: str, title: str) -> None:
    say(rt, "keeper", "6205 库存 60", at=T0 - timedelta(days=20))
    before = state(rt)
    [reply] = say(rt, "keeper", text)
    assert reply.refusal and reply.title == title
    assert state(rt) == before


def test_seven_days_back_is_the_limit(rt: Runtime) -> None:
    say(rt, "keeper", "6205 库存 60", at=T0 - timedelta(days=10))
    [too_old] = say(rt, "keeper", "11-13 领用 6205 5")
    assert too_old.title == "补记太早了" and "11-13 已经超过 7 天" in too_old.lines[0]
    [booked] = say(rt, "keeper", "11-14 领用 6205 5")
    assert booked.lines[0] == "记在 2026-11-14（那天结束时），按这一天结算"


def test_a_back_dated_withdrawal_is_billed_in_the_period_of_its_day(rt: Runtime) -> None:
    say(rt, "keeper", "6205 库存 60", at=T0 - timedelta(days=1))  # 11-20
    say(rt, "keeper", "昨天 领用 6205 5", at=shanghai(2026, 11, 24, 10, 0))  # 11-23
    say(rt, "keeper", "领用 6205 3", at=shanghai(2026, 11, 25, 9, 0))  # the next period
    [refused] = say(rt, "keeper", "昨天 领用 6205 2", at=shanghai(2026, 11, 25, 9, 5))
    assert refused.title == "那段时间已经结算" and "11-25 结算之前" in refused.lines[0]
    with transaction(rt.engine) as s:
        billed = statement(s, rt.config.agreements[0], shanghai(2026, 11, 25, 12, 0))
    assert [line.settlement.qty for line in billed.lines] == [5]


# --- pasted sheets and what is missing -----------------------------------------------------------


def test_a_pasted_sheet_with_title_header_row_numbers_and_blank_rows_is_a_count(
    rt: Runtime,
) -> None:
    [reply] = say(rt, "keeper", "VMI库存表\n序号\t料号\t库存\n1\t6205\t45件\n\n")
    assert reply.title == "已记录盘点"
    assert reply.lines[0].startswith("6205 深沟球轴承：盘点 45 件，现有 45 件")


def test_a_half_typed_entry_says_what_is_missing(rt: Runtime) -> None:
    [extra] = say(rt, "keeper", "6205 库存 1 01")
    assert extra.title == "还差一点信息"
    assert extra.lines[0] == "「01」多出来了：一个物料只写一个数量。什么都没有记录。"
    [none_open] = say(rt, "keeper", "入库")
    assert "还差补货建议编号：现在没有开着的补货建议" in none_open.lines[0]
    assert not any("P1" in line for line in none_open.lines)
    assert state(rt) == (0, 0, 0)


def test_the_example_names_the_open_proposal_not_p1(rt: Runtime) -> None:
    say(rt, "keeper", "6205 库存 45")
    say(rt, "supplier", "检查")
    say(rt, "buyer", "拒绝 P1 太多")
    say(rt, "keeper", "领用 6205 5")  # the position moved: the review may propose again
    say(rt, "supplier", "检查")
    [receipt] = say(rt, "keeper", "入库")
    [confirm] = say(rt, "buyer", "确认")
    assert receipt.lines == (
        "还差补货建议编号：现在开着的是 P2。什么都没有记录。",
        "可以这样写：入库 P2",
    )
    assert confirm.lines[-1] == "可以这样写：确认 P2"


def test_examples_name_the_agreements_own_items(tmp_path: Path) -> None:
    other = tmp_path / "6301.toml"
    other.write_text(EXAMPLE.read_text(encoding="utf-8").replace("6205", "6301"), encoding="utf-8")
    rt3 = start(str(other), f"sqlite:///{tmp_path / '6301.sqlite'}")
    replies = [
        reply
        for text in ("库存 45", "6301 大概 40", "11-10 6301 库存 5", "撤销")
        for reply in say(rt3, "keeper", text, chat="plant-6301")
    ]
    assert [r.lines[-1] for r in replies] == ["可以这样写：6301 库存 45"] * 4
    assert "还差物料：「45」是哪个物料的？" in replies[0].lines[0]
    assert state(rt3) == (0, 0, 0)


@pytest.mark.parametrize(
    ("text", "said"),
    [("6205 库存 45?", "这是提问，什么都没有记录"), ("stock 6205 45?", "A question: nothing was")],
)
def test_a_count_put_as_a_question_says_nothing_was_recorded(
    rt: Runtime, text: str, said: str
) -> None:
    [answer] = say(rt, "keeper", text)
    assert said in answer.lines[0] and state(rt) == (0, 0, 0)
    [plain] = say(rt, "keeper", "6205 库存?")  # a plain question needs no such word
    assert not any("提问" in line for line in plain.lines)


def test_a_back_dated_count_held_as_mistyped_is_booked_on_its_day_once_confirmed(
    rt: Runtime,
) -> None:
    def typed(at: datetime, text: str) -> None:
        handle(rt.engine, rt.config, Incoming("console", "plant-6205", "keeper",
                                              f"m{next(_ids)}", at, text))  # fmt: skip

    typed(T0 - timedelta(days=2), "6205 库存 90")
    typed(T0, "昨天 6205 库存 9")  # held: 81 of 90 looks mistyped
    typed(T0, "是")
    with transaction(rt.engine) as s:
        counted = s.scalars(
            select(LedgerRow.at).where(LedgerRow.kind == "count").order_by(LedgerRow.id)
        ).all()
    yesterday = (T0 - timedelta(days=1)).date()
    assert counted[-1].astimezone(SHANGHAI).date() == yesterday
