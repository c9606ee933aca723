"""The overstock joint review (rule 9) as people meet it: the daily check raises one alert to
the group for aged units above max, not again the next day, once more after a week nobody
answered; the buyer or the supplier returns, discounts or keeps watching, once; a return
lowers on hand, takes the oldest units and is never billed."""

from __future__ import annotations

import itertools
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.app.bootstrap import start
from bot.runtime.context import Runtime
from bot.services.overstock import Raised, check_overstock
from bot.services.retro import retro
from bot.services.settlement import statement
from bot.services.status import status
from bot.storage import overstock as stored_overstock
from bot.storage.db import transaction
from bot.storage.tables import LedgerRow, OutboxRow, OverstockDecisionRow
from handlers.conversation import handle
from handlers.incoming import ButtonPress, Incoming
from messages.cards import Card
from tests.faults.test_placement import SECOND_CUSTOMER
from tests.support import EXAMPLE, shanghai

COUNTED = shanghai(2026, 11, 1, 10, 0)  # 130 on the shelf: above max 100
DUE = COUNTED + timedelta(days=30)  # 30 days without a withdrawal
_ids = itertools.count(1)


@pytest.fixture
def rt(database_url: str) -> Iterator[Runtime]:
    """The example agreement (on SQLite, and on PostgreSQL when one is set up), with 130 on
    the shelf since COUNTED."""
    runtime = start(str(EXAMPLE), database_url)
    say(runtime, "keeper", "6205 库存 130", at=COUNTED)
    try:
        yield runtime
    finally:
        runtime.engine.dispose()


def say(
    rt: Runtime,
    sender: str,
    text: str = "",
    *,
    at: datetime,
    button: ButtonPress | None = None,
    chat: str = "plant-6205",
) -> list[Card]:
    """One message (or button) in the agreement's console chat; the cards it queued."""
    with transaction(rt.engine) as s:
        before = s.scalar(select(func.max(OutboxRow.id))) or 0
    incoming = Incoming("console", chat, sender, f"m{next(_ids)}", at, text, button)
    handle(rt.engine, rt.config, incoming)
    return queued_since(rt, before)


def queued_since(rt: Runtime, before: int) -> list[Card]:
    with transaction(rt.engine) as s:
        rows = s.scalars(select(OutboxRow).where(OutboxRow.id > before).order_by(OutboxRow.id))
        return [Card.from_json(r.card) for r in rows]


def check(rt: Runtime, now: datetime) -> tuple[list[Raised], list[Card]]:
    """The daily job, as the scheduler runs it, at `now`."""
    with transaction(rt.engine) as s:
        before = s.scalar(select(func.max(OutboxRow.id))) or 0
    with transaction(rt.engine) as s:
        raised = check_overstock(s, rt.config, now, platforms=frozenset({"console"}))
    return raised, queued_since(rt, before)


def on_hand_and_aged(rt: Runtime, now: datetime) -> tuple[int, int, int]:
    with transaction(rt.engine) as s:
        [item] = status(s, rt.config, now)["agreements"][0]["items"]
    return item["on_hand"], item["aged_qty"], item["billable_qty"]


def test_the_seeds_case_alerts_once_then_again_once_after_a_week(rt: Runtime) -> None:
    assert check(rt, DUE - timedelta(hours=1)) == ([], [])  # 29 days: not yet aged
    raised, [card] = check(rt, DUE)
    assert raised == [Raised("O1", "6205", "new")]
    assert card.title == "⚠ 积压 O1：6205 深沟球轴承"
    text = card.as_text()
    assert "现有 130 件，超过安全线 100" in text and "已 30 天没有领用" in text
    assert "130 × 12.50 = 1625.00" in text
    assert [(b.action, b.value, b.text_equivalent) for b in card.buttons] == [
        ("return", "O1@30", "退货 O1 30"), ("discount", "O1", "折价 O1 单价"),
        ("keep", "O1", "继续观察 O1"),
    ]  # fmt: skip
    assert check(rt, DUE) == ([], [])  # the same run again: nothing twice
    assert check(rt, DUE + timedelta(days=1)) == ([], [])  # the next day: the same lot
    assert check(rt, DUE + timedelta(days=6, hours=23)) == ([], [])
    raised, [again] = check(rt, DUE + timedelta(days=7))
    assert raised == [Raised("O1", "6205", "again")] and again.title.startswith("再次提醒")
    assert "已 37 天没有领用" in again.as_text()  # the figures as they are a week on
    assert check(rt, DUE + timedelta(days=14)) == ([], [])  # once, then never again
    assert check(rt, DUE + timedelta(days=40)) == ([], [])


