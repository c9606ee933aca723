"""Storage on SQLite and PostgreSQL: migrations, the catalog, the ledger, guarded transitions,
the inbox and the review service, each against a real database."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, update
from sqlmodel import col

from bot.app.bootstrap import start
from bot.runtime.context import Runtime
from bot.services.review import review
from bot.storage.db import transaction
from bot.storage.inbox import TakenElsewhere, claim, heads, mark_handled, receive
from bot.storage.migrate import HEAD, alembic_config
from bot.storage.outbox import Destination, Message, enqueue, enqueue_all
from bot.storage.plans import set_plan
from bot.storage.proposals import act, as_rule
from bot.storage.proposals import apply as apply_transition
from bot.storage.proposals import get as get_proposal
from bot.storage.stock import (
    aged_quantities,
    hold_item,
    record_count,
    record_receipt,
    record_withdrawal,
    stock_levels,
)
from bot.storage.tables import (
    InboxRow,
    ItemRow,
    LedgerRow,
    OutboxRow,
    ProposalRow,
    ProposalTransitionRow,
)
from messages.cards import Card
from tests.support import EXAMPLE, shanghai
from vmi_rules.aging import aged_qty
from vmi_rules.ledger import Movement, on_hand
from vmi_rules.ledger import apply as apply_movement
from vmi_rules.periods import next_month
from vmi_rules.proposal import Actor, TransitionRefused

AGREEMENT, SKU = "plant-6205", "6205"
KEEPER = Actor("keeper", "王仓管", "warehouse")
BUYER = Actor("buyer", "王采购", "buyer")
SUPPLIER = Actor("supplier", "李供应", "supplier")
T0 = shanghai(2026, 11, 21, 10, 0)


def count(rt: Runtime, qty: int, at=T0):  # type: ignore[no-untyped-def]
    with transaction(rt.engine) as s:
        return record_count(s, AGREEMENT, SKU, qty, at, member_id="keeper")


def run_review(rt: Runtime, at=T0, platforms=frozenset({"console"})):  # type: ignore[no-untyped-def]
    with transaction(rt.engine) as s:
        return review(s, rt.config, at, platforms=platforms)


def proposals(rt: Runtime) -> list[ProposalRow]:
    with transaction(rt.engine) as s:
        return list(s.scalars(select(ProposalRow).order_by(ProposalRow.id)))


def level(rt: Runtime) -> int:
    with transaction(rt.engine) as s:
        return stock_levels(s, [AGREEMENT])[(AGREEMENT, SKU)].on_hand


# --- migrations and the catalog -------------------------------------------------------------


def test_restart_applies_no_migration_twice_and_keeps_the_ledger(database_url: str) -> None:
    first = start(str(EXAMPLE), database_url)
    count(first, 45)
    first.engine.dispose()
    again = start(str(EXAMPLE), database_url)
    try:
        assert level(again) == 45
        with again.engine.connect() as conn:
            versions = conn.exec_driver_sql("SELECT version_num FROM alembic_version").all()
        assert versions == [(HEAD,)]
    finally:
        again.engine.dispose()


def test_a_current_database_starts_without_loading_alembic(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'vmi.sqlite'}"
    probe = (
        "import sys; from bot.app.bootstrap import start; "
        f"start({str(EXAMPLE)!r}, {db!r}).engine.dispose(); print('alembic' in sys.modules)"
    )
    run = [sys.executable, "-c", probe]
    assert subprocess.run(run, capture_output=True, text=True, check=True).stdout.split() == [
        "True"
    ]  # a new database is migrated
    assert subprocess.run(run, capture_output=True, text=True, check=True).stdout.split() == [
        "False"
    ]


def test_head_names_the_newest_migration() -> None:
    from alembic.script import ScriptDirectory

    assert ScriptDirectory.from_config(alembic_config()).get_current_head() == HEAD


def test_changed_config_updates_items_and_keeps_history(database_url: str, tmp_path: Path) -> None:
    first = start(str(EXAMPLE), database_url)
    count(first, 45)
    first.engine.dispose()

    changed = EXAMPLE.read_text(encoding="utf-8").replace("min = 50", "min = 40")
    changed += '\n[[agreements.items]]\nsku = "6206"\nname = "6206 轴承"\nmin = 10\nmax = 20\n'
    changed += "unit_price = 15\n"
    path = tmp_path / "changed.toml"
    path.write_text(changed, encoding="utf-8")
    second = start(str(path), database_url)
    with transaction(second.engine) as s:
        items = {i.sku: i for i in s.scalars(select(ItemRow))}
    assert items["6205"].min == 40 and items["6206"].active
    second.engine.dispose()

    third = start(str(EXAMPLE), database_url)  # 6206 left the file again
    try:
        with transaction(third.engine) as s:
            items = {i.sku: i for i in s.scalars(select(ItemRow))}
        assert items["6205"].min == 50
        assert not items["6206"].active
        assert level(third) == 45
    finally:
        third.engine.dispose()


# --- the ledger ------------------------------------------------------------------------------


def test_a_lower_count_stores_the_inferred_withdrawal_before_it(runtime: Runtime) -> None:
    count(runtime, 100)
    recorded = count(runtime, 90, T0 + timedelta(days=1))
    assert recorded.book_on_hand == 100 and recorded.outcome.withdrawn == 10
    with transaction(runtime.engine) as s:
        rows = list(s.scalars(select(LedgerRow).order_by(LedgerRow.id)))
    assert [(r.kind, r.qty, r.inferred) for r in rows] == [
        ("count", 100, False),
        ("withdrawal", 10, True),
        ("count", 90, False),
    ]
    assert level(runtime) == 90


def test_a_count_that_rose_without_receipt_is_flagged_not_a_negative_withdrawal(
    runtime: Runtime,
) -> None:
    count(runtime, 40)
    recorded = count(runtime, 47, T0 + timedelta(hours=2))
    assert recorded.outcome.anomaly and recorded.outcome.gain == 7
    with transaction(runtime.engine) as s:
        withdrawals = s.scalar(
            select(func.count()).select_from(LedgerRow).where(LedgerRow.kind == "withdrawal")
        )
        last = s.scalars(select(LedgerRow).order_by(LedgerRow.id.desc())).first()
    assert withdrawals == 0
    assert last is not None and last.anomaly_gain == 7
    assert level(runtime) == 47


movement = st.one_of(
    st.tuples(st.just("count"), st.integers(0, 500)),
    st.tuples(st.just("receipt"), st.integers(1, 200)),
    st.tuples(st.just("withdrawal"), st.integers(1, 200)),
    st.tuples(st.just("adjustment"), st.integers(-50, 50)),
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=st.lists(movement, max_size=15))
def test_on_hand_in_sql_is_the_rules_on_hand(runtime: Runtime, steps: list) -> None:  # type: ignore[type-arg]
    with transaction(runtime.engine) as s:
        s.execute(LedgerRow.__table__.delete())
        for i, (kind, qty) in enumerate(steps):
            at = T0 + timedelta(minutes=i)
            s.add(
                LedgerRow(
                    agreement_id=AGREEMENT, sku=SKU, kind=kind, qty=qty, at=at, recorded_at=at
                )
            )
        s.flush()
        stored = stock_levels(s, [AGREEMENT]).get((AGREEMENT, SKU))
    expected = on_hand(Movement(kind, qty, T0) for kind, qty in steps)
    assert (stored.on_hand if stored else 0) == expected


# --- proposals: guarded transitions ------------------------------------------------------------


def test_count_45_proposes_55_and_the_proposal_walks_to_received_100(runtime: Runtime) -> None:
    count(runtime, 45)
    [result] = [r for r in run_review(runtime) if r.decision.action == "propose"]
    assert (result.proposal_id, result.decision.qty) == ("P1", 55)
    at = T0 + timedelta(hours=1)
    with transaction(runtime.engine) as s:
        act(s, "P1", "confirm", BUYER, at)
        act(s, "P1", "ship", SUPPLIER, at)
        row, transition = act(s, "P1", "receive", KEEPER, at, qty=50)
    assert (row.state, row.received_qty, transition.qty) == ("shipped", 50, 50)
    assert level(runtime) == 95
    with transaction(runtime.engine) as s:
        row, _ = act(s, "P1", "receive", KEEPER, at)  # the rest
        log = [
            (t.action, t.from_state, t.to_state, t.by_name)
            for t in s.scalars(select(ProposalTransitionRow).order_by(ProposalTransitionRow.id))
        ]
    assert row.state == "received" and level(runtime) == 100
    assert log == [
        ("propose", None, "proposed", "system"),
        ("confirm", "proposed", "confirmed", "王采购"),
        ("ship", "confirmed", "shipped", "李供应"),
        ("receive", "shipped", "shipped", "王仓管"),
        ("receive", "shipped", "received", "王仓管"),
    ]


def test_the_collector_is_paused_only_while_a_review_runs(runtime: Runtime) -> None:
    count(runtime, 45)
    assert gc.isenabled()
    [result] = [r for r in run_review(runtime) if r.decision.action == "propose"]
    assert result.proposal_id == "P1" and gc.isenabled()
    gc.disable()  # a caller that had it off keeps it off
    try:
        run_review(runtime, T0 + timedelta(days=1))
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_message_queued_again_under_its_key_is_queued_once_and_the_order_kept(
    runtime: Runtime,
) -> None:
    chat = Destination("console", "group")
    with transaction(runtime.engine) as s:
        enqueue(s, chat, Card("1"), T0, key="reply:1")
    with transaction(runtime.engine) as s:  # a redelivery, later, and a batch with a repeat
        enqueue(s, chat, Card("1 again"), T0, key="reply:1")
        enqueue_all(s, [Message(chat, Card("2"), T0, "reply:2"), Message(chat, Card("x"), T0),
                        Message(chat, Card("2 again"), T0, "reply:2"),
                        Message(chat, Card("y"), T0)])  # fmt: skip
    with transaction(runtime.engine) as s:
        queued = s.scalars(select(OutboxRow).order_by(OutboxRow.id)).all()  # type: ignore[arg-type]
        assert [(r.key, Card.from_json(r.card).title, r.state) for r in queued] == [
            ("reply:1", "1", "pending"), ("reply:2", "2", "pending"), (None, "x", "pending"),
            (None, "y", "pending"),
        ]  # fmt: skip


def test_a_keeper_cannot_confirm_and_nothing_changes(runtime: Runtime) -> None:
    count(runtime, 45)
    run_review(runtime)
    with pytest.raises(TransitionRefused) as refused, transaction(runtime.engine) as s:
        act(s, "P1", "confirm", KEEPER, T0)
    assert refused.value.reason == "wrong_role"
    assert [p.state for p in proposals(runtime)] == ["proposed"]


def test_two_buyers_confirming_at_once_give_exactly_one_confirmation(runtime: Runtime) -> None:
    count(runtime, 45)
    run_review(runtime)
    buyers = [Actor("buyer", "王采购", "buyer"), Actor("admin", "管理员", "admin")]
    start_line = threading.Barrier(len(buyers))
    outcomes: list[str] = []

    def press(actor: Actor) -> None:
        start_line.wait()
        try:
            with transaction(runtime.engine) as s:
                act(s, "P1", "confirm", actor, T0)
            outcomes.append("confirmed")
        except TransitionRefused as refused:
            outcomes.append(f"{refused.reason} by {refused.decided_by}")

    threads = [threading.Thread(target=press, args=(b,)) for b in buyers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes)[0] == "already by " + proposals(runtime)[0].decided_by
    assert outcomes.count("confirmed") == 1
    with transaction(runtime.engine) as s:
        confirmations = s.scalar(
            select(func.count())
            .select_from(ProposalTransitionRow)
            .where(ProposalTransitionRow.action == "confirm")
        )
    assert confirmations == 1


# --- the review service ----------------------------------------------------------------------


def test_a_second_review_proposes_nothing_new_and_queues_no_second_card(runtime: Runtime) -> None:
    count(runtime, 45)
    both = frozenset({"console", "slack"})
    first = run_review(runtime, platforms=both)
    second = run_review(runtime, T0 + timedelta(days=3), platforms=both)
    assert [r.decision.action for r in first] == ["propose"]
    assert [r.decision.action for r in second] == ["keep"]
    assert len(proposals(runtime)) == 1
    with transaction(runtime.engine) as s:
        cards = list(s.scalars(select(OutboxRow).order_by(OutboxRow.id)))
    assert [(c.platform, c.chat) for c in cards] == [("console", AGREEMENT), ("slack", "C01VMI")]
    card = Card.from_json(cards[0].card)
    assert "P1" in card.title and "55" in card.lines[0]
    assert [b.action for b in card.buttons] == ["confirm", "adjust", "reject"]


def test_two_reviews_at_once_make_one_proposal(runtime: Runtime) -> None:
    count(runtime, 45)
    start_line = threading.Barrier(2)
    errors: list[BaseException] = []

    def review_now() -> None:
        start_line.wait()
        try:
            run_review(runtime)
        except BaseException as err:  # the test reports it below
            errors.append(err)

    threads = [threading.Thread(target=review_now) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert [(p.qty, p.state) for p in proposals(runtime)] == [(55, "proposed")]


def test_more_withdrawals_resize_the_unconfirmed_proposal(runtime: Runtime) -> None:
    count(runtime, 45)
    run_review(runtime)
    with transaction(runtime.engine) as s:
        record_withdrawal(s, AGREEMENT, SKU, 15, T0 + timedelta(hours=5), member_id="keeper")
    [result] = run_review(runtime, T0 + timedelta(days=3))
    assert (result.decision.action, result.previous_qty, result.decision.qty) == ("update", 55, 70)
    assert [(p.id, p.qty) for p in proposals(runtime)] == [(1, 70)]


def test_a_confirmed_proposal_is_never_resized_or_duplicated(runtime: Runtime) -> None:
    count(runtime, 45)
    run_review(runtime)
    with transaction(runtime.engine) as s:
        act(s, "P1", "confirm", BUYER, T0)
        record_withdrawal(s, AGREEMENT, SKU, 30, T0 + timedelta(hours=5), member_id="keeper")
    [result] = run_review(runtime, T0 + timedelta(days=3))
    assert result.decision.action == "keep"
    assert [(p.qty, p.state) for p in proposals(runtime)] == [(55, "confirmed")]


def test_a_demand_plan_brings_the_proposal_forward(runtime: Runtime) -> None:
    count(runtime, 60)  # above min 50 today...
    with transaction(runtime.engine) as s:
        # ...but 300 next month is 10 a day: within review (3) + lead time (3) days it is below
        set_plan(s, AGREEMENT, SKU, next_month(T0.date()), 300, T0)
    [result] = run_review(runtime, shanghai(2026, 11, 29, 8, 0))
    assert result.decision.action == "propose" and result.decision.reason == "forecast"
    assert result.decision.qty == 40


def test_items_never_counted_get_no_guessed_proposal(runtime: Runtime) -> None:
    assert run_review(runtime) == []
    assert proposals(runtime) == []


def test_a_receipt_without_proposal_is_stock_too(runtime: Runtime) -> None:
    count(runtime, 45)
    with transaction(runtime.engine) as s:
        record_receipt(s, AGREEMENT, SKU, 10, T0 + timedelta(minutes=5), member_id="keeper")
    assert level(runtime) == 55


# --- the inbox -------------------------------------------------------------------------------


def test_the_same_platform_message_is_stored_once(runtime: Runtime) -> None:
    with transaction(runtime.engine) as s:
        first = receive(s, "slack", "Ev01", T0, text="6205 库存 45")
    with transaction(runtime.engine) as s:
        again = receive(s, "slack", "Ev01", T0, text="6205 库存 45")
        other_platform = receive(s, "wecom", "Ev01", T0, text="6205 库存 45")
        stored = s.scalar(select(func.count()).select_from(InboxRow))
    assert first is not None and again is None and other_platform is not None
    assert stored == 2


def test_a_messages_text_is_stored_once_and_read_back_whole(runtime: Runtime) -> None:
    text = "6205 库存 45\n" * 500
    message = json.dumps({"platform": "slack", "text": text, "at": T0.isoformat()})
    with transaction(runtime.engine) as s:
        new = receive(s, "slack", "Ev10", T0, text=text, incoming=message)
        # a row as stored before: the text in its column and in the JSON too
        before = json.dumps({"platform": "slack", "text": "6206 库存 30"})
        old = receive(s, "slack", "Ev11", T0, text="6206 库存 30")
        s.execute(update(InboxRow).where(col(InboxRow.id) == old).values(incoming=before))
    assert new is not None and old is not None
    with transaction(runtime.engine) as s:
        kept = s.scalar(select(InboxRow.incoming).where(col(InboxRow.id) == new))
        assert kept is not None and text not in kept and "6205" not in kept
        assert (claim(s, new, T0) or {})["text"] == text
        assert (claim(s, old, T0) or {})["text"] == "6206 库存 30"
        assert claim(s, new, T0) is None  # taken once


def test_a_batch_takes_each_chats_oldest_message_whole_and_only_those_it_marks_are_done(
    runtime: Runtime,
) -> None:
    def said(message_id: str, chat: str, text: str) -> int | None:
        message = json.dumps({"platform": "slack", "text": text})
        return receive(s, "slack", message_id, T0, chat=chat, text=text, incoming=message)

    with transaction(runtime.engine) as s:
        a1, a2 = said("A1", "CA", "6205 库存 45"), said("A2", "CA", "6205 库存 40")
        b1 = said("B1", "CB", "6205 库存 30")
    with transaction(runtime.engine) as s:
        taken = heads(s, 10)
        assert [message.id for message in taken] == [a1, b1]  # one message of each chat
        assert [(m.stored() or {})["text"] for m in taken] == ["6205 库存 45", "6205 库存 30"]
        assert a1 is not None
        mark_handled(s, [a1], T0)  # the batch stopped after its first message
    with transaction(runtime.engine) as s:
        assert [message.id for message in heads(s, 10)] == [a2, b1]
    with pytest.raises(TakenElsewhere), transaction(runtime.engine) as s:
        mark_handled(s, [a1, b1], T0)  # a1 was done: the batch must not commit as if it did it
    with transaction(runtime.engine) as s:
        assert [message.id for message in heads(s, 10)] == [a2, b1]  # b1 is waiting still


def test_a_chat_with_a_long_backlog_does_not_keep_the_other_chats_waiting(
    runtime: Runtime,
) -> None:
    """One chat's hundreds of waiting messages come first; the chats after them are still
    taken in the same batch, each with its oldest message, and the long chat's in order."""

    def said(message_id: str, chat: str) -> int:
        text = f"6205 库存 {message_id}"
        message = json.dumps({"platform": "slack", "text": text})
        stored = receive(s, "slack", message_id, T0, chat=chat, text=text, incoming=message)
        assert stored is not None
        return stored

    with transaction(runtime.engine) as s:
        backlog = [said(f"A{n}", "CA") for n in range(250)]  # read in pages of 10, 20, 40, …
        b1, c1, b2 = said("B1", "CB"), said("C1", "CC"), said("B2", "CB")
    with transaction(runtime.engine) as s:
        assert [message.id for message in heads(s, 10)] == [backlog[0], b1, c1]
        mark_handled(s, [backlog[0], b1], T0)
    with transaction(runtime.engine) as s:
        assert [message.id for message in heads(s, 10)] == [backlog[1], c1, b2]


