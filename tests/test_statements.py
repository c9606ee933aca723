"""The statement both sides sign, through the conversation on a real SQLite file (and on
PostgreSQL where the fixture runs there): the seed's month bills 85 × 12.50, the buyer and the
supplier confirm in either order and it locks; a dispute, a correction and a re-issue; a locked
statement unchanged by a later correction, which the next statement carries as an adjustment;
drafted once across re-runs, a restart and two processes; and `vmi-bot settle --json`."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import threading
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.app.bootstrap import start
from bot.app.demo import MONTH, Press, Say, Scheduled
from bot.runtime.context import Runtime
from bot.services.review import review
from bot.services.settlement import post_statements
from bot.storage.db import transaction
from bot.storage.tables import OutboxRow, StatementEventRow, StatementRow
from handlers.conversation import handle
from handlers.incoming import ButtonPress, Incoming
from messages.cards import Card
from tests.support import EXAMPLE, shanghai

_ids = itertools.count(1)
GROUP = "plant-6205"
SETTLEMENT_DAY = shanghai(2026, 11, 25, 9)
VMI_BOT = str(Path(sys.executable).with_name("vmi-bot"))


@pytest.fixture
def rt(tmp_path: Path) -> Runtime:
    return start(str(EXAMPLE), f"sqlite:///{tmp_path / 'vmi.sqlite'}")


def posted(
    rt: Runtime, sender: str, text: str, at: datetime, chat: str = GROUP,
    button: ButtonPress | None = None,
) -> list[tuple[str, Card]]:  # fmt: skip
    """One message (or a button press); every card it queued, with the chat it goes to."""
    with transaction(rt.engine) as s:
        before = s.scalar(select(func.max(OutboxRow.id))) or 0
    via = "button" if button else "message"
    message = Incoming("console", chat, sender, f"m{next(_ids)}", at, text, button=button, via=via)
    handle(rt.engine, rt.config, message)
    with transaction(rt.engine) as s:
        rows = s.scalars(select(OutboxRow).where(OutboxRow.id > before).order_by(OutboxRow.id))
        return [(r.chat, Card.from_json(r.card)) for r in rows]


def say(rt: Runtime, sender: str, text: str, at: datetime) -> str:
    """One message in the group; the reply to it as text."""
    card = posted(rt, sender, text, at)[-1][1]
    return "\n".join((card.title, *card.lines))


def the_month(rt: Runtime) -> None:
    """The seed's month up to settlement day, as `vmi-bot demo` plays it: 85 withdrawn."""
    for step in MONTH:
        at = shanghai(2026, step.month, step.day, step.hour)
        if isinstance(step, Scheduled):
            if step.job != "review":
                return
            with transaction(rt.engine) as s:
                review(s, rt.config, at, platforms=frozenset({"console"}))
        elif isinstance(step, Press):
            say(rt, step.speaker, f"确认 {step.proposal}", at)
        else:
            assert isinstance(step, Say)
            say(rt, step.speaker, step.text, at)


def settle(rt: Runtime, at: datetime = SETTLEMENT_DAY) -> list[tuple[str, Card]]:
    """Settlement day's job; the cards it queued."""
    with transaction(rt.engine) as s:
        before = s.scalar(select(func.max(OutboxRow.id))) or 0
        post_statements(s, rt.config, at, platforms=frozenset({"console"}))
    with transaction(rt.engine) as s:
        rows = s.scalars(select(OutboxRow).where(OutboxRow.id > before).order_by(OutboxRow.id))
        return [(r.chat, Card.from_json(r.card)) for r in rows]


def statements(rt: Runtime) -> list[tuple[int, str, int, Decimal, str, str]]:
    """Each stored statement: id, state, revision, total, who signed each side."""
    with transaction(rt.engine, read_only=True) as s:
        return [
            (r.id or 0, r.state, r.revision, r.total, r.buyer_by, r.supplier_by)
            for r in s.scalars(select(StatementRow).order_by(StatementRow.id))
        ]


def at(day: int, hour: int, month: int = 11) -> datetime:
    return shanghai(2026, month, day, hour)