def test_a_later_lot_crossing_the_age_raises_a_new_alert(rt: Runtime) -> None:
    check(rt, DUE)
    say(rt, "supplier", "继续观察 O1", at=DUE + timedelta(hours=1))
    say(rt, "keeper", "6205 库存 150", at=COUNTED + timedelta(days=5))  # 20 more came in
    assert check(rt, DUE + timedelta(days=4)) == ([], [])
    raised, [card] = check(rt, DUE + timedelta(days=5))
    assert raised == [Raised("O2", "6205", "new")] and "O2" in card.title


def test_nothing_is_alerted_at_or_below_max(tmp_path: Path) -> None:
    runtime = start(str(EXAMPLE), f"sqlite:///{tmp_path / 'vmi.sqlite'}")
    say(runtime, "keeper", "6205 库存 100", at=COUNTED)
    assert check(runtime, DUE + timedelta(days=20)) == ([], [])


def test_an_amended_max_decides_whether_overstock_alerts(rt: Runtime) -> None:
    say(rt, "supplier", "修改 6205 安全线 150", at=COUNTED + timedelta(hours=1))
    say(rt, "buyer", "同意 A1", at=COUNTED + timedelta(hours=2))
    assert check(rt, DUE) == ([], [])  # 130 is under the agreed max of 150
    say(rt, "buyer", "修改 6205 安全线 120", at=DUE + timedelta(hours=1))
    say(rt, "supplier", "同意 A2", at=DUE + timedelta(hours=2))
    raised, [card] = check(rt, DUE + timedelta(days=1))
    assert raised == [Raised("O1", "6205", "new")]
    assert "现有 130 件，超过安全线 120" in card.as_text()


def test_a_return_that_empties_the_shelf_is_no_stock_out_in_the_review(rt: Runtime) -> None:
    check(rt, DUE)
    say(rt, "supplier", "退货 O1 130", at=DUE + timedelta(hours=2))
    assert on_hand_and_aged(rt, DUE + timedelta(hours=3))[0] == 0
    [card] = say(rt, "buyer", "复盘 2026-12", at=shanghai(2026, 12, 26, 9, 0))
    assert "缺货 0 天" in card.as_text()
    with transaction(rt.engine) as s:
        done = retro(s, rt.config.agreements[0], "2026-12", shanghai(2026, 12, 26, 9, 0))
    assert done.as_json()["items"][0]["stockout_days"] == 0
    assert done.items[0].review.month.stock_outs == 0


def test_a_return_lowers_on_hand_takes_the_oldest_and_is_not_billed(rt: Runtime) -> None:
    check(rt, DUE)
    at = DUE + timedelta(hours=2)
    [reply] = say(rt, "supplier", "退货 O1 30", at=at)
    assert reply.title == "积压 O1 已定：退货 · 李供应"
    assert "退回供应商 30 件" in reply.lines[0] and "现有 100 件" in reply.lines[0]
    assert on_hand_and_aged(rt, at) == (100, 100, 0)
    say(rt, "keeper", "领用 6205 10", at=at + timedelta(hours=1))
    assert on_hand_and_aged(rt, at + timedelta(hours=2)) == (90, 90, 10)
    with transaction(rt.engine) as s:
        kinds = [(r.kind, r.qty) for r in s.scalars(select(LedgerRow).order_by(LedgerRow.id))]
        [decision] = s.scalars(select(OverstockDecisionRow)).all()
        bill = statement(s, rt.config.agreements[0], shanghai(2026, 12, 26, 9, 0))
    assert kinds == [("count", 130), ("return", 30), ("withdrawal", 10)]
    assert (decision.choice, decision.qty, decision.member_id) == ("return", 30, "supplier")
    assert [line.settlement.qty for line in bill.lines] == [10]  # the 30 returned: not billed
    # the next count matches the book: no withdrawal is inferred from the return
    [count] = say(rt, "keeper", "6205 库存 90", at=at + timedelta(hours=3))
    assert "记为领用" not in count.as_text()
    assert check(rt, DUE + timedelta(days=8)) == ([], [])  # decided: no reminder


def test_a_return_above_the_aged_units_is_refused_with_the_reason(rt: Runtime) -> None:
    check(rt, DUE)
    [refused] = say(rt, "buyer", "return O1 131", at=DUE + timedelta(hours=1))
    assert refused.refusal and "Only 130 pcs of 6205 are aged" in refused.as_text()
    assert "return O1 130" in refused.as_text()  # what may be typed instead
    assert on_hand_and_aged(rt, DUE + timedelta(hours=1))[0] == 130
    with transaction(rt.engine) as s:
        assert s.scalar(select(func.count()).select_from(OverstockDecisionRow)) == 0