def test_a_proposal_no_longer_needed_is_withdrawn_before_anyone_confirms_it(
    runtime: Runtime,
) -> None:
    count(runtime, 45)
    run_review(runtime)
    with transaction(runtime.engine) as s:
        record_receipt(s, AGREEMENT, SKU, 50, T0 + timedelta(hours=2), member_id="keeper")
    [result] = run_review(runtime, T0 + timedelta(days=3))
    assert (result.decision.action, result.proposal_id) == ("withdraw", "P1")
    assert [(p.state, p.qty) for p in proposals(runtime)] == [("expired", 55)]
    with transaction(runtime.engine) as s:
        last = s.scalars(select(OutboxRow).order_by(OutboxRow.id.desc())).first()
    assert last is not None
    card = Card.from_json(last.card)
    assert card.title.startswith("补货建议已撤回 P1") and card.buttons == ()


def test_two_counts_at_once_infer_the_withdrawal_once(runtime: Runtime) -> None:
    count(runtime, 100)
    second = threading.Thread(target=count, args=(runtime, 90, T0 + timedelta(hours=1)))
    with transaction(runtime.engine) as first:
        record_count(first, AGREEMENT, SKU, 90, T0 + timedelta(hours=1), member_id="keeper")
        second.start()  # the same count from a second process, while the first is still open
        second.join(timeout=1.0)
    second.join()
    with transaction(runtime.engine) as s:
        withdrawn = s.scalar(select(func.sum(LedgerRow.qty)).where(LedgerRow.kind == "withdrawal"))
    assert withdrawn == 10 and level(runtime) == 90


