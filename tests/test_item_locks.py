"""Messages that touch the same items at the same moment, as two processes (or a process and the
scheduler) handle them on PostgreSQL: each waits for the items it needs before it reads their
book, and every path takes several items in one order, so none waits on the other in a circle.
Each test holds a transaction open in the main thread (another message, the review) while a
second thread handles a message; on PostgreSQL the second must wait, not decide from what it
read before. On SQLite the writers take turns anyway; the same tests hold there."""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlmodel import Session, col

from bot.app.bootstrap import start
from bot.runtime.context import Runtime
from bot.services import settlement
from bot.services.review import review, take_reviews_turn
from bot.services.terms import effective_agreement
from bot.storage import amendments, sheet_imports
from bot.storage import held as held_counts
from bot.storage import proposals as stored_proposals
from bot.storage import statements as stored_statements
from bot.storage.db import transaction
from bot.storage.plans import set_plan
from bot.storage.proposals import ReceiptNotCorrected, act, correct_receipt
from bot.storage.proposals import get as get_proposal
from bot.storage.stock import (
    hold_item,
    hold_items,
    record_count,
    record_withdrawal,
    stock_levels,
)
from bot.storage.tables import (
    DemandPlanRow,
    HeldCountRow,
    InboxRow,
    LedgerRow,
    PlanHistoryRow,
    ProposalRow,
    SheetImportRow,
)
from handlers.conversation import handle
from handlers.incoming import ButtonPress, Incoming
from tests.support import DATA, EXAMPLE, shanghai
from vmi_rules.periods import month_of
from vmi_rules.proposal import Actor

T0 = shanghai(2026, 11, 21, 9, 0)
PLANT = "plant-6205"  # the example agreement: item 6205
MOTOR = "motor-6205"  # the second customer's agreement: items 6205, 6206 and 6207
ids = itertools.count(1)


@pytest.fixture
def two_customers(database_url: str, tmp_path: Path) -> Iterator[Runtime]:
    config = tmp_path / "two.toml"
    extra = (DATA / "second_customer.toml").read_text(encoding="utf-8")
    config.write_text(EXAMPLE.read_text(encoding="utf-8") + "\n" + extra, encoding="utf-8")
    started = start(str(config), database_url)
    try:
        yield started
    finally:
        started.engine.dispose()


def say(
    rt: Runtime, sender: str, text: str, chat: str, at: float = 0, press: ButtonPress | None = None
) -> None:
    """One chat message (or a button pressed), `at` minutes after T0, handled as the inbox
    worker handles it."""
    said = Incoming("console", chat, sender, f"lock-{next(ids)}", T0 + timedelta(minutes=at), text,
                    button=press, via="button" if press else "message")  # fmt: skip
    handle(rt.engine, rt.config, said)


def meanwhile(rt: Runtime, first_work: Callable[[Session], object], *message: Any) -> None:
    """Run `first_work` in an open transaction, let `message` (say's arguments after `rt`)
    start in a second thread meanwhile, then commit."""
    other = threading.Thread(target=say, args=(rt, *message))
    with transaction(rt.engine) as first:
        first_work(first)
        other.start()
        until_it_waits(rt, other)
    other.join()


def while_holding(rt: Runtime, skus: list[str], then: list[str], message: tuple[str, str]) -> None:
    """Hold `skus` of MOTOR in an open transaction (as another message would), let `message`
    (sender, text) start in a second thread meanwhile, then hold `then` too and commit."""
    sender, text = message
    other = threading.Thread(target=say, args=(rt, sender, text, MOTOR, 30))
    with transaction(rt.engine) as first:
        for sku in skus:
            hold_item(first, MOTOR, sku)
        other.start()
        until_it_waits(rt, other)  # for an item the first holds
        for sku in then:
            hold_item(first, MOTOR, sku)
    other.join()