def test_a_discount_is_stored_for_the_next_statement_and_decided_once(rt: Runtime) -> None:
    check(rt, DUE)
    [reply] = say(rt, "buyer", "折价 O1 10.00", at=DUE + timedelta(hours=1))
    assert reply.title == "积压 O1 已定：折价 · 王采购"
    assert "130 件按折价 10.00/件结算（原价 12.50）" in reply.lines[0]
    [again] = say(rt, "supplier", "退货 O1 30", at=DUE + timedelta(hours=2))
    assert again.title == "这条积压已经定了" and "王采购" in again.lines[0]
    with transaction(rt.engine) as s:
        assert stored_overstock.discounts(s, "plant-6205", "6205") == [(130, Decimal("10.00"))]
        assert stored_overstock.discounts(s, "plant-6205", "6206") == []
        assert s.scalar(select(func.count()).select_from(LedgerRow)) == 1  # nothing moved
    [dear] = say(rt, "buyer", "折价 O2 13", at=DUE + timedelta(hours=3))
    assert dear.title == "没有这条积压提醒"


def test_a_discount_price_must_be_below_the_unit_price(rt: Runtime) -> None:
    check(rt, DUE)
    [refused] = say(rt, "buyer", "discount O1 12.50", at=DUE + timedelta(hours=1))
    assert refused.refusal and "12.50" in refused.as_text()
    [asks] = say(rt, "buyer", button=ButtonPress("discount", "O1"), at=DUE + timedelta(hours=1))
    assert asks.title == "还差折价的单价" and "折价 O1 10.00" in asks.as_text()


def test_keep_watching_is_recorded_and_reminded_once_a_week_later(rt: Runtime) -> None:
    check(rt, DUE)
    kept_at = DUE + timedelta(days=2)
    [reply] = say(rt, "buyer", button=ButtonPress("keep", "O1"), at=kept_at)
    assert reply.title == "积压 O1 已定：继续观察 · 王采购"
    assert check(rt, DUE + timedelta(days=7)) == ([], [])  # a week from the keep, not the alert
    raised, _ = check(rt, kept_at + timedelta(days=7))
    assert raised == [Raised("O1", "6205", "again")]
    [returned] = say(rt, "supplier", "退货 O1 30", at=kept_at + timedelta(days=7, hours=1))
    assert returned.title == "积压 O1 已定：退货 · 李供应"  # raised again: decided anew
    assert check(rt, kept_at + timedelta(days=30)) == ([], [])


def test_only_the_buyers_and_the_suppliers_side_decide(rt: Runtime) -> None:
    check(rt, DUE)
    [refused] = say(rt, "keeper", "退货 O1 30", at=DUE + timedelta(hours=1))
    assert refused.title == "你的角色不能做这一步" and "采购" in refused.as_text()
    assert on_hand_and_aged(rt, DUE + timedelta(hours=1))[0] == 130


def test_the_return_button_returns_what_the_card_offered(rt: Runtime) -> None:
    check(rt, DUE)
    at = DUE + timedelta(hours=1)
    [reply] = say(rt, "buyer", button=ButtonPress("return", "O1@30"), at=at)
    assert reply.title == "积压 O1 已定：退货 · 王采购"
    [twice] = say(rt, "supplier", button=ButtonPress("return", "O1@30"), at=at)
    assert twice.title == "这条积压已经定了" and "王采购" in twice.lines[0]
    assert on_hand_and_aged(rt, at)[0] == 100


def test_the_group_hears_a_decision_made_elsewhere(rt: Runtime) -> None:
    check(rt, DUE)
    cards = say(rt, "supplier", "继续观察 O1", at=DUE + timedelta(hours=1), chat="supplier")
    assert [c.title for c in cards] == ["积压 O1 已定：继续观察 · 李供应"] * 2  # reply, group
    with transaction(rt.engine) as s:
        chats = list(s.scalars(select(OutboxRow.chat).order_by(OutboxRow.id.desc()).limit(2)))
    assert sorted(chats) == ["plant-6205", "supplier"]


def test_the_alert_and_its_buttons_through_vmi_bot_chat(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'vmi.sqlite'}"
    chat(db, ["6205 库存 130"], speaker="keeper", now="2026-11-01T10:00:00+08:00")
    out = chat(
        db,
        ["检查", "/as keeper", "1", "/as buyer", "1", "/as supplier", "继续观察 O1", "状态"],
        speaker="supplier",
        now="2026-12-01T10:05:00+08:00",  # the count ran a moment past 10:00
    )
    assert out.count("⚠ 积压 O1：6205 深沟球轴承") == 1
    assert "[1] 退货 30  (= 退货 O1 30)" in out and "[3] 继续观察  (= 继续观察 O1)" in out
    assert "只有采购、供应商、管理员可以做" in out  # the keeper pressed Return
    assert "积压 O1 已定：退货 · 王采购" in out and "现有 100 件" in out
    assert "积压 O1 已经由王采购定为「退货」" in out  # the supplier came second
    again = chat(db, ["return O1 10"], speaker="buyer", now="2026-12-09T10:00:00+08:00")
    assert "Overstock O1 was already decided by 王采购" in again