def test_a_count_that_waited_for_the_item_reads_the_book_the_other_left(runtime: Runtime) -> None:
    count(runtime, 100)
    later = T0 + timedelta(hours=1)

    def as_a_count_message_does() -> None:  # hold the item, then read its book, then record
        with transaction(runtime.engine) as s:
            hold_item(s, AGREEMENT, SKU)
            levels = stock_levels(s, [AGREEMENT], [SKU])
            record_count(s, AGREEMENT, SKU, 90, later, member_id="keeper", levels=levels)

    second = threading.Thread(target=as_a_count_message_does)
    with transaction(runtime.engine) as first:
        record_count(first, AGREEMENT, SKU, 90, later, member_id="keeper")
        second.start()  # waits for the item; a book read before the wait would be 100
        second.join(timeout=1.0)
    second.join()
    with transaction(runtime.engine) as s:
        withdrawn = s.scalar(select(func.sum(LedgerRow.qty)).where(LedgerRow.kind == "withdrawal"))
    assert withdrawn == 10 and level(runtime) == 90


def test_a_stale_read_cannot_confirm_what_another_session_confirmed(runtime: Runtime) -> None:
    count(runtime, 45)
    run_review(runtime)
    with transaction(runtime.engine) as s:
        stale = get_proposal(s, "P1")
    assert stale is not None
    with transaction(runtime.engine) as s:
        act(s, "P1", "confirm", BUYER, T0)
    admin = Actor("admin", "管理员", "admin")
    with transaction(runtime.engine) as s:
        assert not apply_transition(s, stale, as_rule(stale).confirm(admin, T0))
    assert [p.decided_by for p in proposals(runtime)] == ["王采购"]