@pytest.mark.parametrize("first", ["buyer", "supplier"])
def test_the_seeds_month_is_confirmed_by_both_sides_in_either_order_and_locked(
    rt: Runtime, first: str
) -> None:
    the_month(rt)
    [(chat, card)] = settle(rt)
    assert chat == GROUP and card.title.startswith(
        "结算单 · S1 · plant-6205 · 2026-10-25 至 2026-11-24"
    )
    assert "6205 深沟球轴承：领用 85 件 × 12.50 = 1,062.50 元" in card.lines
    # the month's review is not repeated here: the full review posts at 09:30 with its chart
    assert not any("复盘" in line or "比计划少" in line for line in card.lines)
    assert [(b.label, b.action, b.value) for b in card.buttons] == [
        ("确认对账 (采购方)", "confirm_statement", "S1@1~buyer"),
        ("确认对账 (供应商)", "confirm_statement", "S1@1~supplier"),
        ("对账有误", "dispute_statement", "S1"),
    ]
    second = "supplier" if first == "buyer" else "buyer"
    side = {"buyer": "采购方", "supplier": "供应商"}
    once = say(rt, first, "确认对账 S1", at(25, 10))
    assert "已确认对账 S1 · " in once and f"（{side[first]}）" in once
    assert f"等待{side[second]}确认" in once
    both = say(rt, second, "确认对账 S1", at(25, 11))
    assert "S1 双方已确认，已锁定" in both
    assert statements(rt) == [(1, "locked", 1, Decimal("1062.50"), "王采购", "李供应")]
    shown = say(rt, "keeper", "对账", at(25, 12))  # everyone may look; nobody may sign twice
    assert "🔒 S1 双方已确认，已锁定（采购方 王采购 2026-11-25 1" in shown


def test_a_side_confirms_once_and_the_keeper_not_at_all(rt: Runtime) -> None:
    the_month(rt)
    settle(rt)
    refused = say(rt, "keeper", "确认对账 S1", at(25, 10))
    assert "「确认对账」只有" in refused and "什么都没有改变" in refused
    say(rt, "buyer", "确认对账 S1", at(25, 10))
    again = say(rt, "buyer", "确认对账 S1", at(25, 11))
    assert "S1 的采购方已经由 王采购 在 2026-11-25 10:00 确认过了" in again
    assert statements(rt)[0][1:3] == ("draft", 1)
    same = say(rt, "supplier", "重新出账 S1", at(25, 12))  # nothing changed, nobody disputed
    assert "S1 的数字没有变化、也没有异议，不用重新出账" in same
    assert statements(rt)[0][1:5] == ("draft", 1, Decimal("1062.50"), "王采购")
    with transaction(rt.engine) as s:
        confirmations = s.scalar(
            select(func.count()).select_from(StatementEventRow)
            .where(StatementEventRow.action == "confirm")
        )  # fmt: skip
    assert confirmations == 1


def test_a_dispute_then_a_correction_and_a_reissue_then_both_confirm(rt: Runtime) -> None:
    the_month(rt)
    say(rt, "keeper", "6205 库存 50", at(24, 10))  # the book says 60: 10 taken, says the count
    [(_, card)] = settle(rt)
    assert "合计 1,187.50 元" in "\n".join(card.lines)  # 95 × 12.50
    say(rt, "supplier", "确认对账 S1", at(25, 9))

    asked = say(rt, "buyer", "对账有误 S1", at(25, 9))
    assert "对账有误要写原因" in asked and "对账有误 S1 11-24" in asked
    # said one to one, the dispute is shown to both sides in the group
    cards = posted(
        rt, "buyer", "对账有误 S1 11-24 盘点多算了10件，实际 60", at(25, 10), chat="buyer"
    )
    assert [c for c, _ in cards] == [GROUP, "buyer"]  # the group's, then the reply
    assert "原因：11-24 盘点多算了10件，实际 60" in cards[0][1].lines
    assert statements(rt)[0][1:] == ("disputed", 1, Decimal("1187.50"), "", "")
    held = say(rt, "supplier", "确认对账 S1", at(25, 10))
    assert "S1 有异议（王采购：11-24 盘点多算了10件，实际 60）" in held

    say(rt, "keeper", "更正 6205 60", at(25, 11))  # takes back the count of 50 and its 10
    [(chat, reissued), (_, reply)] = posted(rt, "supplier", "重新出账 S1", at(25, 12))
    assert reply.title == "已重新出账 S1 第2版 · 李供应"
    assert "合计 1,187.50 → 1,062.50 元" in reply.lines[0]
    assert chat == GROUP and reissued.title.startswith("结算单 · S1 第2版")
    assert [b.value for b in reissued.buttons][:2] == ["S1@2~buyer", "S1@2~supplier"]

    stale = posted(rt, "buyer", "", at(25, 13),
                   button=ButtonPress("confirm_statement", "S1@1~buyer"))[-1][1]  # fmt: skip
    assert stale.refusal and "已经重新出账（现在是第2版）" in stale.lines[0]
    posted(rt, "buyer", "", at(25, 14), button=ButtonPress("confirm_statement", "S1@2~buyer"))
    assert "已锁定" in say(rt, "supplier", "确认对账 S1", at(25, 15))
    assert statements(rt) == [(1, "locked", 2, Decimal("1062.50"), "王采购", "李供应")]
    with transaction(rt.engine) as s:
        [dispute] = s.scalars(
            select(StatementEventRow).where(StatementEventRow.action == "dispute")
        ).all()
    assert (dispute.by_name, dispute.reason, dispute.total) == (
        "王采购", "11-24 盘点多算了10件，实际 60", Decimal("1187.50"),
    )  # fmt: skip