VMI_BOT = str(Path(sys.executable).with_name("vmi-bot"))


def chat(db: str, lines: list[str], *, speaker: str, now: str) -> str:
    """`vmi-bot chat` as a real process, its clock at `now`."""
    done = subprocess.run(
        [VMI_BOT, "--config", str(EXAMPLE), "--db", db, "chat", "--as", speaker, "--now", now],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_two_processes_checking_at_once_raise_one_alert(rt: Runtime) -> None:
    other = start(str(EXAMPLE), rt.engine.url.render_as_string(hide_password=False))
    ready = threading.Barrier(2)
    raised: list[list[Raised]] = []

    def run(runtime: Runtime) -> None:
        ready.wait(10)  # both at once (SQLite then takes turns; PostgreSQL races)
        with transaction(runtime.engine) as s:
            raised.append(check_overstock(s, runtime.config, DUE, platforms=frozenset({"console"})))

    try:
        threads = [threading.Thread(target=run, args=(r,)) for r in (rt, other)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    finally:
        other.engine.dispose()
    assert sorted(map(len, raised)) == [0, 1]
    with transaction(rt.engine) as s:
        keys = list(s.scalars(select(OutboxRow.key).where(OutboxRow.key.like("overstock:%"))))
    assert keys == ["overstock:O1:new:console:plant-6205"]


def test_vmi_bot_check_raises_the_alert_once(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'vmi.sqlite'}"
    runtime = start(str(EXAMPLE), db)
    say(runtime, "keeper", "6205 库存 130", at=COUNTED)
    runtime.engine.dispose()
    common = [VMI_BOT, "--config", str(EXAMPLE), "--db", db, "check", "--now"]
    runs = [
        subprocess.run([*common, now], capture_output=True, text=True, timeout=60, check=False)
        for now in ("2026-12-01T10:00:00+08:00", "2026-12-02T10:00:00+08:00")
    ]
    assert [r.returncode for r in runs] == [0, 0], runs[0].stderr
    assert "积压提醒 O1：6205" in runs[0].stdout
    assert "O1" not in runs[1].stdout


def test_discounted_units_are_billed_at_their_price_as_they_are_withdrawn(rt: Runtime) -> None:
    check(rt, DUE)
    say(rt, "buyer", "折价 O1 10.00", at=DUE + timedelta(hours=1))  # 130 units at 10.00
    say(rt, "keeper", "领用 6205 20", at=shanghai(2026, 12, 5, 10, 0))
    say(rt, "keeper", "领用 6205 100", at=shanghai(2027, 1, 5, 10, 0))
    say(rt, "keeper", "6205 库存 0", at=shanghai(2027, 1, 6, 10, 0))  # the last 10 go too
    agreement = rt.config.agreements[0]
    with transaction(rt.engine) as s:
        december = statement(s, agreement, shanghai(2026, 12, 26, 9, 0))
        january = statement(s, agreement, shanghai(2027, 1, 26, 9, 0))
    [dec] = [line.settlement for line in december.lines if line.item.sku == "6205"]
    assert (dec.qty, dec.discounted_qty, dec.amount) == (20, 20, Decimal("200.00"))
    # the 110 discounted units left after December are January's 110 withdrawals
    [jan] = [line.settlement for line in january.lines if line.item.sku == "6205"]
    assert (jan.qty, jan.discounted_qty, jan.amount) == (110, 110, Decimal("1100.00"))


def test_one_to_one_the_alert_id_says_which_agreement(tmp_path: Path) -> None:
    config = tmp_path / "two.toml"
    second = SECOND_CUSTOMER.replace('slack = "U02KEEPER"', 'console = "gear-keeper"')
    config.write_text(EXAMPLE.read_text(encoding="utf-8") + second, encoding="utf-8")
    runtime = start(str(config), f"sqlite:///{tmp_path / 'vmi.sqlite'}")
    try:
        say(runtime, "keeper", "6205 库存 130", at=COUNTED)
        check(runtime, DUE)
        [reply, _] = say(runtime, "supplier", "继续观察 O1", at=DUE, chat="supplier")
        assert reply.title == "积压 O1 已定：继续观察 · 李供应"  # the supplier serves both
        [asked] = say(runtime, "supplier", "状态", at=DUE, chat="supplier")
        assert asked.title == "是哪个协议的？"  # without an id it would have asked
    finally:
        runtime.engine.dispose()