def until_it_waits(rt: Runtime, other: threading.Thread) -> None:
    """Until `other` waits for a lock (on PostgreSQL: a session of this database waiting on
    one), or it is done without waiting; on SQLite, a moment for it to queue for the write
    lock. The open transaction then goes on and commits: what `other` decides after its wait
    must see that."""
    if rt.engine.dialect.name != "postgresql":
        other.join(timeout=0.3)
        return
    deadline = time.monotonic() + 60
    while other.is_alive() and time.monotonic() < deadline:
        with rt.engine.connect() as watcher:  # a new look each time: the view is per transaction
            waiting = watcher.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            ).scalar_one()
        if waiting:
            return
        time.sleep(0.01)


def on_hand(rt: Runtime, sku: str, agreement: str = MOTOR) -> int:
    with transaction(rt.engine) as s:
        level = stock_levels(s, [agreement], [sku]).get((agreement, sku))
    return level.on_hand if level else 0


def billed(rt: Runtime, *, inferred: bool | None = None) -> list[int]:
    """The withdrawals that stand (not taken back), oldest first: posted, inferred from a
    count, or both (None)."""
    with transaction(rt.engine) as s:
        taken_back = set(s.scalars(select(col(LedgerRow.reverses_id))))
        rows = s.scalars(
            select(LedgerRow).where(col(LedgerRow.kind) == "withdrawal").order_by(col(LedgerRow.id))
        )
        return [
            row.qty for row in rows if row.id not in taken_back and inferred in (None, row.inferred)
        ]


def failed_messages(rt: Runtime) -> list[str]:
    with transaction(rt.engine) as s:
        return list(s.scalars(select(col(InboxRow.error)).where(col(InboxRow.error) != "")))


def test_a_withdrawal_reads_what_is_on_hand_only_once_it_holds_the_item(
    two_customers: Runtime,
) -> None:
    rt = two_customers
    say(rt, "motorkeeper", "6206 10", MOTOR)
    other = threading.Thread(target=say, args=(rt, "motorkeeper", "领用 6206 8", MOTOR, 30))
    with transaction(rt.engine) as first:  # another message takes 8 of the 10 meanwhile
        record_withdrawal(first, MOTOR, "6206", 8, T0 + timedelta(minutes=20), "motorkeeper")
        other.start()
        until_it_waits(rt, other)
    other.join()
    assert on_hand(rt, "6206") == 2  # the second 8 was refused: never below zero
    assert billed(rt) == [8]


def test_confirming_held_counts_takes_their_items_in_the_order_a_count_does(
    two_customers: Runtime,
) -> None:
    rt = two_customers
    say(rt, "motorkeeper", "6206 20\n6207 10", MOTOR)
    say(rt, "motorkeeper", "6207 1", MOTOR, at=10)  # held (10 → 1): the first held row
    say(rt, "motorkeeper", "6206 2", MOTOR, at=11)  # held (20 → 2): the second
    with transaction(rt.engine) as s:
        assert [r.sku for r in s.scalars(select(HeldCountRow).order_by(col(HeldCountRow.id)))] == [
            "6207",
            "6206",
        ]
    # a count of both items holds 6206, then 6207, while the keeper confirms both held counts
    while_holding(rt, ["6206"], ["6207"], ("motorkeeper", "是"))
    assert failed_messages(rt) == []
    assert (on_hand(rt, "6206"), on_hand(rt, "6207")) == (2, 1)


def test_a_correction_of_several_lines_takes_their_items_in_the_order_a_count_does(
    two_customers: Runtime,
) -> None:
    rt = two_customers
    say(rt, "motorkeeper", "6206 20\n6207 10", MOTOR)
    say(rt, "motorkeeper", "6207 9\n6206 19", MOTOR, at=10)
    while_holding(rt, ["6206"], ["6207"], ("motorkeeper", "更正 6207 8\n6206 18"))
    assert failed_messages(rt) == []
    assert (on_hand(rt, "6206"), on_hand(rt, "6207")) == (18, 8)


def test_two_counts_of_the_same_items_in_other_orders_both_land(two_customers: Runtime) -> None:
    rt = two_customers
    with transaction(rt.engine) as s:
        for sku, qty in (("6205", 30), ("6206", 20), ("6207", 10)):
            record_count(s, MOTOR, sku, qty, T0, "motorkeeper")
    while_holding(rt, ["6205", "6206"], ["6207"], ("motorkeeper", "6207 9\n6206 19\n6205 29"))
    assert failed_messages(rt) == []
    assert [on_hand(rt, sku) for sku in ("6205", "6206", "6207")] == [29, 19, 9]


