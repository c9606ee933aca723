"""The monthly review (复盘) and the suggested min/max, as people see them: the seed's month
replayed through the conversation, then `复盘` / `review` and `建议 6205` / `suggest 6205` in
chat, and `vmi-bot retro` on the command line."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func, select

from bot.adapters.console.chat import ConsoleChat
from bot.app.demo import MONTH, Press, Say, Scheduled
from bot.runtime.context import Runtime
from bot.services.review import review
from bot.settings import CONSOLE
from bot.storage.db import transaction
from bot.storage.tables import LedgerRow, OutboxRow
from handlers.conversation import handle
from handlers.incoming import ButtonPress, Incoming
from messages.cards import Card
from tests.support import EXAMPLE, shanghai

VMI_BOT = str(Path(sys.executable).with_name("vmi-bot"))
AFTER = shanghai(2026, 11, 26, 10, 0)  # the day after settlement day


def replay_seed_month(runtime: Runtime) -> None:
    """The seed's month as the demo plays it: counts to 45, P1 55 received, 85 withdrawn,
    plan 90 for November, an urgent top-up; everything but the settlement."""
    now = shanghai(2026, 10, 25, 9, 0)
    chat = ConsoleChat(runtime, "keeper", out=io.StringIO(), clock=lambda: now)
    for step in MONTH:
        now = shanghai(2026, step.month, step.day, step.hour, 0)
        if isinstance(step, Scheduled):
            if step.job == "settlement":
                break  # the statement and its signatures are tests/test_statements.py's
            if step.job == "review":
                with transaction(runtime.engine) as session:
                    review(session, runtime.config, now, platforms=frozenset({CONSOLE}))
                chat.deliver()  # the proposal's card, with the buttons pressed next
            continue
        chat.switch(step.speaker)
        if isinstance(step, Press):
            chat.press(step.action, step.proposal)
        elif isinstance(step, Say):
            chat.say(step.text)


def ask(
    runtime: Runtime,
    sender: str,
    text: str,
    at: datetime = AFTER,
    button: ButtonPress | None = None,
) -> list[Card]:
    """One message (or a button pressed) in the console group; the replies it queued."""
    with transaction(runtime.engine) as session:
        before = session.scalar(select(func.max(OutboxRow.id))) or 0
    handle(
        runtime.engine,
        runtime.config,
        Incoming(platform=CONSOLE, chat="plant-6205", sender=sender,
                 message_id=f"{sender}-{text}-{button}-{at.isoformat()}", at=at, text=text,
                 direct=True, button=button),
    )  # fmt: skip
    with transaction(runtime.engine) as session:
        rows = session.scalars(select(OutboxRow).where(OutboxRow.id > before))
        return [Card.from_json(row.card) for row in rows]


def ledger_size(runtime: Runtime) -> int:
    with transaction(runtime.engine) as session:
        return session.scalar(select(func.count()).select_from(LedgerRow)) or 0


@pytest.fixture
def seeded(runtime: Runtime) -> Runtime:
    replay_seed_month(runtime)
    return runtime


def test_review_in_chat_says_5_aged_because_demand_came_in_5_under_and_sends_the_chart(
    seeded: Runtime,
) -> None:
    before = ledger_size(seeded)
    [card] = ask(seeded, "buyer", "复盘")  # the last settlement period closed: 10-25 .. 11-24
    text = card.as_text()
    assert "2026-11（2026-10-25 至 2026-11-24）" in card.title
    assert "领用 85 件，计划 90 件" in text
    assert "本月有 5 件库存超期，是因为需求比预测少 5 件" in text
    assert "偏差 -6%" in text  # (85 - 90) / 85
    assert "缺货 0 天" in text and "紧急补货 1 次（运费客户承担 50%，供应商 50%）" in text
    assert "晚到 1 次" in text  # P1 was made at 45, under the line of 50
    assert "修改 6205 补货线" in text  # what to type to propose the suggested change
    picture = Image.open(io.BytesIO(card.image_bytes()))
    assert picture.format == "PNG" and picture.width > 400
    assert card.image_name == "retro-plant-6205-2026-11.png"
    assert ledger_size(seeded) == before  # a question records nothing


def test_review_in_english_names_the_month_asked(seeded: Runtime) -> None:
    [card] = ask(seeded, "supplier", "review 2026-11")
    text = card.as_text()
    assert card.title.startswith("Monthly review · plant-6205 · 2026-11")
    assert "5 units aged this month because demand came in 5 under the forecast" in text
    assert "suggested min" in text and 'type "change 6205 min' in text
    assert "6205 deep groove ball bearing" in text and "深沟球轴承" not in text
    [suggested] = ask(seeded, "supplier", "suggest 6205")
    assert "deep groove ball bearing" in suggested.title and "深沟" not in suggested.as_text()


def test_a_week_or_a_month_not_begun_is_refused_with_what_to_type(seeded: Runtime) -> None:
    [week] = ask(seeded, "keeper", "复盘 2026-W47")
    assert week.refusal and "复盘 2026-11" in week.as_text()
    [later] = ask(seeded, "keeper", "复盘 2027-03")
    assert later.refusal and "2027-03" in later.as_text()
    # the example is the month last settled on the day it is asked, not a fixed one
    [in_march] = ask(seeded, "keeper", "复盘 2027-09", at=shanghai(2027, 3, 10, 9))
    assert in_march.refusal and "「复盘 2027-02」" in in_march.as_text()


def test_suggest_shows_the_figures_and_how_they_compare_with_today(seeded: Runtime) -> None:
    before = ledger_size(seeded)
    [card] = ask(seeded, "keeper", "建议 6205")
    text = card.as_text()
    assert "（现为 50 / 100）" in text
    assert "近 32 天日均领用 d = 2.66 件" in text  # 85 over the 32 days from 10-25
    assert "保护期 P = 补货周期 3 天 + 交期 3 天 = 6 天" in text
    assert "服务水平 95.0% → z = 1.645" in text
    assert "修改 6205 补货线" in text and "什么都没有记录" in text
    assert ledger_size(seeded) == before
    [english] = ask(seeded, "buyer", "suggest 6205")
    assert "Suggested min" in english.as_text() and "change 6205 min" in english.as_text()


def test_suggest_without_history_says_so(runtime: Runtime) -> None:
    [card] = ask(runtime, "supplier", "建议 6205")
    assert "还算不出建议" in card.as_text()


def test_check_is_still_the_replenishment_review(runtime: Runtime) -> None:
    [card] = ask(runtime, "supplier", "check")
    assert card.title.startswith("Review done") and not card.image
    [monthly] = ask(runtime, "supplier", "review")
    assert monthly.title.startswith("Monthly review")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([VMI_BOT, *args], capture_output=True, text=True, timeout=120,
                          check=False)  # fmt: skip


def test_retro_json_and_chart_on_the_command_line(
    seeded: Runtime, database_url: str, tmp_path: Path
) -> None:
    chart = tmp_path / "retro.png"
    done = run("--config", str(EXAMPLE), "--db", database_url, "retro", "--month", "2026-11",
               "--json", "--chart", str(chart), "--now", AFTER.isoformat())  # fmt: skip
    assert done.returncode == 0, done.stderr
    [agreement] = json.loads(done.stdout)["agreements"]
    assert agreement["period"] == {"start": "2026-10-25", "end": "2026-11-24"}
    [item] = agreement["items"]
    assert (item["withdrawn"], item["planned"], item["aged_qty"], item["under_plan"]) == (
        85, 90, 5, 5,
    )  # fmt: skip
    assert item["bias"] == round(-5 / 85, 4)
    assert 0 < item["wmape"] <= 1
    assert item["stockout_days"] == 0 and item["fill_rate"] == 1.0
    assert (item["proposals_on_time"], item["proposals_late"], item["emergencies"]) == (0, 1, 1)
    assert item["on_hand_at_end"] == 60
    assert item["days_of_cover"] == round(60 / (85 / 31), 1)
    assert item["suggestion"]["days"] == 31 and item["suggestion"]["z"] == 1.645
    assert item["suggested_min"] <= item["suggested_max"]
    for key in ("turns", "average_stock", "average_value"):
        assert item[key] is not None
    assert Image.open(chart).format == "PNG"


def test_retro_refuses_a_bad_month_or_agreement_in_one_line(database_url: str) -> None:
    common = ("--config", str(EXAMPLE), "--db", database_url, "retro")
    bad = run(*common, "--month", "2026-13")
    assert bad.returncode == 2 and "2026-13" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
    unknown = run(*common, "--month", "2026-11", "--agreement", "nope")
    assert unknown.returncode == 2 and "plant-6205" in unknown.stderr


def test_settlement_day_posts_the_review_with_its_chart_to_the_group_once(
    seeded: Runtime,
) -> None:
    from bot.runtime import jobs
    from bot.runtime.scheduler import retro_trigger

    agreement = seeded.config.agreement("plant-6205")
    assert agreement is not None
    fire = retro_trigger(agreement).get_next_fire_time(None, shanghai(2026, 12, 1, 12, 0))
    assert fire == shanghai(2026, 12, 25, 9, 30)  # after the statement at 09:00
    with transaction(seeded.engine) as session:
        before = session.scalar(select(func.max(OutboxRow.id))) or 0
    jobs.activate(seeded)
    try:
        # the job runs on the real clock: whatever the date, the period just closed is posted
        jobs.run_scheduled_retro("plant-6205")
        jobs.run_scheduled_retro("plant-6205")  # a second run posts nothing more
    finally:
        jobs.activate(None)
    with transaction(seeded.engine) as session:
        rows = list(session.scalars(select(OutboxRow).where(OutboxRow.id > before)))
    [row] = rows
    card = Card.from_json(row.card)
    assert row.chat == "plant-6205" and row.key and row.key.startswith("retro:plant-6205:")
    assert card.title.startswith("复盘 · plant-6205") and card.image_bytes()[:4] == b"\x89PNG"


def test_post_retros_on_the_seed_settlement_day(seeded: Runtime) -> None:
    from bot.services.retro import post_retros

    with transaction(seeded.engine) as session:
        [done] = post_retros(session, seeded.config, shanghai(2026, 11, 25, 9, 30),
                             platforms=frozenset({CONSOLE}))  # fmt: skip
    assert done.month == "2026-11"
    [line] = done.items
    assert (line.review.month.aged, line.review.under_plan) == (5, 5)


def test_the_contracts_month_phrases_through_vmi_bot_chat(tmp_path: Path) -> None:
    typed = ["6205 库存 90", "领用 6205 10", "复盘", "review", "建议 6205", "suggest 6205"]
    done = subprocess.run(
        [VMI_BOT, "--config", str(EXAMPLE), "--db", f"sqlite:///{tmp_path / 'vmi.sqlite'}",
         "chat", "--as", "keeper", "--now", "2026-11-26T10:00:00+08:00"],
        input="\n".join(typed) + "\n", capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "TMPDIR": str(tmp_path)},  # where the console writes the chart
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "复盘 · plant-6205 · 2026-11" in out and "Monthly review · plant-6205 · 2026-11" in out
    charts = [line.split("🖼", 1)[1].strip() for line in out.splitlines() if "🖼" in line]
    assert len(charts) == 2 and all(Path(c).read_bytes()[:4] == b"\x89PNG" for c in charts)
    assert "建议补货线 · 6205" in out and "Suggested min/max · 6205" in out


def test_the_review_compares_the_min_and_max_as_amended(seeded: Runtime, database_url: str) -> None:
    from bot.services.retro import post_retros

    ask(seeded, "supplier", "修改 6205 补货线 40 安全线 90", shanghai(2026, 11, 20, 10, 0))
    ask(seeded, "buyer", "同意 A1", shanghai(2026, 11, 20, 11, 0))
    done = run("--config", str(EXAMPLE), "--db", database_url, "retro", "--month", "2026-11",
               "--json", "--now", AFTER.isoformat())  # fmt: skip
    [item] = json.loads(done.stdout)["agreements"][0]["items"]
    assert (item["min"], item["max"]) == (40, 90)
    with transaction(seeded.engine) as session:
        [posted] = post_retros(session, seeded.config, shanghai(2026, 11, 25, 9, 30),
                               platforms=frozenset({CONSOLE}))  # fmt: skip
    assert (posted.items[0].item.min, posted.items[0].item.max) == (40, 90)
    [card] = ask(seeded, "buyer", "复盘 2026-11")
    assert "补货线 40" in card.as_text() and "补货线 50" not in card.as_text()


def test_the_suggestions_button_proposes_the_change_and_the_other_side_agrees(
    seeded: Runtime,
) -> None:
    [card] = ask(seeded, "buyer", "建议 6205")
    [button] = card.buttons
    low, high = button.value.split(":")[1:]
    assert (button.label, button.action) == ("按建议修改", "amend")
    assert button.text_equivalent == f"修改 6205 补货线 {low} 安全线 {high}"
    assert f"修改 6205 补货线 {low} 安全线 {high}" in card.as_text()

    press = ButtonPress("amend", button.value)
    [refused] = ask(seeded, "keeper", "", AFTER, press)
    assert refused.refusal and "采购" in refused.as_text()
    [proposed] = ask(seeded, "supplier", "", AFTER, press)
    assert proposed.title.startswith("修改 A1：6205")
    assert f"补货线：50 → {low}" in proposed.lines and f"安全线：100 → {high}" in proposed.lines
    [again] = ask(seeded, "supplier", "", AFTER + timedelta(seconds=1), press)  # still A1
    assert again.title.startswith("修改 A1：6205")
    [agreed] = ask(seeded, "buyer", "", AFTER, ButtonPress("amend_agree", "A1"))
    assert agreed.title.startswith("修改 A1 已生效")
    [after] = ask(seeded, "buyer", "建议 6205", AFTER + timedelta(minutes=1))
    assert f"（现为 {low} / {high}，不用改）" in after.as_text() and not after.buttons


def test_the_reviews_suggestion_carries_the_button_in_english(seeded: Runtime) -> None:
    [card] = ask(seeded, "supplier", "review 2026-11")
    [button] = card.buttons
    assert button.label == "Propose this change" and button.value.startswith("6205:")
    [proposed] = ask(seeded, "supplier", "", AFTER, ButtonPress("amend", button.value))
    assert "A1" in proposed.title and [b.action for b in proposed.buttons] == [
        "amend_agree", "amend_reject",
    ]  # fmt: skip