def test_on_sqlite_a_reader_does_not_wait_for_a_writer(tmp_path: Path) -> None:
    rt = start(str(EXAMPLE), f"sqlite:///{tmp_path / 'vmi.sqlite'}")
    count(rt, 45)
    seen: list[int] = []

    def read_status() -> None:
        with transaction(rt.engine, read_only=True) as s:
            seen.append(stock_levels(s, [AGREEMENT])[(AGREEMENT, SKU)].on_hand)

    with transaction(rt.engine) as writer:  # holds SQLite's write lock until the block ends
        record_withdrawal(writer, AGREEMENT, SKU, 5, T0, member_id="keeper")
        reader = threading.Thread(target=read_status)
        reader.start()
        reader.join(timeout=5)
        assert seen == [45]  # answered at once, from the last committed state
    rt.engine.dispose()


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    steps=st.lists(
        st.tuples(movement, st.integers(0, 24 * 60)), max_size=12
    ),  # (movement, hours before now)
    days=st.integers(1, 40),
)
def test_aged_units_in_sql_are_the_rules_fifo_aging(
    runtime: Runtime,
    steps: list,
    days: int,  # type: ignore[type-arg]
) -> None:
    now = T0 + timedelta(days=60)
    # ledger order is time order, and stock never goes below zero (a later count would fix it)
    ordered = sorted(steps, key=lambda step: -step[1])
    movements, level = [], 0
    for (kind, qty), hours_ago in ordered:
        if (
            kind in ("withdrawal", "adjustment")
            and level - (qty if kind == "withdrawal" else -qty) < 0
        ):
            continue
        moved = Movement(kind, qty, now - timedelta(hours=hours_ago))
        level = apply_movement(level, moved)
        movements.append(moved)
    with transaction(runtime.engine) as s:
        s.execute(LedgerRow.__table__.delete())
        first = True
        for i, m in enumerate(movements):
            gain = 0
            if m.kind == "count" and not first:
                gain = max(0, m.qty - on_hand(movements[:i]))
            first = first and m.kind != "count"
            s.add(LedgerRow(agreement_id=AGREEMENT, sku=SKU, kind=m.kind, qty=m.qty, at=m.at,
                            recorded_at=m.at, anomaly_gain=gain))  # fmt: skip
        s.flush()
        levels = stock_levels(s, [AGREEMENT])
        stored = aged_quantities(s, levels, {AGREEMENT: days}, now).get((AGREEMENT, SKU), 0)
    assert stored == aged_qty(movements, now, days)


def test_the_migrations_build_exactly_the_tables_the_code_declares(runtime: Runtime) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlmodel import SQLModel

    with runtime.engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert [d for d in differences if "apscheduler" not in str(d)] == []
