"""Amendments agreed in chat (修改 … / 同意 A1), the effective terms every reader sees, the
file winning over an amendment it has changed since, and 谁没盘点: through handle() and
`vmi-bot chat`, in Chinese and English."""

from __future__ import annotations

import itertools
import logging
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.app.bootstrap import start
from bot.runtime.context import Runtime
from bot.runtime.scheduler import REMIND_PREFIX, ReviewScheduler
from bot.services.reminders import post_reminders
from bot.services.review import review
from bot.services.status import status
from bot.storage.db import transaction
from bot.storage.tables import AmendmentChangeRow, AmendmentRow, OutboxRow
from handlers.conversation import handle
from handlers.incoming import ButtonPress, Incoming
from messages.cards import Card
from tests.support import EXAMPLE, shanghai

VMI_BOT = str(Path(sys.executable).with_name("vmi-bot"))
T0 = shanghai(2026, 12, 1, 10, 0)
_ids = itertools.count(1)


def config_file(tmp_path: Path, locale: str = "zh", edit: tuple[str, str] = ("", "")) -> Path:
    """The example agreement in `locale`, with one text replaced."""
    text = EXAMPLE.read_text(encoding="utf-8").replace('locale = "zh"', f'locale = "{locale}"')
    if edit[0]:
        assert edit[0] in text
        text = text.replace(edit[0], edit[1], 1)
    path = tmp_path / f"{locale}-{abs(hash(edit))}.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def rt(tmp_path: Path) -> Runtime:
    return start(str(EXAMPLE), f"sqlite:///{tmp_path / 'vmi.sqlite'}", now=T0)


def say(
    rt: Runtime, sender: str, text: str = "", *, button: ButtonPress | None = None,
    at: datetime = T0,
) -> list[Card]:  # fmt: skip
    """One message in the agreement's group; the cards it queued."""
    with transaction(rt.engine) as s:
        before = s.scalar(select(func.max(OutboxRow.id))) or 0
    handle(
        rt.engine,
        rt.config,
        Incoming(platform="console", chat="plant-6205", sender=sender,
                 message_id=f"a{next(_ids)}", at=at, text=text, button=button),
    )  # fmt: skip
    with transaction(rt.engine) as s:
        rows = s.scalars(select(OutboxRow).where(OutboxRow.id > before).order_by(OutboxRow.id))
        return [Card.from_json(r.card) for r in rows]


def text_of(cards: list[Card]) -> str:
    return "\n".join(c.as_text() for c in cards)


def amendments(rt: Runtime) -> list[tuple[str, str, str]]:
    with transaction(rt.engine) as s:
        return [(a.state, a.proposed_by, a.decided_by) for a in s.scalars(select(AmendmentRow))]


def terms(rt: Runtime) -> tuple[int, int]:
    with transaction(rt.engine) as s:
        [item] = status(s, rt.config, T0)["agreements"][0]["items"]
    return item["min"], item["max"]