def test_a_locked_statement_stays_and_a_later_correction_is_the_next_ones_adjustment(
    rt: Runtime,
) -> None:
    the_month(rt)
    say(rt, "keeper", "6205 库存 50", at(24, 10))
    settle(rt)
    say(rt, "buyer", "确认对账 S1", at(25, 10))
    say(rt, "supplier", "确认对账 S1", at(25, 10))
    refused = say(rt, "buyer", "对账有误 S1 11-24 盘点多算了10件", at(25, 11))
    assert "S1 双方已确认并锁定，不能再改动，也不能再提异议" in refused

    say(rt, "keeper", "更正 6205 60", at(25, 12))  # found after the lock
    say(rt, "keeper", "领用 6205 20", at(1, 10, month=12))
    [(_, s2)] = settle(rt, shanghai(2026, 12, 25, 9))
    lines = "\n".join(s2.lines)
    assert s2.title.startswith("结算单 · S2 · plant-6205 · 2026-11-25 至 2026-12-24")
    assert "6205 深沟球轴承：领用 20 件 × 12.50 = 250.00 元" in lines
    adjusted = "调整（S1 2026-10-25 至 2026-11-24 已锁定后更正）6205 深沟球轴承："
    assert adjusted + "-10 件 × 12.50 = -125.00 元" in lines
    assert "合计 125.00 元" in lines
    assert statements(rt) == [
        (1, "locked", 1, Decimal("1187.50"), "王采购", "李供应"),  # unchanged
        (2, "draft", 1, Decimal("125.00"), "", ""),
    ]
    assert settle(rt, shanghai(2026, 12, 25, 10)) == []  # the same statement, posted once
    assert len(statements(rt)) == 2


def test_settling_again_after_a_restart_gives_the_same_statement_and_posts_once(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'vmi.sqlite'}"
    first = start(str(EXAMPLE), url)
    the_month(first)
    assert len(settle(first)) == 1
    assert settle(first) == []
    first.engine.dispose()
    second = start(str(EXAMPLE), url)  # a restart: the job runs again for the same cutoff
    assert settle(second, shanghai(2026, 11, 25, 9, 30)) == []
    assert [row[:3] for row in statements(second)] == [(1, "draft", 1)]
    second.engine.dispose()