def test_a_receipt_corrected_while_stock_is_taken_never_leaves_the_book_below_zero(
    two_customers: Runtime,
) -> None:
    rt = two_customers
    keeper = Actor("keeper", "王仓管", "warehouse")
    with transaction(rt.engine) as s:
        record_count(s, PLANT, "6205", 45, T0, "keeper")
        review(s, rt.config, T0, platforms=frozenset({"console"}))  # P1: 55
    with transaction(rt.engine) as s:
        act(s, "P1", "confirm", Actor("buyer", "王采购", "buyer"), T0)
        act(s, "P1", "ship", Actor("supplier", "李供应", "supplier"), T0)
        act(s, "P1", "receive", keeper, T0, qty=50)  # 95 on hand
    refused: list[str] = []

    def put_right() -> None:  # the 50 received were 10: 55 on hand, were nothing else taken
        with transaction(rt.engine) as s:
            proposal = get_proposal(s, "P1")
            assert proposal is not None
            try:
                correct_receipt(s, proposal, 10, keeper, T0 + timedelta(hours=1))
            except ReceiptNotCorrected as why:
                refused.append(why.reason)

    other = threading.Thread(target=put_right)
    with transaction(rt.engine) as first:  # 80 taken meanwhile: 15 on hand
        record_withdrawal(first, PLANT, "6205", 80, T0 + timedelta(minutes=30), "keeper")
        other.start()
        until_it_waits(rt, other)
    other.join()
    assert refused == ["receipt_short"]  # 15 - 50 + 10 would be -25
    assert on_hand(rt, "6205", PLANT) == 15


def count_and_propose(rt: Runtime, qty: int = 45) -> None:
    """The example's item counted at `qty` and reviewed: P1 proposed (55 for 45)."""
    with transaction(rt.engine) as s:
        record_count(s, PLANT, "6205", qty, T0, "keeper")
        review(s, rt.config, T0, platforms=frozenset({"console"}))


def test_a_confirm_pressed_on_a_card_resized_meanwhile_confirms_nothing(
    two_customers: Runtime,
) -> None:
    rt = two_customers
    count_and_propose(rt)

    def review_resizes(first: Session) -> None:  # as the review does when the need changed
        row = stored_proposals.get(first, "P1")
        assert row is not None
        assert stored_proposals.apply(first, row, stored_proposals.as_rule(row).resize(75, T0))

    press = ButtonPress("confirm", "P1@55")  # the buyer presses Confirm on the card of 55
    meanwhile(rt, review_resizes, "buyer", "", PLANT, 1, press)
    assert failed_messages(rt) == []
    with transaction(rt.engine) as s:
        p1 = stored_proposals.get(s, "P1")
        assert p1 is not None and (p1.state, p1.qty) == ("proposed", 75)  # told it changed


def test_a_back_dated_withdrawal_never_lands_before_a_count_made_meanwhile(
    two_customers: Runtime,
) -> None:
    rt = two_customers
    with transaction(rt.engine) as s:
        record_count(s, PLANT, "6205", 60, T0 - timedelta(days=3), "keeper")

    def count_now(first: Session) -> None:  # a count of 55 in another message
        record_count(first, PLANT, "6205", 55, T0 + timedelta(minutes=20), "keeper")

    meanwhile(rt, count_now, "keeper", "昨天 领用 6205 5", PLANT, 30)
    assert failed_messages(rt) == []
    assert billed(rt, inferred=False) == []  # refused: the count of 55 after that day holds them
    assert on_hand(rt, "6205", PLANT) == 55