def test_an_amendment_applies_only_when_the_other_party_agrees(runtime: Runtime) -> None:
    rt = runtime  # on SQLite, and on PostgreSQL when TEST_DATABASE_URL is set
    say(rt, "keeper", "6205 库存 45")
    [card] = say(rt, "buyer", "修改 6205 补货线 55 安全线 110")
    assert card.title.startswith("修改 A1：6205")
    assert "补货线：50 → 55" in card.lines and "安全线：100 → 110" in card.lines
    assert [b.text_equivalent for b in card.buttons] == ["同意 A1", "不同意 A1 原因"]
    assert terms(rt) == (50, 100)  # proposed, not agreed: nothing changes yet

    [own] = say(rt, "buyer", "同意 A1")
    assert own.refusal and own.title == "不能同意自己提出的修改"
    [keeper] = say(rt, "keeper", "同意 A1")
    assert keeper.refusal and "你是仓管员" in text_of([keeper])
    assert terms(rt) == (50, 100)
    assert amendments(rt) == [("proposed", "buyer", "")]

    [todo] = say(rt, "supplier", "待办")
    assert "A1 待同意：6205 补货线 50 → 55，安全线 100 → 110（王采购提出）" in text_of([todo])
    [mine] = say(rt, "buyer", "待办")
    assert "A1" not in text_of([mine])  # the proposer does not agree to it
    [applied] = say(rt, "supplier", button=ButtonPress("amend_agree", "A1"))
    assert applied.title.startswith("修改 A1 已生效")
    assert "王采购提出，李供应同意" in text_of([applied])
    assert terms(rt) == (55, 110)
    [again] = say(rt, "supplier", "同意 A1")
    assert again.refusal and "已经被李供应同意并生效了" in text_of([again])
    assert amendments(rt) == [("applied", "buyer", "supplier")]
    assert "A1" not in text_of(say(rt, "supplier", "待办"))

    # the review proposes up to the new max: 110 - 45 = 65, not 55
    with transaction(rt.engine) as s:
        [result] = review(s, rt.config, T0, platforms=frozenset({"console"}))
    assert (result.decision.action, result.decision.qty) == ("propose", 65)
    shown = text_of(say(rt, "keeper", "状态"))
    assert "补货线 55 / 安全线 110" in shown
    assert "补货线 55、安全线 110 来自修改 A1（王采购提出，李供应 12-01 同意）" in shown


def test_the_supplier_proposes_and_the_buyer_rejects_with_a_reason_in_english(
    tmp_path: Path,
) -> None:
    rt = start(str(config_file(tmp_path, "en")), f"sqlite:///{tmp_path / 'en.sqlite'}", now=T0)
    [card] = say(rt, "supplier", "change 6205 min 60 max 120 moq 20")
    assert card.title.startswith("Amendment A1: 6205")
    assert list(card.lines[:3]) == ["min: 50 → 60", "max: 100 → 120", "MOQ: 0 → 20"]
    [bare] = say(rt, "buyer", button=ButtonPress("amend_reject", "A1"))
    assert bare.refusal and "reject A1 reason" in text_of([bare])
    [rejected] = say(rt, "buyer", "reject A1 too much stock for us")
    assert rejected.title.startswith("Amendment A1 rejected")
    assert "rejected by 王采购: too much stock for us" in text_of([rejected])
    assert terms(rt) == (50, 100)
    [late] = say(rt, "buyer", "agree A1")
    assert late.refusal and "already rejected by 王采购" in text_of([late])


@pytest.mark.parametrize(
    ("typed", "why"),
    [
        ("修改 6205 补货线 120", "补货线要低于安全线"),
        ("修改 6205 安全线 0", "要大于 0"),
        ("修改 6205 补货线 50", "和现在一样"),
        ("change 6205 min 100 max 90", "min must be below max"),
        ("修改 6205 补货线 5.5", "不是整数"),
        ("修改 6299 补货线 40", "不是本协议的物料"),
        ("修改 6205 补货线", "还差一点信息"),
    ],
)
def test_a_change_that_cannot_hold_is_refused_and_records_nothing(
    rt: Runtime, typed: str, why: str
) -> None:
    [card] = say(rt, "buyer", typed)
    assert card.refusal and why in text_of([card])
    assert amendments(rt) == []


def test_the_keeper_cannot_propose_and_someone_of_the_same_side_cannot_agree(
    tmp_path: Path,
) -> None:
    second_buyer = (
        '[[members]]\nid = "buyer2"\nname = "赵采购"\nparty = "plant"\nrole = "buyer"\n'
        'console = "buyer2"\n\n[[agreements]]'
    )
    path = config_file(tmp_path, edit=("[[agreements]]", second_buyer))
    rt = start(str(path), f"sqlite:///{tmp_path / 'two.sqlite'}", now=T0)
    [keeper] = say(rt, "keeper", "修改 6205 补货线 55")
    assert keeper.refusal and "你是仓管员" in text_of([keeper])
    say(rt, "buyer", "修改 6205 补货线 55")
    [same] = say(rt, "buyer2", "同意 A1")
    assert same.refusal and "和你是同一方" in text_of([same])
    [admin] = say(rt, "admin", "同意 A1")  # the example's admin is of the plant too
    assert admin.refusal and admin.title == "要由对方同意"
    [done] = say(rt, "supplier", "同意 A1")
    assert done.title.startswith("修改 A1 已生效")