def test_two_drafts_at_once_make_one_statement(runtime: Runtime) -> None:
    say(runtime, "keeper", "6205 库存 90", at(1, 10))
    say(runtime, "keeper", "领用 6205 10", at(5, 10))
    start_line = threading.Barrier(2)
    errors: list[BaseException] = []

    def draft() -> None:
        start_line.wait()
        try:
            with transaction(runtime.engine) as s:
                post_statements(s, runtime.config, SETTLEMENT_DAY, platforms=frozenset({"console"}))
        except BaseException as err:  # the test reports it below
            errors.append(err)

    threads = [threading.Thread(target=draft) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert [(r[1], r[2], r[3]) for r in statements(runtime)] == [("draft", 1, Decimal("125.00"))]
    with transaction(runtime.engine) as s:
        cards = s.scalar(select(func.count()).select_from(OutboxRow).where(
            OutboxRow.key.like("statement:%")))  # type: ignore[union-attr]  # fmt: skip
    assert cards == 1


def test_english_phrases_and_a_statement_of_another_agreement_is_not_there(
    tmp_path: Path,
) -> None:
    english = tmp_path / "en.toml"
    english.write_text(
        EXAMPLE.read_text(encoding="utf-8").replace('locale = "zh"', 'locale = "en"', 1),
        encoding="utf-8",
    )
    rt = start(str(english), f"sqlite:///{tmp_path / 'en.sqlite'}")
    the_month(rt)
    settle(rt)
    assert 'There is no statement "S9"' in say(rt, "buyer", "confirm statement S9", at(25, 10))
    assert "Missing the statement id" in say(rt, "buyer", "dispute", at(25, 10))
    disputed = say(rt, "buyer", "dispute S1 the price is 12.00", at(25, 10))
    assert (
        disputed.startswith("Statement disputed S1 · ") and "Reason: the price is 12.00" in disputed
    )
    assert "nothing to re-issue" not in say(rt, "supplier", "reissue S1", at(25, 11))
    assert "already" not in say(rt, "buyer", "confirm statement S1", at(25, 12))
    assert "locked" in say(rt, "supplier", "confirm statement S1", at(25, 13))
    rt.engine.dispose()


def test_the_command_drafts_once_and_prints_the_contracts_json(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'vmi.sqlite'}"
    rt = start(str(EXAMPLE), db)
    the_month(rt)
    rt.engine.dispose()
    outputs = []
    for _ in range(2):
        done = subprocess.run(
            [VMI_BOT, "--config", str(EXAMPLE), "--db", db, "settle", "--agreement", "plant-6205",
             "--now", "2026-11-25T09:00:00+08:00", "--json"],
            capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        outputs.append(json.loads(done.stdout))
    assert outputs[0] == outputs[1]
    document = outputs[0]
    assert document["id"] == "S1" and document["state"] == "draft"
    assert document["period"] == {"start": "2026-10-25", "end": "2026-11-24"}
    assert document["lines"] == [
        {"sku": "6205", "name": "6205 深沟球轴承", "unit": "件", "qty": 85,
         "unit_price": 12.5, "amount": 1062.5},
    ]  # fmt: skip
    assert (document["total"], document["confirmed_by"], document["disputes"],
            document["adjustments"]) == (1062.5, {}, [], [])  # fmt: skip
    rt = start(str(EXAMPLE), db)
    with transaction(rt.engine) as s:
        assert s.scalar(select(func.count()).select_from(OutboxRow).where(
            OutboxRow.key.like("statement:%"))) == 1  # type: ignore[union-attr]  # fmt: skip
    rt.engine.dispose()
    unknown = subprocess.run(
        [VMI_BOT, "--config", str(EXAMPLE), "--db", db, "settle", "--agreement", "nope"],
        capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert unknown.returncode == 2 and "no agreement 'nope'" in unknown.stderr


def test_status_shows_the_statement_waiting_and_help_names_the_phrases(rt: Runtime) -> None:
    the_month(rt)
    assert "对账单" not in say(rt, "buyer", "状态", at(24, 10))  # none drafted yet
    assert "还没有出过对账单" in say(rt, "buyer", "对账", at(24, 10))
    settle(rt)
    say(rt, "buyer", "确认对账 S1", at(25, 10))
    shown = say(rt, "supplier", "状态", at(25, 11))
    waiting = "对账单 S1（2026-10-25 至 2026-11-24）：合计 1,062.50 元，"
    assert waiting + "采购方已确认（王采购），供应商待确认" in shown
    assert "「确认对账 S1」" in say(rt, "supplier", "帮助", at(25, 11))
    assert "确认对账" not in say(rt, "keeper", "帮助", at(25, 11))
    say(rt, "supplier", "确认对账 S1", at(25, 12))
    assert "对账单" not in say(rt, "buyer", "状态", at(25, 13))  # locked: nothing waits


def test_one_to_one_a_member_of_two_agreements_names_the_statement_and_that_says_which(
    tmp_path: Path,
) -> None:
    two = tmp_path / "two-agreements.toml"
    two.write_text(
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
    rt = start(str(two), f"sqlite:///{tmp_path / 'two.sqlite'}")
    posted(rt, "keeper", "6301 库存 40", at(1, 10), chat="plant-6301")
    posted(rt, "keeper", "领用 6301 10", at(2, 10), chat="plant-6301")
    with transaction(rt.engine) as s:
        post_statements(s, rt.config, SETTLEMENT_DAY, agreement_ids=["plant-6301"],
                        platforms=frozenset({"console"}))  # fmt: skip
    # not from the other agreement's chat: there is no S1 there
    refused = posted(rt, "buyer", "确认对账 S1", at(25, 10), chat="plant-6205")[-1][1]
    assert refused.title == "没有这张对账单" and refused.refusal
    done = posted(rt, "buyer", "确认对账 S1", at(25, 10), chat="wangcaigou")[-1][1]
    assert done.title == "已确认对账 S1 · 王采购（采购方）"
    assert "98.00" in done.lines[0]  # 10 × 9.80
    rt.engine.dispose()
