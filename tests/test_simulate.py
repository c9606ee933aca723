"""`vmi-bot simulate` and the chat's what-if, as people see them: the command's table, JSON
and chart; the VMI policy proposing what the bot's own check proposes on the same state; and
`模拟 6205 补货线 40 安全线 90` / `simulate 6205 min 40 max 90` in the group, with refusals."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func, select

from bot.runtime.context import Runtime
from bot.storage.db import transaction
from bot.storage.tables import LedgerRow, ProposalRow
from tests.group_chat import say, text_of
from tests.support import EXAMPLE, shanghai
from vmi_rules.periods import next_month
from vmi_rules.review import DemandPlan
from vmi_rules.simulation.policies import DayState, decide

VMI_BOT = str(Path(sys.executable).with_name("vmi-bot"))
T0 = shanghai(2026, 11, 21, 10, 0)
FIGURES = {"avg_stock_units", "avg_stock_value", "stockout_days", "fill_rate", "orders",
           "emergency_shipments", "emergency_freight", "turns", "bullwhip"}  # fmt: skip


def run(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [VMI_BOT, "--config", str(EXAMPLE), "--db", database_url, "simulate", *args],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("on_hand", "plan", "at"),
    [
        (45, None, T0),  # the seed: under min, 55 to reach 100
        (60, 300, shanghai(2026, 11, 27, 10, 0)),  # above min, but December's plan takes it under
        (80, None, T0),  # nothing to propose
    ],
)
def test_the_vmi_policy_proposes_what_the_bots_check_proposes(
    runtime: Runtime, on_hand: int, plan: int | None, at: datetime
) -> None:
    say(runtime, "keeper", f"6205 库存 {on_hand}", at - timedelta(hours=1))
    plans = []
    if plan is not None:
        say(runtime, "buyer", f"下月 6205 需求 {plan}", at - timedelta(minutes=30))
        plans = [DemandPlan("6205", next_month(at.date()), plan)]
    say(runtime, "supplier", "检查", at)  # the bot's own review, through the conversation
    with transaction(runtime.engine) as session:
        proposed = session.scalars(select(ProposalRow.qty)).all()
    agreement = runtime.config.agreements[0]
    state = DayState(0, at, on_hand, (), False, [])
    policy = decide(agreement.terms.items[0], agreement.terms, state, plans)
    assert proposed == ([policy] if policy else [])
    assert policy == {45: 55, 60: 40, 80: 0}[on_hand]


def test_simulate_json_has_the_contracts_shape_and_the_same_seed_gives_the_same_output(
    database_url: str,
) -> None:
    first = run(database_url, "--json", "--seed", "7", "--days", "120", "--demand", "lumpy")
    assert first.returncode == 0, first.stderr
    again = run(database_url, "--json", "--seed", "7", "--days", "120", "--demand", "lumpy")
    assert again.stdout == first.stdout  # deterministic for a seed, whatever today is
    other = run(database_url, "--json", "--seed", "8", "--days", "120", "--demand", "lumpy")
    assert other.stdout != first.stdout
    document = json.loads(first.stdout)
    assert (document["agreement"], document["days"], document["seed"], document["demand"]) == (
        "plant-6205", 120, 7, "lumpy",
    )  # fmt: skip
    assert set(document["policies"]) == {"traditional", "vmi", "vmi_suggested"}
    for figures in document["policies"].values():
        assert set(figures) >= FIGURES
    [item] = document["items"]
    assert (item["sku"], item["min"], item["max"]) == ("6205", 50, 100)
    assert (item["traditional_monthly_qty"], item["traditional_safety_stock"]) == (200, 300)
    assert item["policies"]["vmi"] == document["policies"]["vmi"]  # one item: the sum is it
    assert set(document["claims"]) == {"stock_value", "stockout_rate", "emergencies"}
    assert first.stdout == json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def test_simulate_prints_the_table_with_the_seeds_claims_and_draws_the_chart(
    database_url: str, tmp_path: Path
) -> None:
    chart = tmp_path / "simulate.png"
    done = run(database_url, "--chart", str(chart))
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "模拟 plant-6205 · 365 天 · 需求 smooth · 种子 0" in out
    assert "传统订货" in out and "VMI（现约定）" in out and "VMI−传统" in out
    assert "库存资金占用减少 30%-50%" in out and "缺货率从 15% 降到 5% 以下" in out
    assert "紧急调货更少" in out and "→ 达到" in out
    assert Image.open(chart).format == "PNG"


def test_history_demand_needs_withdrawals_and_then_replays_them(runtime: Runtime) -> None:
    url = runtime.engine.url.render_as_string(hide_password=False)
    refused = run(url, "--demand", "history", "--now", T0.isoformat())
    assert refused.returncode == 2 and "no withdrawals" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    _ten_days_of_ten(runtime)
    done = run(url, "--demand", "history", "--json", "--now", T0.isoformat(), "--days", "60")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    [item] = document["items"]
    assert item["traditional_monthly_qty"] == 305  # 10 a day since the ledger began, a month
    assert document["policies"]["vmi"]["demand_units"] % 10 == 0  # days of 10 or of 0


def _ten_days_of_ten(runtime: Runtime) -> None:
    """A count of 100 on 11-11, then 10 withdrawn each day to 11-20."""
    say(runtime, "keeper", "6205 库存 100", shanghai(2026, 11, 11, 9, 0))
    for day in range(11, 21):
        say(runtime, "keeper", "领用 6205 10", shanghai(2026, 11, day, 17, 0))


def _ledger_size(runtime: Runtime) -> int:
    with transaction(runtime.engine) as session:
        return session.scalar(select(func.count()).select_from(LedgerRow)) or 0


def test_what_if_in_chat_replays_the_days_under_both_in_two_lines(rt: Runtime) -> None:
    _ten_days_of_ten(rt)
    before = _ledger_size(rt)
    card = say(rt, "buyer", "模拟 6205 补货线 40 安全线 90")
    # as is: 100 → 40 on 11-17's review, 60 in on 11-20; as proposed: 40 is not under 40, and
    # 11-20's 10 under it is ordered then (in after the 10 days)
    assert card.title == "模拟 · 6205 深沟球轴承 · 近 10 天"
    assert card.lines[0] == "现在（补货线 50 / 安全线 100）：平均库存 51.0 件，缺货 0 天，补货 1 次"
    assert card.lines[1] == "改为（补货线 40 / 安全线 90）：平均库存 45.0 件，缺货 0 天，补货 1 次"
    assert "修改 6205 补货线 40 安全线 90" in card.lines[2]
    assert _ledger_size(rt) == before  # a question records nothing
    supplier = say(rt, "supplier", "模拟 6205 补货线 40")  # max stays as it is
    assert supplier.lines[1].startswith("改为（补货线 40 / 安全线 100）")


def test_what_if_in_english(rt_en: Runtime) -> None:
    _ten_days_of_ten(rt_en)
    card = say(rt_en, "keeper", "simulate 6205 min 40 max 90")
    assert card.title == "What-if · 6205 deep groove ball bearing · last 10 days"
    assert card.lines[0] == (
        "As now (min 50 / max 100): average stock 51.0 pcs, 0 stock-out days, 1 orders"
    )
    assert card.lines[1].startswith("Proposed (min 40 / max 90): average stock 45.0 pcs")


def test_what_if_refusals_say_why_and_what_to_type(rt: Runtime, rt_en: Runtime) -> None:
    nothing = say(rt, "buyer", "模拟 6205 补货线 40 安全线 90")
    assert nothing.refusal and "近 90 天没有领用记录" in text_of(nothing)
    assert "领用 6205 10" in text_of(nothing)
    _ten_days_of_ten(rt)
    unknown = say(rt, "buyer", "模拟 6299 补货线 40 安全线 90")
    assert unknown.refusal and "6299" in text_of(unknown) and "模拟 6205 补货线" in text_of(unknown)
    upside_down = say(rt, "supplier", "模拟 6205 补货线 90 安全线 40")
    assert upside_down.refusal and "补货线要低于安全线" in text_of(upside_down)
    above = say(rt, "supplier", "模拟 6205 补货线 120")  # max stays 100: 120 is not below it
    assert above.refusal and "补货线 120 / 安全线 100" in text_of(above)
    half = say(rt, "supplier", "模拟 6205")
    assert half.refusal and "模拟 6205 补货线 40 安全线 90" in text_of(half)
    english = say(rt_en, "buyer", "simulate 6205 min 90 max 40")
    assert english.refusal and "min must be below max" in text_of(english)


def test_the_contracts_what_if_phrases_through_vmi_bot_chat(tmp_path: Path) -> None:
    typed = [
        "模拟 6205 补货线 40 安全线 90",
        "11-27 6205 库存 100",
        "11-28 领用 6205 10",
        "昨天 领用 6205 5",
        "模拟 6205 补货线 40 安全线 90",
        "simulate 6205 min 40 max 90",
    ]
    done = subprocess.run(
        [VMI_BOT, "--config", str(EXAMPLE), "--db", f"sqlite:///{tmp_path / 'vmi.sqlite'}",
         "chat", "--as", "keeper", "--now", "2026-12-03T10:00:00+08:00"],
        input="\n".join(typed) + "\n", capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "近 90 天没有领用记录" in out  # asked before anything was withdrawn
    # 11-27 .. 12-02 on the shelf: 100, 90, 90, 90, 90, 85
    assert "现在（补货线 50 / 安全线 100）：平均库存 90.8 件，缺货 0 天，补货 0 次" in out
    assert "改为（补货线 40 / 安全线 90）：平均库存 90.8 件" in out
    assert "As now (min 50 / max 100): average stock 90.8 pcs, 0 stock-out days, 0 orders" in out
