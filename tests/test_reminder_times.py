"""Reminders as configuration: `[agreements.reminders]` keys with today's values as defaults,
one line per bad value, the scheduler firing at the configured times, and the count reminder
naming the items not counted today."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.app.bootstrap import start
from bot.config import ConfigError, load_config
from bot.config.load import parse_config
from bot.runtime.context import Runtime
from bot.runtime.scheduler import reminder_trigger
from bot.services.reminders import post_reminders
from bot.storage.db import transaction
from bot.storage.stock import record_count
from bot.storage.tables import OutboxRow
from messages.cards import Card
from tests.support import EXAMPLE, shanghai
from vmi_rules.terms import ReminderTimes

CONSOLE = frozenset({"console"})
ITEM_6206 = (
    '\n[[agreements.items]]\nsku = "6206"\nname = "6206 深沟球轴承"\nmin = 20\nmax = 60\n'
    "unit_price = 15\n"
)
DEFAULTS = "[agreements.reminders]\ncount = true "  # the table, its first key


def with_reminders(keys: str, locale: str = "zh") -> str:
    """The example agreement with these `[agreements.reminders]` keys and a second item."""
    text = EXAMPLE.read_text(encoding="utf-8").replace('locale = "zh"', f'locale = "{locale}"')
    assert DEFAULTS in text  # the example documents the keys with their defaults
    start_at = text.index("[agreements.reminders]")
    end = text.index("# 物料 / Items")
    return text[:start_at] + f"[agreements.reminders]\n{keys}\n\n" + text[end:] + ITEM_6206


def runtime(tmp_path: Path, keys: str, locale: str = "zh") -> Runtime:
    path = tmp_path / f"{locale}.toml"
    path.write_text(with_reminders(keys, locale), encoding="utf-8")
    return start(str(path), f"sqlite:///{tmp_path / 'vmi.sqlite'}")


def test_the_defaults_are_the_times_the_bot_always_had() -> None:
    reminders = load_config(EXAMPLE).agreements[0].terms.reminders
    assert reminders == ReminderTimes()
    assert (reminders.count_at, reminders.weekly_plan_weekday, reminders.weekly_plan_at) == (
        time(10, 0), "fri", time(16, 0),
    )  # fmt: skip
    assert (reminders.monthly_plan_day, reminders.monthly_plan_at) == (1, time(9, 0))
    without = with_reminders("")  # an empty table, and no table at all: the same
    assert parse_config(without).agreements[0].terms.reminders == ReminderTimes()


def test_reminder_keys_are_read() -> None:
    keys = (
        'count_at = "17:00"\nweekly_plan_weekday = "thu"\nweekly_plan_at = "15:30"\n'
        "monthly_plan_day = 2\nunconfirmed_hours = 8\nnot_arrived = false"
    )
    reminders = parse_config(with_reminders(keys)).agreements[0].terms.reminders
    assert reminders == ReminderTimes(
        count_at=time(17, 0), weekly_plan_weekday="thu", weekly_plan_at=time(15, 30),
        monthly_plan_day=2, unconfirmed_hours=8, not_arrived=False,
    )  # fmt: skip


def test_bad_reminder_values_get_one_line_each() -> None:
    keys = (
        'count_at = "25:00"\nweekly_plan_weekday = "friday"\nmonthly_plan_day = 31\n'
        'count = "yes"\ncount_time = "10:00"'
    )
    with pytest.raises(ConfigError) as caught:
        parse_config(with_reminders(keys), "mine.toml")
    assert caught.value.problems == [
        'mine.toml: agreements[0].reminders.count_at: expected a time of day "HH:MM" such as '
        '"08:00", got string "25:00"',
        "mine.toml: agreements[0].reminders.weekly_plan_weekday: unknown weekly_plan_weekday "
        '"friday"; use mon, tue, wed, thu, fri, sat, sun',
        "mine.toml: agreements[0].reminders.monthly_plan_day: 31 is out of range; use 1 to 28 "
        "(a day of the month; 29-31 are not in every month)",
        'mine.toml: agreements[0].reminders.count: expected true or false, got string "yes"',
        "mine.toml: agreements[0].reminders.count_time: unknown key, did you mean 'count_at'?",
    ]


def test_the_scheduler_fires_at_the_configured_time() -> None:
    default = load_config(EXAMPLE).agreements[0]
    # hourly at :05 for nudges, and 10:00 for the count
    assert reminder_trigger(default).get_next_fire_time(None, shanghai(2026, 12, 1, 9, 30)) == (
        shanghai(2026, 12, 1, 10, 0)
    )
    later = parse_config(with_reminders('count_at = "16:40"')).agreements[0]
    assert reminder_trigger(later).get_next_fire_time(None, shanghai(2026, 12, 1, 16, 30)) == (
        shanghai(2026, 12, 1, 16, 40)
    )
    monday = parse_config(with_reminders('weekly_plan_weekday = "mon"\nweekly_plan_at = "11:20"'))
    trigger = reminder_trigger(monday.agreements[0])
    # Monday 2026-11-30, 11:06: the weekly plan at 11:20 comes before the hourly 12:05
    assert trigger.get_next_fire_time(None, shanghai(2026, 11, 30, 11, 6)) == (
        shanghai(2026, 11, 30, 11, 20)
    )
    off = parse_config(with_reminders('count = false\ncount_at = "16:40"')).agreements[0]
    assert reminder_trigger(off).get_next_fire_time(None, shanghai(2026, 12, 1, 16, 30)) == (
        shanghai(2026, 12, 1, 17, 5)
    )


def remind(rt: Runtime, *at: int) -> list[Card]:
    with transaction(rt.engine) as s:
        before = s.scalar(select(OutboxRow.id).order_by(OutboxRow.id.desc()).limit(1)) or 0
        post_reminders(s, rt.config, shanghai(*at), platforms=CONSOLE)
    with transaction(rt.engine) as s:
        rows = s.scalars(select(OutboxRow.card).where(OutboxRow.id > before))
        return [Card.from_json(card) for card in rows]


@pytest.mark.parametrize(
    ("locale", "named"), [("zh", "今天还没盘点：6206"), ("en", "Not counted today: 6206")]
)
def test_the_count_reminder_names_the_items_not_counted_today(
    tmp_path: Path, locale: str, named: str
) -> None:
    only_count = 'count_at = "17:00"\nmonthly_plan = false\nplan_overdue = false'
    rt = runtime(tmp_path, only_count, locale)
    with transaction(rt.engine) as s:
        record_count(s, "plant-6205", "6205", 45, shanghai(2026, 12, 1, 9))
        record_count(s, "plant-6205", "6206", 30, shanghai(2026, 11, 30, 9))
    assert remind(rt, 2026, 12, 1, 10, 5) == []  # the default 10:00 is not the agreed time
    [card] = remind(rt, 2026, 12, 1, 17, 5)
    assert named in card.lines
    assert remind(rt, 2026, 12, 1, 18, 5) == []  # once per day
    with transaction(rt.engine) as s:
        record_count(s, "plant-6205", "6206", 28, shanghai(2026, 12, 2, 8))
        record_count(s, "plant-6205", "6205", 40, shanghai(2026, 12, 2, 8))
    assert remind(rt, 2026, 12, 2, 17, 5) == []  # everything counted


def test_a_reminder_switched_off_is_not_posted(tmp_path: Path) -> None:
    rt = runtime(tmp_path, "count = false\nweekly_plan = false\nplan_overdue = false")
    # Friday 2026-12-04 at 16:05, nothing counted and no plan: neither reminder
    assert remind(rt, 2026, 12, 4, 16, 5) == []