def test_a_correction_while_the_held_count_is_confirmed_takes_its_withdrawal_back(
    two_customers: Runtime,
) -> None:
    rt = two_customers
    with transaction(rt.engine) as s:
        record_count(s, PLANT, "6205", 60, T0 - timedelta(hours=2), "keeper")
    say(rt, "keeper", "6205 库存 6", PLANT, -60)  # held: 60 -> 6 looks mistyped
    with transaction(rt.engine) as s:
        [held] = held_counts.waiting(s, PLANT)

    def confirm_held(first: Session) -> None:  # the keeper's 是 in another message
        hold_item(first, PLANT, "6205")
        row = first.get(HeldCountRow, held.id)
        assert row is not None and held_counts.confirm(first, row, T0)
        record_count(first, PLANT, "6205", row.qty, row.at, member_id="keeper")

    meanwhile(rt, confirm_held, "keeper", "更正 6205 58", PLANT, 1)
    assert failed_messages(rt) == []
    assert billed(rt, inferred=True) == [2]  # 60 -> 58; the 54 the typo inferred is taken back
    assert on_hand(rt, "6205", PLANT) == 58


def test_an_urgent_change_said_while_the_review_proposes_counts_the_review_s_proposal(
    two_customers: Runtime,
) -> None:
    rt = two_customers
    with transaction(rt.engine) as s:
        record_count(s, PLANT, "6205", 45, T0, "keeper")

    def scheduled_review(first: Session) -> None:  # P1: 55, the position 100
        review(first, rt.config, T0, platforms=frozenset({"console"}))

    meanwhile(rt, scheduled_review, "buyer", "紧急 6205 下月需求改为 100", PLANT, 1)
    assert failed_messages(rt) == []
    with transaction(rt.engine) as s:
        rows = s.scalars(select(ProposalRow).order_by(col(ProposalRow.id)))
        # the position of 100 covers a requirement of 100: no urgent top-up of the same need
        assert [(r.urgent, r.qty) for r in rows] == [(False, 55)]


def test_two_amendments_agreed_at_once_cannot_leave_min_above_max(two_customers: Runtime) -> None:
    rt = two_customers
    say(rt, "buyer", "修改 6205 补货线 90", PLANT)  # A1: min 50 -> 90 (max 100: fine alone)
    say(rt, "buyer", "修改 6205 安全线 80", PLANT, 1)  # A2: max 100 -> 80 (min 50: fine alone)

    def supplier_agrees_to_a1(first: Session) -> None:  # in another message, as it does
        hold_item(first, PLANT, "6205")
        a1 = amendments.get(first, "A1")
        assert a1 is not None and amendments.decide(first, a1, amendments.APPLIED, "supplier", T0)

    meanwhile(rt, supplier_agrees_to_a1, "supplier", "同意 A2", PLANT, 2)
    assert failed_messages(rt) == []
    with transaction(rt.engine) as s:
        a2 = amendments.get(s, "A2")
        assert a2 is not None and a2.state == amendments.PROPOSED  # refused: min 90 > max 80
        terms = effective_agreement(rt.config, s, rt.config.agreements[0])
    item = terms.item("6205")
    assert item is not None and (item.min, item.max) == (90, 100)


def test_two_plans_of_an_item_at_once_each_name_the_plan_they_replaced(
    two_customers: Runtime,
) -> None:
    rt = two_customers
    say(rt, "buyer", "下月 6205 需求 100", PLANT)

    def another_plan(first: Session) -> None:  # the buyer's colleague, in another message
        set_plan(first, PLANT, "6205", next_month, 200, T0 + timedelta(minutes=5), "buyer")

    next_month = month_of(date(2026, 12, 1))
    meanwhile(rt, another_plan, "buyer", "下月 6205 需求 300", PLANT, 10)
    assert failed_messages(rt) == []
    with transaction(rt.engine) as s:
        history = s.scalars(select(PlanHistoryRow).order_by(col(PlanHistoryRow.id)))
        assert [(h.qty, h.previous_qty) for h in history] == [(100, None), (200, 100), (300, 200)]