def test_the_file_changing_an_amended_value_wins_and_is_said_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = f"sqlite:///{tmp_path / 'vmi.sqlite'}"
    rt = start(str(EXAMPLE), db, now=T0)
    say(rt, "buyer", "修改 6205 补货线 55 安全线 110")
    say(rt, "supplier", "同意 A1")
    assert terms(rt) == (55, 110)

    # the file's max changes to 120; its min stays as the amendment found it (50)
    changed = config_file(tmp_path, edit=("max = 100", "max = 120"))
    with caplog.at_level(logging.WARNING):
        rt = start(str(changed), db, now=shanghai(2026, 12, 2, 9))
    assert "6205 max is 120 from the agreement file; amendment A1" in caplog.text
    assert terms(rt) == (55, 120)  # min still as agreed, max as the file says now
    with transaction(rt.engine) as s:
        cards = [Card.from_json(c) for c in s.scalars(select(OutboxRow.card))]
        superseded = s.scalars(
            select(AmendmentChangeRow.field).where(AmendmentChangeRow.superseded_at.is_not(None))
        ).all()
    said = [c for c in cards if c.title.startswith("协议文件改了 6205")]
    assert len(said) == 1 and "安全线：110 → 120" in said[0].lines
    assert superseded == ["max"]

    caplog.clear()
    with caplog.at_level(logging.WARNING):
        rt = start(str(changed), db, now=shanghai(2026, 12, 3, 9))
    assert "agreement file" not in caplog.text  # said once
    # and the file going back to 100 does not revive the amendment's 110
    rt = start(str(EXAMPLE), db, now=shanghai(2026, 12, 4, 9))
    assert terms(rt) == (55, 100)
    with transaction(rt.engine) as s:
        [item] = status(s, rt.config, T0)["agreements"][0]["items"]
    assert item["sources"]["min"]["from"] == "amendment" and item["sources"]["min"]["id"] == "A1"
    assert item["sources"]["max"] == {"from": "file"}
    assert (item["pack_size"], item["moq"]) == (1, 0)


ITEM_6206 = (
    '\n[[agreements.items]]\nsku = "6206"\nname = "6206 深沟球轴承"\nmin = 20\nmax = 60\n'
    "unit_price = 15\n"
)


@pytest.mark.parametrize(
    ("locale", "asked", "answer", "name"),
    [
        ("zh", "谁没盘点", "今天还没盘点", "6205 深沟球轴承"),
        ("en", "who hasn't counted?", "Not counted today", "6205 deep groove ball bearing"),
    ],
)
def test_who_has_not_counted_names_the_items_not_counted_today(
    tmp_path: Path, locale: str, asked: str, answer: str, name: str
) -> None:
    path = config_file(tmp_path, locale)
    path.write_text(path.read_text(encoding="utf-8") + ITEM_6206, encoding="utf-8")
    rt = start(str(path), f"sqlite:///{tmp_path / 'two.sqlite'}", now=T0)
    say(rt, "keeper", "6205 库存 45", at=shanghai(2026, 11, 30, 17))
    say(rt, "keeper", "6206 库存 30", at=shanghai(2026, 12, 1, 9))
    [card] = say(rt, "supplier", asked, at=shanghai(2026, 12, 1, 11))
    assert card.title.startswith(answer) and card.lines[0] == name
    assert not any("6206" in line for line in card.lines)
    say(rt, "keeper", "6205 库存 40", at=shanghai(2026, 12, 1, 11, 30))
    [card] = say(rt, "buyer", asked, at=shanghai(2026, 12, 1, 12))
    assert card.lines[0] in ("今天的物料都盘点过了。", "Every item was counted today.")


