"""Reminders posted to the group from stored state, each occasion once."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from bot.app.bootstrap import start
from bot.runtime.context import Runtime
from bot.services.reminders import post_reminders
from bot.storage.db import transaction
from bot.storage.plans import set_plan
from bot.storage.stock import record_count
from bot.storage.tables import OutboxRow
from messages.cards import Card
from tests.support import EXAMPLE, shanghai
from vmi_rules.periods import next_month, next_week

CONSOLE = frozenset({"console"})


@pytest.fixture
def rt(tmp_path: Path) -> Runtime:
    return start(str(EXAMPLE), f"sqlite:///{tmp_path / 'vmi.sqlite'}")


def remind(rt: Runtime, *at: int) -> list[str]:
    with transaction(rt.engine) as s:
        return [r.kind for r in post_reminders(s, rt.config, shanghai(*at), platforms=CONSOLE)]


def posted(rt: Runtime) -> list[str]:
    with transaction(rt.engine) as s:
        return [Card.from_json(c).title for c in s.scalars(select(OutboxRow.card))]


def test_a_day_without_a_count_and_a_friday_without_a_plan(rt: Runtime) -> None:
    with transaction(rt.engine) as s:
        set_plan(s, "plant-6205", "6205", next_month(shanghai(2026, 11, 20).date()), 90,
                 shanghai(2026, 11, 1, 9))  # fmt: skip
    assert remind(rt, 2026, 11, 20, 16, 5) == ["count_missing", "weekly_plan"]
    assert remind(rt, 2026, 11, 20, 17, 5) == ["count_missing", "weekly_plan"]  # still due…
    assert posted(rt) == [  # …but posted once per occasion
        "提醒：今天还没有盘点 · plant-6205",
        "提醒：请发下周的需求计划 · plant-6205",
    ]
    with transaction(rt.engine) as s:
        record_count(s, "plant-6205", "6205", 60, shanghai(2026, 11, 20, 17, 30))
        set_plan(s, "plant-6205", "6205", next_week(shanghai(2026, 11, 20).date()), 20,
                 shanghai(2026, 11, 20, 17, 30))  # fmt: skip
    assert remind(rt, 2026, 11, 20, 18, 5) == []


def test_next_months_plan_overdue_after_the_5th(rt: Runtime) -> None:
    with transaction(rt.engine) as s:
        record_count(s, "plant-6205", "6205", 60, shanghai(2026, 11, 6, 9))
    assert remind(rt, 2026, 11, 6, 9, 5) == ["plan_overdue"]
    [card] = [c for c in posted(rt) if "超过" in c]
    assert card == "下月的需求计划已超过约定日期 · plant-6205"