def test_a_correction_of_a_locked_month_is_carried_once_when_two_statements_are_drafted_at_once(
    two_customers: Runtime,
) -> None:
    rt = two_customers
    plant = rt.config.agreements[0]
    buyer, supplier = Actor("buyer", "王采购", "buyer"), Actor("supplier", "李供应", "supplier")
    with transaction(rt.engine) as s:
        record_count(s, PLANT, "6205", 100, shanghai(2026, 11, 1, 9), "keeper")
        record_count(s, PLANT, "6205", 90, shanghai(2026, 11, 24, 9), "keeper")  # 10 taken
        settlement.draft(s, rt.config, plant, shanghai(2026, 11, 25, 9))  # S1
    with transaction(rt.engine) as s:
        settlement.confirm(s, rt.config, plant, "S1", buyer, shanghai(2026, 11, 25, 10))
        settlement.confirm(s, rt.config, plant, "S1", supplier, shanghai(2026, 11, 25, 10))
        settlement.draft(s, rt.config, plant, shanghai(2026, 12, 25, 9))  # S2, left unsigned
    with transaction(rt.engine) as s:  # S1's count of 90 was 95: 5 of S1's 10 were not taken
        record_count(s, PLANT, "6205", 95, shanghai(2026, 12, 26, 9), "keeper", correction=True)

    def reissue_s2(first: Session) -> None:  # the supplier's 重新出账 S2, in another message
        s2 = stored_statements.get(first, "S2")
        assert s2 is not None
        settlement.reissue(
            first, rt.config, plant, s2, supplier, shanghai(2027, 1, 25, 8), frozenset()
        )

    def settlement_day_job() -> None:
        with transaction(rt.engine) as s:
            settlement.draft(s, rt.config, plant, shanghai(2027, 1, 25, 9))  # S3

    other = threading.Thread(target=settlement_day_job)
    with transaction(rt.engine) as first:
        reissue_s2(first)
        other.start()
        until_it_waits(rt, other)
    other.join()
    with transaction(rt.engine) as s:
        carried = stored_statements.carried(s, PLANT)
    assert carried == {("S1", "6205"): -5}  # in one statement, not in both


def test_a_stock_out_said_while_the_replenishment_check_runs_waits_its_turn(
    two_customers: Runtime,
) -> None:
    rt = two_customers
    with transaction(rt.engine) as s:
        record_count(s, PLANT, "6205", 45, T0, "keeper")
    other = threading.Thread(target=say, args=(rt, "keeper", "6205 库存 0", PLANT, 5))
    with transaction(rt.engine) as check:  # 补货检查: the review, then the overstock check
        take_reviews_turn(check)
        other.start()
        until_it_waits(rt, other)  # for the review's turn, holding nothing
        hold_items(check, PLANT, ["6205"])
    other.join()
    assert failed_messages(rt) == []
    assert on_hand(rt, "6205", PLANT) == 0
    with transaction(rt.engine) as s:  # the stock-out's own review proposed at once
        assert [p.qty for p in s.scalars(select(ProposalRow))] == [100]


def test_a_sheet_of_plans_takes_its_items_in_the_order_a_count_does(two_customers: Runtime) -> None:
    rt = two_customers
    month = month_of(date(2026, 12, 1)).label
    lines = [
        {"row": row, "kind": "plan", "sku": sku, "qty": qty, "period": month, "problem": "",
         "text": f"{sku} {qty}", "name": sku, "unit": "pcs"}
        for row, sku, qty in ((2, "6207", 10), (3, "6206", 20))
    ]  # fmt: skip
    with transaction(rt.engine) as s:  # the buyer's sheet, previewed: 6207 first, then 6206
        sheet_imports.add(s, SheetImportRow(
            agreement_id=MOTOR, content_hash="0" * 64, file_name="plans.xlsx",
            member_id="motorbuyer", lines=json.dumps(lines), created_at=T0,
        ))  # fmt: skip
    press = ButtonPress("confirm_import", "I1")
    other = threading.Thread(target=say, args=(rt, "motorbuyer", "", MOTOR, 30, press))
    with transaction(rt.engine) as count:  # a count of both items: 6206, then 6207
        hold_item(count, MOTOR, "6206")
        other.start()
        until_it_waits(rt, other)
        hold_item(count, MOTOR, "6207")
    other.join()
    assert failed_messages(rt) == []
    with transaction(rt.engine) as s:
        plans = s.scalars(select(DemandPlanRow).where(col(DemandPlanRow.agreement_id) == MOTOR))
        assert sorted((p.sku, p.qty) for p in plans) == [("6206", 20), ("6207", 10)]