def chat(tmp_path: Path, config: Path, lines: list[str]) -> str:
    done = subprocess.run(
        [VMI_BOT, "--config", str(config), "--db", f"sqlite:///{tmp_path / 'chat.sqlite'}",
         "chat", "--as", "keeper", "--now", "2026-12-01T10:00:00+08:00"],
        input="\n".join(lines) + "\n", capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_an_amendment_through_the_console_in_chinese(tmp_path: Path) -> None:
    out = chat(
        tmp_path,
        EXAMPLE,
        ["6205 库存 45", "/as buyer", "修改 6205 补货线 55 安全线 110", "1",
         "/as supplier", "1", "检查", "谁没盘点"],
    )  # fmt: skip
    assert "[1] 同意  (= 同意 A1)" in out
    assert "不能同意自己提出的修改" in out  # the buyer pressed Agree on their own amendment
    assert "修改 A1 已生效：6205" in out
    assert "建议补货 65 件，补到安全线 110 件" in out
    assert "今天的物料都盘点过了。" in out


def test_an_amendment_through_the_console_in_english(tmp_path: Path) -> None:
    out = chat(
        tmp_path,
        config_file(tmp_path, "en"),
        ["stock 6205 45", "/as supplier", "change 6205 pack 10", "/as buyer", "agree A1",
         "/as supplier", "check", "status"],
    )  # fmt: skip
    assert "Amendment A1 applies: 6205" in out
    assert "Replenishment proposal P1" in out and "Propose 60 pcs" in out  # 55 up to a pack of 10
    assert "pack 10 from amendment A1 (proposed by 李供应, agreed by 王采购 on 12-01)" in out


def test_a_reminder_time_agreed_in_chat_moves_the_reminder_and_its_job(rt: Runtime) -> None:
    [card] = say(rt, "buyer", "修改 盘点提醒 17:00")
    assert card.title.startswith("修改 A1：提醒时间") and "盘点提醒：10:00 → 17:00" in card.lines
    [bad] = say(rt, "buyer", "修改 盘点提醒 25:00")
    assert bad.refusal and "时间要在 00:00 到 23:59 之间" in text_of([bad])
    [applied] = say(rt, "supplier", "同意 A1")
    assert applied.title.startswith("修改 A1 已生效：提醒时间")

    def reminded(*at: int) -> list[str]:
        with transaction(rt.engine) as s:
            due = post_reminders(s, rt.config, shanghai(*at), platforms=frozenset({"console"}))
        return [r.kind for r in due if r.kind == "count_missing"]

    shown = text_of(say(rt, "keeper", "状态"))
    assert "盘点提醒 17:00 来自修改 A1（王采购提出，李供应 12-01 同意）" in shown
    with transaction(rt.engine) as s:
        document = status(s, rt.config, T0)
    reminders = document["agreements"][0]["reminders"]
    assert (reminders["count_at"], reminders["weekly_plan_at"]) == ("17:00", "16:00")
    assert reminders["sources"]["count_at"]["id"] == "A1"
    assert reminders["sources"]["weekly_plan_at"] == {"from": "file"}
    assert reminded(2026, 12, 2, 10, 5) == []  # no longer at 10:00
    assert reminded(2026, 12, 2, 17, 5) == ["count_missing"]

    scheduler = ReviewScheduler(rt)
    scheduler.scheduler.start(paused=True)
    try:
        scheduler.sync_jobs()
        job = scheduler.job_of(REMIND_PREFIX, "plant-6205")
        assert job.trigger.get_next_fire_time(None, shanghai(2026, 12, 2, 16, 30)) == (
            shanghai(2026, 12, 2, 17, 0)
        )
    finally:
        scheduler.stop()


def test_a_reminder_time_through_the_console_in_english(tmp_path: Path) -> None:
    out = chat(
        tmp_path,
        config_file(tmp_path, "en"),
        ["/as supplier", "change weekly plan reminder 15:30", "/as buyer", "agree A1"],
    )
    assert "weekly plan reminder: 16:00 → 15:30" in out
    assert "Amendment A1 applies: reminder times" in out
