"""Days of cover: on hand ÷ the average daily withdrawal of the last 30 days."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from vmi_rules.cover import Covered, by_cover, daily_withdrawal, days_of_cover
from vmi_rules.ledger import Movement

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 30, 18, 0, tzinfo=SH)


def test_the_seeds_month_of_85_withdrawn_over_30_days_covers_45_for_about_16_days() -> None:
    rows = [
        Movement("withdrawal", 40, NOW - timedelta(days=20)),
        Movement("withdrawal", 45, NOW - timedelta(days=5)),
        Movement("receipt", 55, NOW - timedelta(days=4)),
    ]
    per_day = daily_withdrawal(rows, NOW)
    assert per_day == 85 / 30
    cover = days_of_cover(45, per_day)
    assert cover is not None and round(cover, 1) == 15.9


def test_withdrawals_older_than_30_days_or_in_the_future_do_not_count() -> None:
    rows = [
        Movement("withdrawal", 90, NOW - timedelta(days=31)),
        Movement("withdrawal", 30, NOW - timedelta(days=1)),
        Movement("withdrawal", 500, NOW + timedelta(hours=1)),
    ]
    assert daily_withdrawal(rows, NOW) == 1.0


def test_no_withdrawals_has_no_cover_figure_and_nothing_on_hand_has_none_left() -> None:
    assert days_of_cover(45, 0.0) is None
    assert days_of_cover(0, 2.0) == 0.0
    assert days_of_cover(-3, 2.0) == 0.0


def test_shortest_cover_first_and_no_figure_last() -> None:
    lines = [
        Covered(("A2", "6206"), None),
        Covered(("A1", "6205"), 15.9),
        Covered(("A2", "6205"), 3.0),
        Covered(("A1", "6206"), 40.0),
    ]
    assert [c.key for c in by_cover(lines)] == [
        ("A2", "6205"),
        ("A1", "6205"),
        ("A1", "6206"),
        ("A2", "6206"),
    ]
